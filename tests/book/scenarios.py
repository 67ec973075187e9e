"""Golden scenarios: docs/matching.md as tables of commands and the events they must produce.

A scenario is a list of steps, each one command and the events it causes (only the fields that
matter are listed; ``tests/book/test_scenarios.py`` checks the rest generically: sequence
numbers, command indexes, unused fields 0, ``quantity == filled + leaves``), then the expected
book. Every matcher (the reference and the compiled one) must pass every scenario.

Default pair 0 (and pair 1 where two are needed): band [10, 1000] ticks, quantity [1, 1000] lots.
The client-order-id window is 1,000,000 keys (the engine's default) unless a scenario says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ringex.commands import amend, cancel, cancel_all, command, new, set_status
from ringex.pairs import Pair
from ringex.records import (
    ALL_PAIRS,
    EventKind,
    OrderStatus,
    OrderType,
    PairStatus,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
A, B, C = 11, 22, 33  # accounts

BAND = (10, 1000)
MAX_QTY = 1000


def pairs(n: int) -> list[Pair]:
    return [Pair.for_ticks(i, band=BAND, min_qty_lots=1, max_qty_lots=MAX_QTY) for i in range(n)]


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[tuple[np.ndarray, list[dict]]]
    book: dict[int, tuple[list, list]]  # pair_id -> depth(pair_id): (bids, asks)
    n_pairs: int = 1
    capacity: int = 1 << 20
    orders: dict[int, dict | None] = field(default_factory=dict)  # order_id -> fields or None
    client_id_window: int = 1_000_000


# ---------------------------------------------------------------- expected events


def ev(kind: str, **fields) -> dict:
    return {"kind": EventKind[kind], **fields}


def accepted(order_id: int, **fields) -> dict:
    return ev("ACCEPTED", **{"order_id": order_id, "order_status": OrderStatus.NEW,
                             "filled_qty": 0, "reason": Reason.NONE, **fields})


def rejected(reason: Reason, **fields) -> dict:
    return ev("REJECTED", **{"reason": reason, "order_status": OrderStatus.REJECTED,
                             "filled_qty": 0, **fields})


def trade(taker: int, maker: int, price: int, qty: int, *, leaves: int, maker_leaves: int,
          **fields) -> dict:
    status = OrderStatus.FILLED if leaves == 0 else OrderStatus.PARTIALLY_FILLED
    return ev("TRADE", order_id=taker, maker_order_id=maker, price=price, trade_qty=qty,
              leaves_qty=leaves, maker_leaves_qty=maker_leaves, order_status=status,
              reason=Reason.NONE, **fields)


def canceled(order_id: int, reason: Reason, *, leaves: int, **fields) -> dict:
    return ev("CANCELED", order_id=order_id, reason=reason, leaves_qty=leaves,
              order_status=OrderStatus.CANCELED, **fields)


def amended(order_id: int, reason: Reason = Reason.NONE, **fields) -> dict:
    return ev("AMENDED", order_id=order_id, reason=reason, **fields)


def pair_status(pair_id: int, status: PairStatus) -> dict:
    return ev("PAIR_STATUS", pair_id=pair_id, pair_status=status)


def mass_canceled(account: int, count: int, pair_id: int = ALL_PAIRS) -> dict:
    return ev("MASS_CANCELED", account=account, trade_qty=count, pair_id=pair_id)


def rests(order_id: int, account: int, side: int, price: int, qty: int, **kw):
    """A step placing a GTC LIMIT order that only rests."""
    return (new(order_id, account, side, price, qty, **kw), [accepted(order_id, leaves_qty=qty)])


EMPTY = ([], [])

# ---------------------------------------------------------------- the table

SCENARIOS: list[Scenario] = [
    Scenario(
        "simple cross: equal size fills both completely",
        steps=[
            rests(1, A, SELL, 100, 5),
            (new(2, B, BUY, 100, 5, ts=7), [
                accepted(2, side=BUY, price=100, quantity=5, leaves_qty=5, timestamp_ns=7),
                trade(2, 1, 100, 5, leaves=0, maker_leaves=0, account=B, maker_account=A,
                      quantity=5, filled_qty=5, maker_quantity=5, maker_filled_qty=5,
                      side=BUY, timestamp_ns=7),
            ]),
        ],
        book={0: EMPTY},
        orders={1: None, 2: None},
    ),
    Scenario(
        "a cross executes at the maker's price",
        steps=[
            rests(1, A, SELL, 100, 5),
            (new(2, B, BUY, 105, 3), [accepted(2),
                                      trade(2, 1, 100, 3, leaves=0, maker_leaves=2)]),
        ],
        book={0: ([], [(100, 2, 1)])},
        orders={1: {"leaves_qty": 2, "filled_qty": 3, "quantity": 5, "price": 100}},
    ),
    Scenario(
        "partial fills across levels, remainder rests at its limit",
        steps=[
            rests(1, A, SELL, 100, 2),
            rests(2, A, SELL, 101, 3),
            rests(3, A, SELL, 102, 4),
            (new(4, B, BUY, 101, 6), [
                accepted(4),
                trade(4, 1, 100, 2, leaves=4, maker_leaves=0, filled_qty=2),
                trade(4, 2, 101, 3, leaves=1, maker_leaves=0, filled_qty=5),
            ]),
        ],
        book={0: ([(101, 1, 1)], [(102, 4, 1)])},
        orders={4: {"quantity": 6, "filled_qty": 5, "leaves_qty": 1, "price": 101}},
    ),
    Scenario(
        "price-time priority: best price first, then arrival order",
        steps=[
            rests(1, A, SELL, 100, 2),
            rests(2, C, SELL, 100, 2),
            rests(3, A, SELL, 99, 1),
            (new(4, B, BUY, 100, 4), [
                accepted(4),
                trade(4, 3, 99, 1, leaves=3, maker_leaves=0),
                trade(4, 1, 100, 2, leaves=1, maker_leaves=0),
                trade(4, 2, 100, 1, leaves=0, maker_leaves=1, maker_account=C),
            ]),
            rests(5, B, BUY, 98, 1),
            rests(6, C, BUY, 98, 2),
            (new(7, A, SELL, 98, 2), [
                accepted(7),
                trade(7, 5, 98, 1, leaves=1, maker_leaves=0),
                trade(7, 6, 98, 1, leaves=0, maker_leaves=1),
            ]),
        ],
        book={0: ([(98, 1, 1)], [(100, 1, 1)])},
    ),
    Scenario(
        "market order sweeps levels; price 0 on its own events",
        steps=[
            rests(1, A, SELL, 100, 2),
            rests(2, A, SELL, 900, 3),
            (new(3, B, BUY, 0, 4, type=MARKET, tif=IOC), [
                accepted(3, price=0, order_type=MARKET, tif=IOC),
                trade(3, 1, 100, 2, leaves=2, maker_leaves=0),
                trade(3, 2, 900, 2, leaves=0, maker_leaves=1),
            ]),
        ],
        book={0: ([], [(900, 1, 1)])},
    ),
    Scenario(
        "market order without enough liquidity: the rest is canceled, it never rests",
        steps=[
            (new(1, B, BUY, 0, 5, type=MARKET, tif=IOC), [
                accepted(1),
                canceled(1, Reason.NO_LIQUIDITY, leaves=5, filled_qty=0, quantity=5, price=0),
            ]),
            rests(2, A, BUY, 100, 2),
            (new(3, C, SELL, 0, 5, type=MARKET, tif=FOK), [
                accepted(3),
                canceled(3, Reason.FOK_UNFILLED, leaves=5, filled_qty=0),
            ]),
            (new(4, C, SELL, 0, 5, type=MARKET, tif=IOC), [
                accepted(4),
                trade(4, 2, 100, 2, leaves=3, maker_leaves=0),
                canceled(4, Reason.NO_LIQUIDITY, leaves=3, filled_qty=2, quantity=5),
            ]),
        ],
        book={0: EMPTY},
    ),
    Scenario(
        "IOC: fills what crosses, cancels the remainder",
        steps=[
            rests(1, A, SELL, 100, 2),
            rests(2, A, SELL, 102, 2),
            (new(3, B, BUY, 101, 5, tif=IOC), [
                accepted(3, tif=IOC),
                trade(3, 1, 100, 2, leaves=3, maker_leaves=0),
                canceled(3, Reason.IOC_REMAINDER, leaves=3, filled_qty=2, tif=IOC),
            ]),
            (new(4, B, BUY, 101, 5, tif=IOC), [
                accepted(4),
                canceled(4, Reason.IOC_REMAINDER, leaves=5, filled_qty=0),
            ]),
        ],
        book={0: ([], [(102, 2, 1)])},
    ),
    Scenario(
        "FOK fills completely across levels",
        steps=[
            rests(1, A, SELL, 100, 2),
            rests(2, C, SELL, 101, 3),
            (new(3, B, BUY, 101, 5, tif=FOK), [
                accepted(3, tif=FOK),
                trade(3, 1, 100, 2, leaves=3, maker_leaves=0),
                trade(3, 2, 101, 3, leaves=0, maker_leaves=0),
            ]),
        ],
        book={0: EMPTY},
    ),
    Scenario(
        "FOK kill leaves the book untouched",
        steps=[
            rests(1, A, SELL, 100, 2),
            rests(2, C, SELL, 101, 3),
            (new(3, B, BUY, 100, 3, tif=FOK), [
                accepted(3),
                canceled(3, Reason.FOK_UNFILLED, leaves=3, filled_qty=0, quantity=3),
            ]),
            (new(4, B, BUY, 101, 6, tif=FOK), [
                accepted(4),
                canceled(4, Reason.FOK_UNFILLED, leaves=6, filled_qty=0),
            ]),
        ],
        book={0: ([], [(100, 2, 1), (101, 3, 1)])},
    ),
    Scenario(
        "FOK pre-check with STP: EXPIRE_TAKER ends the walk at the own maker",
        steps=[
            rests(1, C, SELL, 100, 2),
            rests(2, A, SELL, 100, 5),
            rests(3, C, SELL, 101, 5),
            (new(4, A, BUY, 101, 4, tif=FOK, stp=StpMode.EXPIRE_TAKER), [
                accepted(4),
                canceled(4, Reason.FOK_UNFILLED, leaves=4),
            ]),
            (new(5, A, BUY, 101, 4, tif=FOK, stp=StpMode.DECREMENT), [
                accepted(5),
                canceled(5, Reason.FOK_UNFILLED, leaves=4),
            ]),
            (new(6, A, BUY, 101, 2, tif=FOK, stp=StpMode.EXPIRE_BOTH), [
                accepted(6),
                trade(6, 1, 100, 2, leaves=0, maker_leaves=0),
            ]),
        ],
        book={0: ([], [(100, 5, 1), (101, 5, 1)])},
    ),
    Scenario(
        "FOK pre-check with STP EXPIRE_MAKER skips own makers, which then expire",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, C, SELL, 101, 3),
            (new(3, A, BUY, 101, 4, tif=FOK, stp=StpMode.EXPIRE_MAKER), [
                accepted(3),
                canceled(3, Reason.FOK_UNFILLED, leaves=4),
            ]),
            (new(4, A, BUY, 101, 3, tif=FOK, stp=StpMode.EXPIRE_MAKER), [
                accepted(4),
                canceled(1, Reason.SELF_TRADE, leaves=5, account=A, side=SELL, price=100),
                trade(4, 2, 101, 3, leaves=0, maker_leaves=0),
            ]),
        ],
        book={0: EMPTY},
    ),
    Scenario(
        "post-only: rejected when it would take, rests otherwise",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, A, BUY, 90, 5),
            (new(3, B, BUY, 100, 1, post_only=True), [
                rejected(Reason.POST_ONLY_WOULD_TAKE, order_id=3, flags=1, leaves_qty=1),
            ]),
            (new(4, B, SELL, 90, 1, post_only=True), [
                rejected(Reason.POST_ONLY_WOULD_TAKE, order_id=4),
            ]),
            (new(5, B, BUY, 99, 1, post_only=True), [accepted(5, flags=1)]),
            (new(6, B, SELL, 99, 1, post_only=True), [rejected(Reason.POST_ONLY_WOULD_TAKE)]),
            (new(7, B, SELL, 100, 1, post_only=True), [accepted(7)]),
        ],
        book={0: ([(99, 1, 1), (90, 5, 1)], [(100, 6, 2)])},
    ),
    Scenario(
        "STP NONE: an account may trade with itself",
        steps=[
            rests(1, A, SELL, 100, 5),
            (new(2, A, BUY, 100, 3), [accepted(2),
                                      trade(2, 1, 100, 3, leaves=0, maker_leaves=2,
                                            account=A, maker_account=A)]),
        ],
        book={0: ([], [(100, 2, 1)])},
    ),
    Scenario(
        "STP EXPIRE_TAKER: the taker's remainder is canceled, after fills with others",
        steps=[
            rests(1, C, SELL, 100, 2),
            rests(2, A, SELL, 101, 5),
            rests(3, C, SELL, 101, 5),
            (new(4, A, BUY, 101, 5, stp=StpMode.EXPIRE_TAKER), [
                accepted(4),
                trade(4, 1, 100, 2, leaves=3, maker_leaves=0),
                canceled(4, Reason.SELF_TRADE, leaves=3, filled_qty=2, quantity=5),
            ]),
        ],
        book={0: ([], [(101, 10, 2)])},
    ),
    Scenario(
        "STP EXPIRE_MAKER: own makers are canceled, matching goes on",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, C, SELL, 100, 2),
            (new(3, A, BUY, 100, 3, stp=StpMode.EXPIRE_MAKER), [
                accepted(3),
                canceled(1, Reason.SELF_TRADE, leaves=5, quantity=5, filled_qty=0, account=A),
                trade(3, 2, 100, 2, leaves=1, maker_leaves=0),
            ]),
        ],
        book={0: ([(100, 1, 1)], [])},
        orders={1: None, 3: {"leaves_qty": 1, "filled_qty": 2}},
    ),
    Scenario(
        "STP EXPIRE_BOTH: the own maker and the taker are both canceled",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, C, SELL, 100, 2),
            (new(3, A, BUY, 100, 3, stp=StpMode.EXPIRE_BOTH), [
                accepted(3),
                canceled(1, Reason.SELF_TRADE, leaves=5),
                canceled(3, Reason.SELF_TRADE, leaves=3, filled_qty=0),
            ]),
        ],
        book={0: ([], [(100, 2, 1)])},
    ),
    Scenario(
        "STP DECREMENT, taker smaller: maker shrinks in place, taker is canceled",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, C, SELL, 100, 5),
            (new(3, A, BUY, 100, 2, stp=StpMode.DECREMENT), [
                accepted(3),
                amended(1, Reason.SELF_TRADE, quantity=3, leaves_qty=3, filled_qty=0,
                        order_status=OrderStatus.NEW),
                canceled(3, Reason.SELF_TRADE, leaves=0, quantity=0, filled_qty=0),
            ]),
            (new(4, B, BUY, 100, 4), [
                accepted(4),
                trade(4, 1, 100, 3, leaves=1, maker_leaves=0, maker_quantity=3),
                trade(4, 2, 100, 1, leaves=0, maker_leaves=4),
            ]),
        ],
        book={0: ([], [(100, 4, 1)])},
    ),
    Scenario(
        "STP DECREMENT, maker smaller: maker leaves, taker shrinks and keeps matching",
        steps=[
            rests(1, A, SELL, 100, 2),
            rests(2, C, SELL, 100, 4),
            (new(3, A, BUY, 100, 5, stp=StpMode.DECREMENT), [
                accepted(3),
                canceled(1, Reason.SELF_TRADE, leaves=0, quantity=0),
                amended(3, Reason.SELF_TRADE, quantity=3, leaves_qty=3, filled_qty=0,
                        order_status=OrderStatus.NEW),
                trade(3, 2, 100, 3, leaves=0, maker_leaves=1, quantity=3, filled_qty=3),
            ]),
        ],
        book={0: ([], [(100, 1, 1)])},
    ),
    Scenario(
        "STP DECREMENT of a partly filled maker: CANCELED keeps quantity == filled",
        steps=[
            rests(1, A, SELL, 100, 5),
            (new(2, B, BUY, 100, 2), [accepted(2), trade(2, 1, 100, 2, leaves=0, maker_leaves=3)]),
            (new(3, A, BUY, 100, 3, stp=StpMode.DECREMENT), [
                accepted(3),
                canceled(1, Reason.SELF_TRADE, leaves=0, quantity=2, filled_qty=2),
                canceled(3, Reason.SELF_TRADE, leaves=0, quantity=0),
            ]),
        ],
        book={0: EMPTY},
    ),
    Scenario(
        "HALTED: new, cancel, amend and single-pair cancel-all are rejected",
        n_pairs=2,
        steps=[
            rests(1, A, BUY, 100, 5),
            rests(2, A, BUY, 100, 5, pair=1),
            (set_status(0, PairStatus.HALTED), [pair_status(0, PairStatus.HALTED)]),
            (new(3, B, SELL, 100, 1), [rejected(Reason.PAIR_HALTED, order_id=3)]),
            (cancel(1, A), [rejected(Reason.PAIR_HALTED, order_id=1, account=A)]),
            (amend(1, A, 100, 2), [rejected(Reason.PAIR_HALTED)]),
            (cancel_all(A, pair=0), [rejected(Reason.PAIR_HALTED, pair_id=0)]),
            (cancel_all(A), [
                canceled(2, Reason.CANCEL_ALL, leaves=5, pair_id=1),
                mass_canceled(A, 1),
            ]),
        ],
        book={0: ([(100, 5, 1)], []), 1: EMPTY},
    ),
    Scenario(
        "CANCEL_ONLY: new and amend rejected, cancel and cancel-all work",
        steps=[
            rests(1, A, BUY, 100, 5),
            rests(2, A, BUY, 99, 5),
            rests(3, B, BUY, 98, 5),
            (set_status(0, PairStatus.CANCEL_ONLY), [pair_status(0, PairStatus.CANCEL_ONLY)]),
            (new(4, B, SELL, 100, 1), [rejected(Reason.PAIR_CANCEL_ONLY)]),
            (amend(1, A, 100, 2), [rejected(Reason.PAIR_CANCEL_ONLY)]),
            (cancel(1, A), [canceled(1, Reason.USER_CANCELED, leaves=5)]),
            (cancel_all(B, pair=0), [canceled(3, Reason.CANCEL_ALL, leaves=5),
                                     mass_canceled(B, 1, pair_id=0)]),
        ],
        book={0: ([(99, 5, 1)], [])},
    ),
    Scenario(
        "POST_ONLY status: only non-crossing GTC limits; crossing price amends rejected",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, C, BUY, 90, 5),
            (set_status(0, PairStatus.POST_ONLY), [pair_status(0, PairStatus.POST_ONLY)]),
            (new(3, B, BUY, 0, 1, type=MARKET, tif=IOC), [rejected(Reason.PAIR_POST_ONLY)]),
            (new(4, B, BUY, 95, 1, tif=IOC), [rejected(Reason.PAIR_POST_ONLY)]),
            (new(5, B, BUY, 100, 1), [rejected(Reason.POST_ONLY_WOULD_TAKE, flags=0)]),
            (new(6, B, BUY, 99, 1), [accepted(6, flags=0)]),
            (amend(2, C, 100, 5), [rejected(Reason.POST_ONLY_WOULD_TAKE)]),
            (amend(2, C, 95, 5), [amended(2, price=95, leaves_qty=5)]),
            (amend(2, C, 95, 7), [amended(2, price=95, quantity=7, leaves_qty=7)]),
            (set_status(0, PairStatus.TRADING), [pair_status(0, PairStatus.TRADING)]),
            (new(7, B, BUY, 100, 1), [accepted(7), trade(7, 1, 100, 1, leaves=0, maker_leaves=4)]),
        ],
        book={0: ([(99, 1, 1), (95, 7, 1)], [(100, 4, 1)])},
    ),
    Scenario(
        "post-only flag on an order: a crossing price amend is rejected, even when TRADING",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, B, BUY, 90, 5, post_only=True),
            (amend(2, B, 100, 5), [rejected(Reason.POST_ONLY_WOULD_TAKE, order_id=2)]),
            (amend(2, B, 90, 9), [amended(2, quantity=9, leaves_qty=9, flags=1)]),
        ],
        book={0: ([(90, 9, 1)], [(100, 5, 1)])},
    ),
    Scenario(
        "SET_STATUS rejections",
        steps=[
            (set_status(0, 0), [rejected(Reason.INVALID_STATUS, pair_id=0)]),
            (set_status(0, 5), [rejected(Reason.INVALID_STATUS)]),
            (set_status(1, PairStatus.HALTED), [rejected(Reason.UNKNOWN_PAIR, pair_id=1)]),
            (set_status(0, PairStatus.TRADING), [pair_status(0, PairStatus.TRADING)]),
        ],
        book={0: EMPTY},
    ),
    Scenario(
        "amend down keeps priority: the next fill hits the amended order first",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, C, SELL, 100, 5),
            (amend(1, A, 100, 3, ts=50), [
                amended(1, price=100, quantity=3, filled_qty=0, leaves_qty=3,
                        order_status=OrderStatus.NEW, timestamp_ns=50),
            ]),
            (new(3, B, BUY, 100, 4), [
                accepted(3),
                trade(3, 1, 100, 3, leaves=1, maker_leaves=0, maker_quantity=3),
                trade(3, 2, 100, 1, leaves=0, maker_leaves=4),
            ]),
        ],
        book={0: ([], [(100, 4, 1)])},
    ),
    Scenario(
        "amend of a partly filled order: quantity counts the filled part",
        steps=[
            rests(1, A, SELL, 100, 5),
            (new(2, B, BUY, 100, 2), [accepted(2), trade(2, 1, 100, 2, leaves=0, maker_leaves=3)]),
            (amend(1, A, 100, 2), [rejected(Reason.INVALID_QUANTITY, quantity=2)]),
            (amend(1, A, 100, 4), [
                amended(1, quantity=4, filled_qty=2, leaves_qty=2,
                        order_status=OrderStatus.PARTIALLY_FILLED),
            ]),
        ],
        book={0: ([], [(100, 2, 1)])},
        orders={1: {"quantity": 4, "filled_qty": 2, "leaves_qty": 2}},
    ),
    Scenario(
        "amend price loses priority (tail of the new level) and may trade",
        steps=[
            rests(1, A, SELL, 101, 5),
            rests(2, C, SELL, 100, 5),
            (amend(1, A, 100, 5), [amended(1, price=100, quantity=5, leaves_qty=5)]),
            (new(3, B, BUY, 100, 6), [
                accepted(3),
                trade(3, 2, 100, 5, leaves=1, maker_leaves=0),
                trade(3, 1, 100, 1, leaves=0, maker_leaves=4),
            ]),
            rests(4, B, BUY, 99, 2),
            (amend(4, B, 100, 6, ts=9), [
                amended(4, price=100, quantity=6, leaves_qty=6, timestamp_ns=9),
                trade(4, 1, 100, 4, leaves=2, maker_leaves=0, quantity=6, filled_qty=4,
                      timestamp_ns=9),
            ]),
        ],
        book={0: ([(100, 2, 1)], [])},
    ),
    Scenario(
        "amend increase at the same price loses priority",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, C, SELL, 100, 5),
            (amend(1, A, 100, 8), [amended(1, quantity=8, leaves_qty=8)]),
            (new(3, B, BUY, 100, 6), [
                accepted(3),
                trade(3, 2, 100, 5, leaves=1, maker_leaves=0),
                trade(3, 1, 100, 1, leaves=0, maker_leaves=7),
            ]),
        ],
        book={0: ([], [(100, 7, 1)])},
    ),
    Scenario(
        "amend that crosses with STP EXPIRE_TAKER is canceled off the book",
        steps=[
            rests(1, A, SELL, 100, 5),
            rests(2, A, BUY, 90, 5, stp=StpMode.EXPIRE_TAKER),
            (amend(2, A, 100, 5), [
                amended(2, price=100),
                canceled(2, Reason.SELF_TRADE, leaves=5, price=100),
            ]),
        ],
        book={0: ([], [(100, 5, 1)])},
        orders={2: None},
    ),
    Scenario(
        "amend rejections, in order",
        n_pairs=2,
        steps=[
            rests(1, A, BUY, 100, 5),
            rests(2, A, BUY, 100, 5, pair=1),
            (amend(1, A, 100, 5, pair=2), [rejected(Reason.UNKNOWN_PAIR, pair_id=2)]),
            (amend(9, A, 100, 5), [rejected(Reason.UNKNOWN_ORDER, order_id=9)]),
            (amend(2, A, 100, 6), [rejected(Reason.UNKNOWN_ORDER, order_id=2)]),
            (amend(1, B, 100, 6), [rejected(Reason.NOT_OWNER, account=B)]),
            (amend(1, A, 0, 0), [rejected(Reason.INVALID_PRICE, price=0, leaves_qty=0)]),
            (amend(1, A, 1001, 0), [rejected(Reason.PRICE_OUT_OF_BAND, price=1001)]),
            (amend(1, A, 100, 0), [rejected(Reason.INVALID_QUANTITY, quantity=0)]),
            (amend(1, A, 100, MAX_QTY + 1), [rejected(Reason.INVALID_QUANTITY)]),
            (amend(1, A, 100, 5), [rejected(Reason.NO_CHANGE)]),
        ],
        book={0: ([(100, 5, 1)], []), 1: ([(100, 5, 1)], [])},
    ),
    Scenario(
        "cancel: USER_CANCELED carries the order's fields and its open quantity",
        steps=[
            rests(1, A, SELL, 100, 5, client_order_id=77, stp=StpMode.EXPIRE_MAKER),
            (new(2, B, BUY, 100, 2), [accepted(2), trade(2, 1, 100, 2, leaves=0, maker_leaves=3)]),
            (cancel(1, A, ts=12), [
                canceled(1, Reason.USER_CANCELED, leaves=3, quantity=5, filled_qty=2, price=100,
                         side=SELL, account=A, client_order_id=77, order_type=LIMIT, tif=GTC,
                         timestamp_ns=12),
            ]),
            (cancel(1, A), [rejected(Reason.UNKNOWN_ORDER)]),
        ],
        book={0: EMPTY},
    ),
    Scenario(
        "cancel rejections: unknown pair, unknown order, other pair, not owner",
        n_pairs=2,
        steps=[
            rests(1, A, BUY, 100, 5),
            (cancel(1, A, pair=5), [rejected(Reason.UNKNOWN_PAIR, pair_id=5)]),
            (cancel(1, A, pair=-1), [rejected(Reason.UNKNOWN_PAIR, pair_id=-1)]),
            (cancel(2, A), [rejected(Reason.UNKNOWN_ORDER, order_id=2)]),
            (cancel(1, A, pair=1), [rejected(Reason.UNKNOWN_ORDER, order_id=1, pair_id=1)]),
            (cancel(1, B), [rejected(Reason.NOT_OWNER, account=B)]),
        ],
        book={0: ([(100, 5, 1)], []), 1: EMPTY},
        orders={1: {"account": A, "leaves_qty": 5}},
    ),
    Scenario(
        "cancel-all on one pair: ascending order_id, then the summary",
        n_pairs=2,
        steps=[
            rests(5, A, BUY, 100, 1),
            rests(2, A, SELL, 200, 2),
            rests(9, A, BUY, 99, 3),
            rests(3, A, BUY, 100, 4, pair=1),
            rests(4, C, BUY, 98, 5),
            (cancel_all(A, pair=0, ts=3), [
                canceled(2, Reason.CANCEL_ALL, leaves=2, timestamp_ns=3),
                canceled(5, Reason.CANCEL_ALL, leaves=1),
                canceled(9, Reason.CANCEL_ALL, leaves=3),
                mass_canceled(A, 3, pair_id=0) | {"timestamp_ns": 3, "order_id": 0},
            ]),
        ],
        book={0: ([(98, 5, 1)], []), 1: ([(100, 4, 1)], [])},
    ),
    Scenario(
        "cancel-all on all pairs: ascending order_id across pairs; rejections",
        n_pairs=2,
        steps=[
            rests(7, A, BUY, 100, 1, pair=1),
            rests(4, A, SELL, 200, 2),
            rests(3, A, BUY, 99, 3, pair=1),
            rests(8, B, BUY, 99, 3, pair=1),
            (cancel_all(A), [
                canceled(3, Reason.CANCEL_ALL, leaves=3, pair_id=1),
                canceled(4, Reason.CANCEL_ALL, leaves=2, pair_id=0),
                canceled(7, Reason.CANCEL_ALL, leaves=1, pair_id=1),
                mass_canceled(A, 3),
            ]),
            (cancel_all(A), [mass_canceled(A, 0)]),
            (cancel_all(0), [rejected(Reason.INVALID_ACCOUNT, account=0, pair_id=ALL_PAIRS)]),
            (cancel_all(A, pair=2), [rejected(Reason.UNKNOWN_PAIR, pair_id=2)]),
            (cancel_all(A, pair=-2), [rejected(Reason.UNKNOWN_PAIR, pair_id=-2)]),
        ],
        book={0: EMPTY, 1: ([(99, 3, 1)], [])},
    ),
    Scenario(
        "window 0: duplicate order id and client order id among live orders only",
        client_id_window=0,
        steps=[
            rests(1, A, BUY, 100, 5, client_order_id=77),
            (new(1, B, BUY, 90, 1), [rejected(Reason.DUPLICATE_ORDER_ID, order_id=1, account=B)]),
            (new(2, A, BUY, 90, 1, client_order_id=77),
             [rejected(Reason.DUPLICATE_CLIENT_ORDER_ID, client_order_id=77)]),
            rests(3, C, BUY, 90, 1, client_order_id=77),
            (cancel(1, A), [canceled(1, Reason.USER_CANCELED, leaves=5, client_order_id=77)]),
            rests(1, A, BUY, 95, 2, client_order_id=77),
        ],
        book={0: ([(95, 2, 1), (90, 1, 1)], [])},
        orders={1: {"price": 95, "client_order_id": 77, "account": A}},
    ),
    Scenario(
        "unknown pair on NEW",
        n_pairs=2,
        steps=[
            (new(1, A, BUY, 100, 1, pair=2), [rejected(Reason.UNKNOWN_PAIR, pair_id=2)]),
            (new(1, A, BUY, 100, 1, pair=-1), [rejected(Reason.UNKNOWN_PAIR, pair_id=-1)]),
            rests(1, A, BUY, 100, 1, pair=1),
        ],
        book={0: EMPTY, 1: ([(100, 1, 1)], [])},
    ),
    Scenario(
        "price band is inclusive and never clamps",
        steps=[
            (new(1, A, BUY, 9, 1), [rejected(Reason.PRICE_OUT_OF_BAND, price=9)]),
            (new(2, A, SELL, 1001, 1), [rejected(Reason.PRICE_OUT_OF_BAND, price=1001)]),
            (new(3, A, BUY, 0, 1), [rejected(Reason.INVALID_PRICE)]),
            (new(4, A, BUY, -5, 1), [rejected(Reason.INVALID_PRICE, price=-5)]),
            (new(5, A, BUY, 5, 1, type=MARKET, tif=IOC), [rejected(Reason.INVALID_PRICE)]),
            rests(6, A, BUY, 10, 1),
            rests(7, A, SELL, 1000, 1),
        ],
        book={0: ([(10, 1, 1)], [(1000, 1, 1)])},
    ),
    Scenario(
        "BOOK_FULL: a GTC limit is refused when live orders == capacity; IOC still trades",
        capacity=2,
        steps=[
            rests(1, A, SELL, 100, 1),
            rests(2, A, SELL, 101, 1),
            (new(3, B, BUY, 90, 1), [rejected(Reason.BOOK_FULL, order_id=3)]),
            (new(4, B, BUY, 100, 1), [rejected(Reason.BOOK_FULL, order_id=4)]),
            (new(5, B, BUY, 100, 1, tif=IOC), [accepted(5),
                                                trade(5, 1, 100, 1, leaves=0, maker_leaves=0)]),
            rests(6, B, BUY, 90, 1),
            (new(7, B, BUY, 0, 1, type=MARKET, tif=FOK), [accepted(7),
                                                          trade(7, 2, 101, 1, leaves=0,
                                                                maker_leaves=0)]),
        ],
        book={0: ([(90, 1, 1)], [])},
    ),
    Scenario(
        "invalid enums and fields: one REJECTED each, nothing else changes",
        steps=[
            (command(kind=0, order_id=1, account=A), [rejected(Reason.INVALID_COMMAND, order_id=1)]),
            (command(kind=9, pair_id=0), [rejected(Reason.INVALID_COMMAND)]),
            # an edge's stand-in names its reason in status; no rejection reason there: INVALID
            (command(kind=0, order_id=2, account=A, client_order_id=7,
                     status=Reason.PRICE_OUT_OF_BAND),
             [rejected(Reason.PRICE_OUT_OF_BAND, order_id=2, client_order_id=7)]),
            (command(kind=0, order_id=3, account=A, status=Reason.USER_CANCELED),
             [rejected(Reason.INVALID_COMMAND, order_id=3)]),
            (new(0, A, BUY, 100, 1), [rejected(Reason.INVALID_ORDER_ID, order_id=0)]),
            (new(-3, 0, BUY, 100, 1), [rejected(Reason.INVALID_ORDER_ID, order_id=-3)]),
            (new(1, 0, BUY, 100, 1), [rejected(Reason.INVALID_ACCOUNT, account=0)]),
            (new(1, A, 0, 100, 1), [rejected(Reason.INVALID_SIDE, side=0)]),
            (new(1, A, 3, 100, 1, type=7), [rejected(Reason.INVALID_SIDE, side=3, order_type=7)]),
            (new(1, A, BUY, 100, 1, type=3), [rejected(Reason.INVALID_TYPE, order_type=3)]),
            (new(1, A, BUY, 100, 1, tif=0), [rejected(Reason.INVALID_TIF, tif=0)]),
            (new(1, A, BUY, 100, 1, tif=4), [rejected(Reason.INVALID_TIF)]),
            (new(1, A, BUY, 0, 1, type=MARKET), [rejected(Reason.INVALID_TIF, tif=GTC)]),
            (new(1, A, BUY, 100, 1, flags=2), [rejected(Reason.INVALID_FLAGS, flags=2)]),
            (new(1, A, BUY, 100, 1, flags=3), [rejected(Reason.INVALID_FLAGS, flags=3)]),
            (new(1, A, BUY, 100, 1, tif=IOC, post_only=True), [rejected(Reason.INVALID_FLAGS)]),
            (new(1, A, BUY, 0, 1, type=MARKET, tif=IOC, post_only=True),
             [rejected(Reason.INVALID_FLAGS)]),
            (new(1, A, BUY, 100, 1, stp=5), [rejected(Reason.INVALID_STP)]),
            (new(1, A, BUY, 100, 0), [rejected(Reason.INVALID_QUANTITY, quantity=0, leaves_qty=0)]),
            (new(1, A, BUY, 100, MAX_QTY + 1), [rejected(Reason.INVALID_QUANTITY)]),
            (new(1, A, BUY, 100, -1), [rejected(Reason.INVALID_QUANTITY, leaves_qty=-1)]),
        ],
        book={0: EMPTY},
    ),
    Scenario(
        "validation order: the first failing check wins",
        steps=[
            rests(1, A, SELL, 100, 5, client_order_id=5),
            (set_status(0, PairStatus.HALTED), [pair_status(0, PairStatus.HALTED)]),
            (new(0, 0, 9, 0, 0, type=9, tif=9, flags=9, stp=9), [rejected(Reason.PAIR_HALTED)]),
            (set_status(0, PairStatus.POST_ONLY), [pair_status(0, PairStatus.POST_ONLY)]),
            (new(0, 0, 9, 0, 0), [rejected(Reason.INVALID_ORDER_ID)]),
            (new(2, A, 9, 0, 0, type=9), [rejected(Reason.INVALID_SIDE)]),
            (new(2, A, BUY, 0, 0, type=9, tif=9), [rejected(Reason.INVALID_TYPE)]),
            (new(2, A, BUY, 0, 0, type=MARKET, flags=9), [rejected(Reason.INVALID_TIF)]),
            (new(2, A, BUY, 0, 0, type=MARKET, tif=IOC, stp=9, flags=1),
             [rejected(Reason.INVALID_FLAGS)]),
            (new(2, A, BUY, 0, 0, stp=9), [rejected(Reason.INVALID_STP)]),
            (new(2, A, BUY, 2000, 0), [rejected(Reason.PRICE_OUT_OF_BAND)]),
            (new(2, A, BUY, 0, 0, type=MARKET, tif=IOC), [rejected(Reason.INVALID_QUANTITY)]),
            (new(1, A, BUY, 100, 1, tif=IOC, client_order_id=5), [rejected(Reason.PAIR_POST_ONLY)]),
            (new(1, A, BUY, 100, 1, client_order_id=5), [rejected(Reason.DUPLICATE_ORDER_ID)]),
            (new(2, A, BUY, 100, 1, client_order_id=5),
             [rejected(Reason.DUPLICATE_CLIENT_ORDER_ID)]),
            (new(2, A, BUY, 100, 1, client_order_id=6), [rejected(Reason.POST_ONLY_WOULD_TAKE)]),
        ],
        book={0: ([], [(100, 5, 1)])},
    ),
    Scenario(
        "BOOK_FULL is the last check: a crossing post-only order is refused for crossing",
        capacity=1,
        steps=[
            rests(1, A, SELL, 100, 5),
            (new(2, B, BUY, 100, 1, post_only=True), [rejected(Reason.POST_ONLY_WOULD_TAKE)]),
            (new(2, B, BUY, 99, 1, post_only=True), [rejected(Reason.BOOK_FULL)]),
        ],
        book={0: ([], [(100, 5, 1)])},
    ),
    Scenario(
        "cancel and amend by client_order_id when order_id is 0, scoped to the account",
        steps=[
            (new(1, A, SELL, 100, 5, client_order_id=77), [accepted(1, client_order_id=77)]),
            (new(2, B, SELL, 101, 5, client_order_id=77), [accepted(2, client_order_id=77)]),
            (amend(0, A, 100, 3, client_order_id=77), [
                amended(1, quantity=3, leaves_qty=3, client_order_id=77, account=A)]),
            (cancel(0, C, client_order_id=77), [rejected(Reason.UNKNOWN_ORDER, account=C)]),
            (cancel(0, B, client_order_id=77, pair=1),
             [rejected(Reason.UNKNOWN_ORDER, account=B)]),
            (cancel(0, B, client_order_id=77), [
                canceled(2, Reason.USER_CANCELED, leaves=5, account=B, client_order_id=77)]),
            (cancel(0, B), [rejected(Reason.UNKNOWN_ORDER, account=B)]),
        ],
        n_pairs=2,
        book={0: ([], [(100, 3, 1)]), 1: EMPTY},
        orders={1: {"quantity": 3, "leaves_qty": 3}, 2: None},
    ),
    Scenario(
        "REJECTED copies the command's fields, leaves = quantity",
        steps=[
            (new(42, A, SELL, 2000, 17, tif=IOC, stp=StpMode.EXPIRE_BOTH, client_order_id=9,
                 ts=123), [
                rejected(Reason.PRICE_OUT_OF_BAND, pair_id=0, side=SELL, order_type=LIMIT,
                         tif=IOC, flags=0, order_id=42, account=A, client_order_id=9,
                         price=2000, quantity=17, filled_qty=0, leaves_qty=17,
                         timestamp_ns=123),
            ]),
        ],
        book={0: EMPTY},
    ),
]


def ioc(order_id: int, account: int, client_order_id: int, **kw):
    """A step: an IOC buy that finds nothing to trade (done on arrival)."""
    return (new(order_id, account, BUY, 100, 1, tif=IOC, client_order_id=client_order_id, **kw),
            [accepted(order_id, client_order_id=client_order_id),
             canceled(order_id, Reason.IOC_REMAINDER, leaves=1)])


def duplicate(order_id: int, account: int, client_order_id: int, **kw):
    """A step: a NEW refused because its client order id is live or in the window."""
    return (new(order_id, account, BUY, 100, 1, tif=IOC, client_order_id=client_order_id, **kw),
            [rejected(Reason.DUPLICATE_CLIENT_ORDER_ID, order_id=order_id, account=account,
                      client_order_id=client_order_id)])


SCENARIOS += [
    Scenario(
        "client-id window: a retry after a full fill is rejected, on both sides of the trade",
        steps=[
            rests(1, A, SELL, 100, 5, client_order_id=7),
            (new(2, B, BUY, 100, 5, client_order_id=9), [
                accepted(2, client_order_id=9),
                trade(2, 1, 100, 5, leaves=0, maker_leaves=0, client_order_id=9)]),
            rests(3, C, SELL, 100, 5),
            # the retry of the filled taker, and of the filled maker, create nothing
            (new(4, B, BUY, 100, 5, client_order_id=9),
             [rejected(Reason.DUPLICATE_CLIENT_ORDER_ID, order_id=4, client_order_id=9)]),
            (new(5, A, SELL, 100, 5, client_order_id=7),
             [rejected(Reason.DUPLICATE_CLIENT_ORDER_ID, order_id=5, client_order_id=7)]),
            # a market order that finds nothing is done too; the ids are per account
            (new(6, B, SELL, 0, 1, type=MARKET, tif=IOC, client_order_id=10), [
                accepted(6), canceled(6, Reason.NO_LIQUIDITY, leaves=1)]),
            (new(7, B, SELL, 0, 1, type=MARKET, tif=IOC, client_order_id=10),
             [rejected(Reason.DUPLICATE_CLIENT_ORDER_ID, order_id=7)]),
            rests(8, C, BUY, 90, 1, client_order_id=9),
        ],
        book={0: ([(90, 1, 1)], [(100, 5, 1)])},
        orders={1: None, 2: None, 4: None, 5: None, 8: {"client_order_id": 9, "account": C}},
    ),
    Scenario(
        "client-id window: a retry after a cancel, cancel-all, FOK or self-trade end is rejected",
        steps=[
            rests(1, A, BUY, 90, 5, client_order_id=1),
            (cancel(1, A), [canceled(1, Reason.USER_CANCELED, leaves=5, client_order_id=1)]),
            duplicate(2, A, 1),
            rests(3, A, BUY, 90, 5, client_order_id=3),
            (cancel_all(A), [canceled(3, Reason.CANCEL_ALL, leaves=5), mass_canceled(A, 1)]),
            duplicate(4, A, 3),
            (new(5, A, BUY, 100, 5, tif=FOK, client_order_id=5), [
                accepted(5), canceled(5, Reason.FOK_UNFILLED, leaves=5)]),
            duplicate(6, A, 5),
            rests(7, A, SELL, 100, 2, client_order_id=7),
            (new(8, A, BUY, 100, 2, stp=StpMode.EXPIRE_MAKER, client_order_id=8), [
                accepted(8), canceled(7, Reason.SELF_TRADE, leaves=2, client_order_id=7)]),
            duplicate(9, A, 7),
            duplicate(10, A, 8),  # live: it rests at 100
            # an order that ends inside an AMEND (it fills completely) is done too
            rests(11, B, SELL, 101, 2, client_order_id=11),
            (amend(8, A, 101, 2), [
                amended(8, price=101, leaves_qty=2),
                trade(8, 11, 101, 2, leaves=0, maker_leaves=0, client_order_id=8)]),
            duplicate(12, A, 8),
            duplicate(13, B, 11),
        ],
        book={0: EMPTY},
        orders={8: None, 11: None},
    ),
    Scenario(
        "client-id window: a rejected NEW reserves nothing, a rejected retry refreshes nothing",
        client_id_window=2,
        steps=[
            rests(1, A, SELL, 100, 5),
            (new(2, B, BUY, 100, 1, post_only=True, client_order_id=2),
             [rejected(Reason.POST_ONLY_WOULD_TAKE, client_order_id=2)]),
            (new(3, B, BUY, 2000, 1, client_order_id=2),
             [rejected(Reason.PRICE_OUT_OF_BAND, client_order_id=2)]),
            (new(4, B, BUY, 100, 1, client_order_id=2), [
                accepted(4, client_order_id=2),
                trade(4, 1, 100, 1, leaves=0, maker_leaves=4)]),
            duplicate(5, B, 2),
        ],
        book={0: ([], [(100, 4, 1)])},
    ),
    Scenario(
        "client-id window: FIFO by completion; an evicted key is accepted again",
        client_id_window=2,
        steps=[
            ioc(1, A, 1),
            ioc(2, A, 2),  # window: 1 2
            duplicate(3, A, 1),  # a rejected retry does not move 1 to the back
            ioc(4, A, 3),  # window: 2 3 (1 evicted)
            ioc(5, A, 1),  # accepted again; window: 3 1
            duplicate(6, A, 3),
            ioc(7, A, 2),  # window: 1 2
            ioc(8, A, 3),  # window: 2 3
            rests(9, A, BUY, 90, 1, client_order_id=4),  # live keys do not use the window
            ioc(10, A, 5),  # window: 3 5
            duplicate(11, A, 4),
            duplicate(12, A, 5),
            ioc(13, A, 2),
        ],
        book={0: ([(90, 1, 1)], [])},
        orders={9: {"client_order_id": 4}},
    ),
    Scenario(
        "client-id window: cancel or amend by the client id of a done order is UNKNOWN_ORDER",
        steps=[
            rests(1, A, SELL, 100, 5, client_order_id=77),
            (cancel(0, A, client_order_id=77), [
                canceled(1, Reason.USER_CANCELED, leaves=5, client_order_id=77)]),
            (cancel(0, A, client_order_id=77),
             [rejected(Reason.UNKNOWN_ORDER, order_id=0, client_order_id=77)]),
            (amend(0, A, 100, 3, client_order_id=77),
             [rejected(Reason.UNKNOWN_ORDER, order_id=0, client_order_id=77)]),
            (cancel(1, A), [rejected(Reason.UNKNOWN_ORDER, order_id=1)]),
            duplicate(2, A, 77),
        ],
        book={0: EMPTY},
        orders={1: None},
    ),
]

assert len({s.name for s in SCENARIOS}) == len(SCENARIOS), "scenario names must be unique"
