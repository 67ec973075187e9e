"""How events change an order's status: the rules both stores implement, in plain Python.

Per event (``docs/marketdata.md`` has the table):

* ``ACCEPTED``, ``AMENDED``, ``CANCELED``: the order's record is **replaced** by the event's
  fields (order id, pair, account, side, type, tif, status, reason, price, quantity, filled,
  leaves).
* ``TRADE``: two **fills**. The taker (``order_id``) and the maker (``maker_order_id``) each
  get their new ``quantity``, ``filled_qty``, ``leaves_qty`` and status; the other fields are
  kept. The event's ``price`` is the execution price, which is the maker's limit price but not
  the taker's, so a fill of an order the store has never seen creates it with the fields the
  event has, and ``price`` is the trade price for a maker, 0 (unknown) for a taker.
* ``REJECTED``: recorded only if the store has no record for that ``order_id`` (> 0). A
  rejected cancel or amend, or a duplicate id, names an existing order and must not change it.
* ``MASS_CANCELED`` and ``PAIR_STATUS`` change no order (the cancels come as ``CANCELED``).

``seq`` and ``timestamp_ns`` are the event's. :func:`fold_orders` is the oracle of the tests;
the Redis store composes the same updates in compiled code (``marketdata/redis_fold.py``) for
its Lua script; the shared-memory store compiles the same rules (``marketdata/shm_kernels.py``).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Iterable, Iterator

from ringex.marketdata.interface import OrderState
from ringex.records import EventKind, OrderStatus, Reason, Side

__all__ = ["UpdateMode", "order_updates", "fold_orders", "apply_update"]


class UpdateMode(enum.IntEnum):
    REPLACE = 1  # overwrite every field
    FILL = 2  # quantity, filled, leaves, status, reason, seq, timestamp; create if absent
    IF_ABSENT = 3  # create only


def order_updates(event) -> Iterator[tuple[UpdateMode, OrderState]]:
    """The order changes one event makes, in order (a TRADE gives the taker, then the maker)."""
    kind = int(event["kind"])
    if kind in (EventKind.ACCEPTED, EventKind.AMENDED, EventKind.CANCELED):
        yield UpdateMode.REPLACE, _state(event)
    elif kind == EventKind.REJECTED:
        if int(event["order_id"]) > 0:
            yield UpdateMode.IF_ABSENT, _state(event)
    elif kind == EventKind.TRADE:
        yield UpdateMode.FILL, dataclasses.replace(_state(event), price=0)
        maker_leaves = int(event["maker_leaves_qty"])
        yield UpdateMode.FILL, OrderState(
            order_id=int(event["maker_order_id"]),
            pair_id=int(event["pair_id"]),
            account=int(event["maker_account"]),
            client_order_id=0,
            side=Side.SELL if int(event["side"]) == Side.BUY else Side.BUY,
            order_type=1,  # only a LIMIT order rests
            tif=1,  # GTC
            status=OrderStatus.FILLED if maker_leaves == 0 else OrderStatus.PARTIALLY_FILLED,
            reason=Reason.NONE,
            price=int(event["price"]),
            quantity=int(event["maker_quantity"]),
            filled_qty=int(event["maker_filled_qty"]),
            leaves_qty=maker_leaves,
            seq=int(event["seq"]),
            timestamp_ns=int(event["timestamp_ns"]),
        )


def apply_update(current: OrderState | None, mode: UpdateMode,
                 update: OrderState) -> OrderState | None:
    """The record after ``update``; None means "leave it as it is"."""
    if current is not None and current.seq >= update.seq:
        return None
    if mode == UpdateMode.REPLACE or current is None:
        return update
    if mode == UpdateMode.IF_ABSENT:
        return None
    return dataclasses.replace(
        current,
        quantity=update.quantity,
        filled_qty=update.filled_qty,
        leaves_qty=update.leaves_qty,
        status=update.status,
        reason=update.reason,
        seq=update.seq,
        timestamp_ns=update.timestamp_ns,
    )


def fold_orders(events: Iterable) -> dict[int, OrderState]:
    """``{order_id: OrderState}`` after every event, in ``seq`` order (no eviction)."""
    orders: dict[int, OrderState] = {}
    for event in events:
        for mode, update in order_updates(event):
            new = apply_update(orders.get(update.order_id), mode, update)
            if new is not None:
                orders[update.order_id] = new
    return orders


def _state(event) -> OrderState:
    return OrderState(
        order_id=int(event["order_id"]),
        pair_id=int(event["pair_id"]),
        account=int(event["account"]),
        client_order_id=int(event["client_order_id"]),
        side=_side(int(event["side"])),
        order_type=int(event["order_type"]),
        tif=int(event["tif"]),
        status=OrderStatus(int(event["order_status"])),
        reason=_reason(int(event["reason"])),
        price=int(event["price"]),
        quantity=int(event["quantity"]),
        filled_qty=int(event["filled_qty"]),
        leaves_qty=int(event["leaves_qty"]),
        seq=int(event["seq"]),
        timestamp_ns=int(event["timestamp_ns"]),
    )


def _side(value: int):
    try:
        return Side(value)
    except ValueError:
        return value  # a rejected command may carry an invalid side


def _reason(value: int):
    try:
        return Reason(value)
    except ValueError:
        return value
