"""The original JSON event encoders, kept as the specification of every byte.

Why it exists: :mod:`ringex.wire.json_events` encodes with a compiled kernel; this module is
the plain-Python encoder it replaced, one f-string per message. Tests (Hypothesis) and
``perf/bench_wire.py`` compare the two byte for byte, so this file is the readable statement
of the ``trades`` and ``order-events`` formats (``docs/wire-format.md`` documents them with
examples). Not on any hot path. Pure functions.

Shapes, nulls and the ASCII-only rule are described in :mod:`ringex.wire.json_events`.
"""

from __future__ import annotations

import weakref

import numpy as np

from ringex.pairs import PairRegistry
from ringex.records import (
    EVENT_DTYPE,
    EventKind,
    OrderFlag,
    OrderStatus,
    OrderType,
    PairStatus,
    Reason,
    Side,
    TimeInForce,
)
from ringex.wire.units import registry_units

__all__ = ["trades_to_json_reference", "events_to_json_reference"]


def _names(enum_type) -> dict[int, str]:
    return {int(member): f'"{member.name}"' for member in enum_type}


_KIND = _names(EventKind)
_REASON = _names(Reason)
_SIDE = _names(Side)
_TYPE = _names(OrderType)
_TIF = _names(TimeInForce)
_ORDER_STATUS = _names(OrderStatus)
_PAIR_STATUS = _names(PairStatus)
_OTHER_SIDE = {int(Side.BUY): '"SELL"', int(Side.SELL): '"BUY"'}
_POST_ONLY = int(OrderFlag.POST_ONLY)
_TRADE = int(EventKind.TRADE)
_PAIR_STATUS_KIND = int(EventKind.PAIR_STATUS)
_MASS_CANCELED = int(EventKind.MASS_CANCELED)


class _Formats:
    """Per pair id: the JSON name and the quoted price / quantity formatters."""

    def __init__(self, registry: PairRegistry):
        self.by_id = {
            units.pair.pair_id: (f'"{units.pair.name}"', _quoted(units.price.format),
                                 _quoted(units.quantity.format))
            for units in registry_units(registry).by_id
        }

    def get(self, pair_id: int):
        return self.by_id.get(pair_id) or ("null", _null, _null)


_FORMATS: "weakref.WeakKeyDictionary[PairRegistry, _Formats]" = weakref.WeakKeyDictionary()


def _formats(registry: PairRegistry) -> _Formats:
    formats = _FORMATS.get(registry)
    if formats is None:
        formats = _FORMATS[registry] = _Formats(registry)
    return formats


def _quoted(format_units):
    return lambda units: f'"{format_units(units)}"'


def _null(units: int) -> str:
    return "null"


def _columns(events: np.ndarray, names: tuple[str, ...]):
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        raise TypeError("expected EVENT_DTYPE records")
    events = events.reshape(-1)
    return zip(*(events[name].tolist() for name in names))


_TRADE_FIELDS = ("seq", "command_index", "timestamp_ns", "pair_id", "side", "order_id",
                 "account", "price", "trade_qty", "leaves_qty", "maker_order_id",
                 "maker_account", "maker_leaves_qty", "kind")


def trades_to_json_reference(events: np.ndarray, registry: PairRegistry) -> list[bytes]:
    """One ``trades`` message per event; every event must be a TRADE (``ValueError``)."""
    formats = _formats(registry)
    out = []
    for (seq, command_index, timestamp_ns, pair_id, side, taker, taker_account, price, qty,
         taker_leaves, maker, maker_account, maker_leaves, kind) in _columns(events, _TRADE_FIELDS):
        if kind != _TRADE:
            raise ValueError(f"event seq {seq} is not a TRADE")
        name, fmt_price, fmt_qty = formats.get(pair_id)
        amount = fmt_qty(qty)
        out.append((
            f'{{"maker_order_id":{maker},"taker_order_id":{taker},"price":{fmt_price(price)},'
            f'"amount":{amount},"pair":{name},"timestamp":{timestamp_ns // 1_000_000},'
            f'"quantity":{amount},"seq":{seq},"taker_side":{_SIDE.get(side, "null")},'
            f'"maker_side":{_OTHER_SIDE.get(side, "null")},"maker_account":{maker_account},'
            f'"taker_account":{taker_account},"maker_leaves":{fmt_qty(maker_leaves)},'
            f'"taker_leaves":{fmt_qty(taker_leaves)},"command_index":{command_index}}}'
        ).encode("ascii"))
    return out


_EVENT_FIELDS = ("seq", "kind", "reason", "command_index", "timestamp_ns", "pair_id",
                 "order_id", "client_order_id", "account", "side", "order_type", "tif", "flags",
                 "order_status", "price", "quantity", "filled_qty", "leaves_qty", "trade_qty",
                 "maker_order_id", "maker_account", "maker_quantity", "maker_filled_qty",
                 "maker_leaves_qty", "pair_status")


def events_to_json_reference(events: np.ndarray, registry: PairRegistry) -> list[bytes]:
    """One ``order-events`` message per event, in order."""
    formats = _formats(registry)
    out = []
    for (seq, kind, reason, command_index, timestamp_ns, pair_id, order_id, client_order_id,
         account, side, order_type, tif, flags, order_status, price, quantity, filled, leaves,
         trade_qty, maker_order_id, maker_account, maker_quantity, maker_filled, maker_leaves,
         pair_status) in _columns(events, _EVENT_FIELDS):
        name, fmt_price, fmt_qty = formats.get(pair_id)
        head = (
            f'{{"seq":{seq},"kind":{_KIND.get(kind, "null")},'
            f'"reason":{_REASON.get(reason, "null")},"command_index":{command_index},'
            f'"timestamp":{timestamp_ns // 1_000_000},"timestamp_ns":{timestamp_ns},'
            f'"pair":{name},"pair_id":{pair_id}'
        )
        if kind == _PAIR_STATUS_KIND:
            text = f'{head},"pair_status":{_PAIR_STATUS.get(pair_status, "null")}}}'
        elif kind == _MASS_CANCELED:
            text = f'{head},"account":{account},"canceled_count":{trade_qty}}}'
        else:
            text = (
                f'{head},"order_id":{order_id},"client_order_id":{client_order_id},'
                f'"account":{account},"side":{_SIDE.get(side, "null")},'
                f'"order_type":{_TYPE.get(order_type, "null")},"tif":{_TIF.get(tif, "null")},'
                f'"post_only":{"true" if flags & _POST_ONLY else "false"},'
                f'"order_status":{_ORDER_STATUS.get(order_status, "null")},'
                f'"price":{fmt_price(price)},"quantity":{fmt_qty(quantity)},'
                f'"filled_qty":{fmt_qty(filled)},"leaves_qty":{fmt_qty(leaves)}'
            )
            if kind == _TRADE:
                text += (
                    f',"trade_qty":{fmt_qty(trade_qty)},"maker_order_id":{maker_order_id},'
                    f'"maker_account":{maker_account},'
                    f'"maker_side":{_OTHER_SIDE.get(side, "null")},'
                    f'"maker_quantity":{fmt_qty(maker_quantity)},'
                    f'"maker_filled_qty":{fmt_qty(maker_filled)},'
                    f'"maker_leaves_qty":{fmt_qty(maker_leaves)}}}'
                )
            else:
                text += "}"
        out.append(text.encode("ascii"))
    return out

