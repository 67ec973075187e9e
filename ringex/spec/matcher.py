"""The reference matcher: docs/matching.md in plain Python, written to be read, not to be fast.

It is the test oracle for the compiled matcher (``ringex.engine.MatchingEngine``): both take the
same ``COMMAND_DTYPE`` arrays and must return byte-identical ``EVENT_DTYPE`` arrays and the same
:meth:`ReferenceMatcher.state_hash`. Every rule is written once, in the order the spec gives it,
with dicts, sorted lists and deques; numpy only reads the commands and builds the event array.

Single-threaded and owned by its caller. The book is never crossed between commands, and every
resting order is a GTC LIMIT order with ``leaves_qty > 0`` (see :meth:`check_invariants`). The
client-order-id window is an ``OrderedDict`` of done keys, oldest first; ``_done`` is called
once per order, right after its last event.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ringex.pairs import Pair
from ringex.records import (
    ALL_PAIRS,
    COMMAND_DTYPE,
    EVENT_DTYPE,
    CommandKind,
    EventKind,
    OrderFlag,
    OrderStatus,
    OrderType,
    PairStatus,
    Reason,
    Side,
    StpMode,
    TimeInForce,
    rejection_of_invalid_kind,
)
from ringex.statehash import hash_words

__all__ = ["ReferenceMatcher"]

_EVENT_FIELDS = EVENT_DTYPE.names
_ORDER_EVENT_FIELDS = ("pair_id", "side", "order_type", "tif", "flags", "order_id", "account",
                       "client_order_id", "price", "quantity", "filled_qty", "leaves_qty")


@dataclass(slots=True)
class _Order:
    order_id: int
    pair_id: int
    account: int
    client_order_id: int
    side: int
    order_type: int
    tif: int
    flags: int
    stp: int
    price: int
    quantity: int
    filled_qty: int
    leaves_qty: int
    timestamp_ns: int

    @property
    def status(self) -> OrderStatus:
        if self.leaves_qty == 0:
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED if self.filled_qty else OrderStatus.NEW


@dataclass(slots=True)
class _Level:
    orders: deque  # of _Order, arrival order
    total_leaves: int = 0


class _BookSide:
    """One side of one pair: price levels, each a FIFO queue."""

    def __init__(self, side: Side):
        self.side = side
        self.levels: dict[int, _Level] = {}
        self.prices: list[int] = []  # ascending

    def best_price(self) -> int | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.side == Side.BUY else self.prices[0]

    def prices_best_first(self) -> list[int]:
        return self.prices[::-1] if self.side == Side.BUY else list(self.prices)

    def orders_in_priority(self) -> Iterator[_Order]:
        for price in self.prices_best_first():
            yield from self.levels[price].orders

    def head(self) -> _Order:
        return self.levels[self.best_price()].orders[0]

    def append(self, order: _Order) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = _Level(deque())
            bisect.insort(self.prices, order.price)
        level.orders.append(order)
        level.total_leaves += order.leaves_qty

    def remove(self, order: _Order) -> None:
        level = self.levels[order.price]
        level.orders.remove(order)
        level.total_leaves -= order.leaves_qty
        if not level.orders:
            del self.levels[order.price]
            self.prices.pop(bisect.bisect_left(self.prices, order.price))

    def reduce(self, order: _Order, lots: int) -> None:
        """Take ``lots`` off a resting order's leaves (a fill or a decrement); it keeps its place."""
        order.leaves_qty -= lots
        self.levels[order.price].total_leaves -= lots


class ReferenceMatcher:
    """Pure-Python matcher over ``pairs`` (``pair_id == index``); see docs/matching.md."""

    def __init__(self, pairs: Sequence[Pair], *, order_capacity: int = 1 << 20,
                 client_id_window: int = 1_000_000):
        for index, pair in enumerate(pairs):
            if pair.pair_id != index:
                raise ValueError(f"pair {pair.name!r} has pair_id {pair.pair_id}, expected {index}")
        if client_id_window < 0:
            raise ValueError("client_id_window must be >= 0")
        self.pairs = list(pairs)
        self.order_capacity = order_capacity
        self.client_id_window = client_id_window
        self.statuses = [PairStatus.TRADING] * len(self.pairs)
        self.books = [{Side.BUY: _BookSide(Side.BUY), Side.SELL: _BookSide(Side.SELL)}
                      for _ in self.pairs]
        self.orders: dict[int, _Order] = {}  # live (resting) orders by order_id
        self.client_ids: dict[tuple[int, int], int] = {}  # (account, client_order_id) -> order_id
        # done (account, client_order_id) keys, oldest first: at most client_id_window of them
        self.done_client_ids: OrderedDict[tuple[int, int], None] = OrderedDict()
        self.next_seq = 1
        self.next_command_index = 0
        self._events: list[tuple] = []
        self._command = None

    # ------------------------------------------------------------------ batch API

    def process(self, commands: np.ndarray) -> np.ndarray:
        if commands.dtype != COMMAND_DTYPE:
            raise TypeError(f"expected COMMAND_DTYPE, got {commands.dtype}")
        self._events = []
        for row in commands.tolist():
            self._command = dict(zip(COMMAND_DTYPE.names, row))
            self._apply(self._command)
            self.next_command_index += 1
        return np.array(self._events, dtype=EVENT_DTYPE)

    def _apply(self, cmd: dict) -> None:
        handlers = {
            CommandKind.NEW: self._new,
            CommandKind.CANCEL: self._cancel,
            CommandKind.AMEND: self._amend,
            CommandKind.CANCEL_ALL: self._cancel_all,
            CommandKind.SET_STATUS: self._set_status,
        }
        handler = handlers.get(cmd["kind"])
        reason = handler(cmd) if handler else Reason(rejection_of_invalid_kind(cmd["status"]))
        if reason is not None:
            self._reject(cmd, reason)

    # ------------------------------------------------------------------ events

    def _emit(self, kind: EventKind, **fields) -> None:
        fields.update(kind=kind, seq=self.next_seq, command_index=self.next_command_index,
                      timestamp_ns=self._command["timestamp_ns"])
        self.next_seq += 1
        self._events.append(tuple(int(fields.get(name, 0)) for name in _EVENT_FIELDS))

    def _emit_order(self, kind: EventKind, order: _Order, reason: Reason, status: OrderStatus,
                    **overrides) -> None:
        fields = {name: getattr(order, name) for name in _ORDER_EVENT_FIELDS}
        fields.update(reason=reason, order_status=status, **overrides)
        self._emit(kind, **fields)

    def _reject(self, cmd: dict, reason: Reason) -> None:
        copied = ("pair_id", "side", "order_type", "tif", "flags", "order_id", "account",
                  "client_order_id", "price", "quantity")
        fields = {name: cmd[name] for name in copied}
        self._emit(EventKind.REJECTED, reason=reason, order_status=OrderStatus.REJECTED,
                   filled_qty=0, leaves_qty=cmd["quantity"], **fields)

    def _emit_canceled(self, order: _Order, reason: Reason) -> None:
        """``leaves_qty`` on the event is the part that never fills."""
        self._emit_order(EventKind.CANCELED, order, reason, OrderStatus.CANCELED)

    def _emit_amended(self, order: _Order, reason: Reason) -> None:
        self._emit_order(EventKind.AMENDED, order, reason, order.status)

    # ------------------------------------------------------------------ helpers

    def _status(self, pair_id: int) -> PairStatus | None:
        return self.statuses[pair_id] if 0 <= pair_id < len(self.pairs) else None

    def _in_band(self, pair_id: int, price: int) -> bool:
        pair = self.pairs[pair_id]
        return pair.band_lo_ticks <= price <= pair.band_hi_ticks

    def _qty_ok(self, pair_id: int, quantity: int) -> bool:
        pair = self.pairs[pair_id]
        return pair.min_qty_lots <= quantity <= pair.max_qty_lots

    def _opposite(self, order: _Order) -> _BookSide:
        return self.books[order.pair_id][Side.SELL if order.side == Side.BUY else Side.BUY]

    def _would_cross(self, pair_id: int, side: int, price: int) -> bool:
        """Whether a limit at ``price`` crosses the best opposite price (the post-only test)."""
        if side == Side.BUY:
            best_ask = self.books[pair_id][Side.SELL].best_price()
            return best_ask is not None and price >= best_ask
        best_bid = self.books[pair_id][Side.BUY].best_price()
        return best_bid is not None and price <= best_bid

    @staticmethod
    def _crosses(taker: _Order, maker_price: int) -> bool:
        if taker.order_type == OrderType.MARKET:
            return True
        return maker_price <= taker.price if taker.side == Side.BUY else maker_price >= taker.price

    def _target(self, cmd: dict) -> _Order | None:
        """The live order a CANCEL/AMEND names: by ``order_id``, or when that is 0, by
        ``(account, client_order_id)``; ``None`` if not live on the command's pair."""
        order_id = cmd["order_id"]
        if order_id == 0 and cmd["client_order_id"] != 0:
            order_id = self.client_ids.get((cmd["account"], cmd["client_order_id"]), 0)
        order = self.orders.get(order_id) if order_id > 0 else None
        return order if order is not None and order.pair_id == cmd["pair_id"] else None

    def _book(self, order: _Order) -> None:
        """Put a GTC LIMIT order at the tail of its level and index it."""
        self.books[order.pair_id][order.side].append(order)
        self.orders[order.order_id] = order
        if order.client_order_id:
            self.client_ids[(order.account, order.client_order_id)] = order.order_id

    def _unbook(self, order: _Order) -> None:
        self.books[order.pair_id][order.side].remove(order)
        del self.orders[order.order_id]
        if order.client_order_id:
            del self.client_ids[(order.account, order.client_order_id)]

    def _done(self, order: _Order) -> None:
        """The order has had its last event: its client order id enters the window, whose
        oldest key leaves if it is full."""
        if not order.client_order_id or not self.client_id_window:
            return
        if len(self.done_client_ids) == self.client_id_window:
            self.done_client_ids.popitem(last=False)
        self.done_client_ids[(order.account, order.client_order_id)] = None

    # ------------------------------------------------------------------ NEW

    def _new(self, cmd: dict) -> Reason | None:
        reason = self._validate_new(cmd)
        if reason is not None:
            return reason
        taker = _Order(
            order_id=cmd["order_id"], pair_id=cmd["pair_id"], account=cmd["account"],
            client_order_id=cmd["client_order_id"], side=cmd["side"],
            order_type=cmd["order_type"], tif=cmd["tif"], flags=cmd["flags"], stp=cmd["stp"],
            price=cmd["price"], quantity=cmd["quantity"], filled_qty=0,
            leaves_qty=cmd["quantity"], timestamp_ns=cmd["timestamp_ns"],
        )
        self._emit_order(EventKind.ACCEPTED, taker, Reason.NONE, OrderStatus.NEW)
        if taker.tif == TimeInForce.FOK and not self._fok_fillable(taker):
            self._emit_canceled(taker, Reason.FOK_UNFILLED)
            self._done(taker)
            return None
        self._match(taker)
        return None

    def _validate_new(self, cmd: dict) -> Reason | None:
        pair_id = cmd["pair_id"]
        status = self._status(pair_id)
        if status is None:
            return Reason.UNKNOWN_PAIR
        if status == PairStatus.HALTED:
            return Reason.PAIR_HALTED
        if status == PairStatus.CANCEL_ONLY:
            return Reason.PAIR_CANCEL_ONLY
        if cmd["order_id"] <= 0:
            return Reason.INVALID_ORDER_ID
        if cmd["account"] <= 0:
            return Reason.INVALID_ACCOUNT
        if cmd["side"] not in (Side.BUY, Side.SELL):
            return Reason.INVALID_SIDE
        order_type, tif, flags = cmd["order_type"], cmd["tif"], cmd["flags"]
        if order_type not in (OrderType.LIMIT, OrderType.MARKET):
            return Reason.INVALID_TYPE
        is_market = order_type == OrderType.MARKET
        if tif not in (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK) or (
            is_market and tif == TimeInForce.GTC
        ):
            return Reason.INVALID_TIF
        post_only_flag = bool(flags & OrderFlag.POST_ONLY)
        if flags & ~OrderFlag.POST_ONLY or (
            post_only_flag and (is_market or tif != TimeInForce.GTC)
        ):
            return Reason.INVALID_FLAGS
        if cmd["stp"] not in range(len(StpMode)):
            return Reason.INVALID_STP
        price = cmd["price"]
        if (not is_market and price <= 0) or (is_market and price != 0):
            return Reason.INVALID_PRICE
        if not is_market and not self._in_band(pair_id, price):
            return Reason.PRICE_OUT_OF_BAND
        if not self._qty_ok(pair_id, cmd["quantity"]):
            return Reason.INVALID_QUANTITY
        if status == PairStatus.POST_ONLY and (is_market or tif != TimeInForce.GTC):
            return Reason.PAIR_POST_ONLY
        if cmd["order_id"] in self.orders:
            return Reason.DUPLICATE_ORDER_ID
        key = (cmd["account"], cmd["client_order_id"])
        if cmd["client_order_id"] != 0 and (key in self.client_ids or key in self.done_client_ids):
            return Reason.DUPLICATE_CLIENT_ORDER_ID
        post_only = post_only_flag or status == PairStatus.POST_ONLY
        if post_only and self._would_cross(pair_id, cmd["side"], price):
            return Reason.POST_ONLY_WOULD_TAKE
        is_gtc_limit = not is_market and tif == TimeInForce.GTC
        if is_gtc_limit and len(self.orders) >= self.order_capacity:
            return Reason.BOOK_FULL
        return None

    def _fok_fillable(self, taker: _Order) -> bool:
        available = 0
        for maker in self._opposite(taker).orders_in_priority():
            if not self._crosses(taker, maker.price):
                break
            if maker.account == taker.account and taker.stp != StpMode.NONE:
                if taker.stp == StpMode.EXPIRE_MAKER:
                    continue
                break
            available += maker.leaves_qty
            if available >= taker.quantity:
                break
        return available >= taker.quantity

    # ------------------------------------------------------------------ matching

    def _match(self, taker: _Order) -> None:
        """Match ``taker`` (not on the book) against the opposite side; rest or cancel the rest."""
        opposite = self._opposite(taker)
        stopped_by_stp = False
        while taker.leaves_qty > 0:
            best = opposite.best_price()
            if best is None or not self._crosses(taker, best):
                break
            maker = opposite.head()
            if maker.account == taker.account and taker.stp != StpMode.NONE:
                if taker.stp == StpMode.EXPIRE_TAKER:
                    stopped_by_stp = True
                    break
                if taker.stp in (StpMode.EXPIRE_MAKER, StpMode.EXPIRE_BOTH):
                    self._unbook(maker)
                    self._emit_canceled(maker, Reason.SELF_TRADE)
                    self._done(maker)
                    if taker.stp == StpMode.EXPIRE_BOTH:
                        stopped_by_stp = True
                        break
                    continue
                self._decrement(taker, maker, opposite)
                continue
            self._trade(taker, maker, opposite)

        if taker.leaves_qty == 0:
            self._done(taker)
            return
        if stopped_by_stp:
            self._emit_canceled(taker, Reason.SELF_TRADE)
        elif taker.order_type == OrderType.MARKET:
            self._emit_canceled(taker, Reason.NO_LIQUIDITY)
        elif taker.tif == TimeInForce.IOC:
            self._emit_canceled(taker, Reason.IOC_REMAINDER)
        elif taker.tif == TimeInForce.GTC:
            self._book(taker)
            return
        else:
            raise AssertionError(f"FOK order {taker.order_id} passed its pre-check but did not fill")
        self._done(taker)

    def _trade(self, taker: _Order, maker: _Order, opposite: _BookSide) -> None:
        lots = min(taker.leaves_qty, maker.leaves_qty)
        taker.leaves_qty -= lots
        taker.filled_qty += lots
        opposite.reduce(maker, lots)
        maker.filled_qty += lots
        self._emit_order(
            EventKind.TRADE, taker, Reason.NONE, taker.status,
            price=maker.price, trade_qty=lots, maker_order_id=maker.order_id,
            maker_account=maker.account, maker_quantity=maker.quantity,
            maker_filled_qty=maker.filled_qty, maker_leaves_qty=maker.leaves_qty,
        )
        if maker.leaves_qty == 0:
            self._unbook(maker)
            self._done(maker)

    def _decrement(self, taker: _Order, maker: _Order, opposite: _BookSide) -> None:
        """STP DECREMENT: both orders shrink by the overlap and nothing trades."""
        lots = min(taker.leaves_qty, maker.leaves_qty)
        opposite.reduce(maker, lots)
        maker.quantity -= lots
        taker.leaves_qty -= lots
        taker.quantity -= lots
        if maker.leaves_qty == 0:
            self._unbook(maker)
            self._emit_canceled(maker, Reason.SELF_TRADE)
            self._done(maker)
        else:
            self._emit_amended(maker, Reason.SELF_TRADE)
        if taker.leaves_qty == 0:
            self._emit_canceled(taker, Reason.SELF_TRADE)
        else:
            self._emit_amended(taker, Reason.SELF_TRADE)

    # ------------------------------------------------------------------ CANCEL / AMEND

    def _cancel(self, cmd: dict) -> Reason | None:
        status = self._status(cmd["pair_id"])
        if status is None:
            return Reason.UNKNOWN_PAIR
        if status == PairStatus.HALTED:
            return Reason.PAIR_HALTED
        order = self._target(cmd)
        if order is None:
            return Reason.UNKNOWN_ORDER
        if order.account != cmd["account"]:
            return Reason.NOT_OWNER
        self._unbook(order)
        self._emit_canceled(order, Reason.USER_CANCELED)
        self._done(order)
        return None

    def _amend(self, cmd: dict) -> Reason | None:
        pair_id, price, quantity = cmd["pair_id"], cmd["price"], cmd["quantity"]
        status = self._status(pair_id)
        if status is None:
            return Reason.UNKNOWN_PAIR
        if status == PairStatus.HALTED:
            return Reason.PAIR_HALTED
        if status == PairStatus.CANCEL_ONLY:
            return Reason.PAIR_CANCEL_ONLY
        order = self._target(cmd)
        if order is None:
            return Reason.UNKNOWN_ORDER
        if order.account != cmd["account"]:
            return Reason.NOT_OWNER
        if price <= 0:
            return Reason.INVALID_PRICE
        if not self._in_band(pair_id, price):
            return Reason.PRICE_OUT_OF_BAND
        if not self._qty_ok(pair_id, quantity) or quantity <= order.filled_qty:
            return Reason.INVALID_QUANTITY
        if price == order.price and quantity == order.quantity:
            return Reason.NO_CHANGE
        post_only = bool(order.flags & OrderFlag.POST_ONLY) or status == PairStatus.POST_ONLY
        if post_only and price != order.price and self._would_cross(pair_id, order.side, price):
            return Reason.POST_ONLY_WOULD_TAKE

        if price == order.price and quantity < order.quantity:
            self.books[pair_id][order.side].reduce(order, order.quantity - quantity)
            order.quantity = quantity
            self._emit_amended(order, Reason.NONE)
            return None
        self._unbook(order)
        order.price = price
        order.quantity = quantity
        order.leaves_qty = quantity - order.filled_qty
        order.timestamp_ns = cmd["timestamp_ns"]
        self._emit_amended(order, Reason.NONE)
        self._match(order)
        return None

    # ------------------------------------------------------------------ CANCEL_ALL / SET_STATUS

    def _cancel_all(self, cmd: dict) -> Reason | None:
        pair_id, account = cmd["pair_id"], cmd["account"]
        status = self._status(pair_id)
        if pair_id != ALL_PAIRS and status is None:
            return Reason.UNKNOWN_PAIR
        if account <= 0:
            return Reason.INVALID_ACCOUNT
        if status == PairStatus.HALTED:
            return Reason.PAIR_HALTED
        victims = sorted(
            (order for order in self.orders.values()
             if order.account == account
             and (order.pair_id == pair_id
                  or (pair_id == ALL_PAIRS and self.statuses[order.pair_id] != PairStatus.HALTED))),
            key=lambda order: order.order_id,
        )
        for order in victims:
            self._unbook(order)
            self._emit_canceled(order, Reason.CANCEL_ALL)
            self._done(order)
        self._emit(EventKind.MASS_CANCELED, pair_id=pair_id, account=account,
                   trade_qty=len(victims))
        return None

    def _set_status(self, cmd: dict) -> Reason | None:
        if self._status(cmd["pair_id"]) is None:
            return Reason.UNKNOWN_PAIR
        if cmd["status"] not in {s.value for s in PairStatus}:
            return Reason.INVALID_STATUS
        self.statuses[cmd["pair_id"]] = PairStatus(cmd["status"])
        self._emit(EventKind.PAIR_STATUS, pair_id=cmd["pair_id"], pair_status=cmd["status"])
        return None

    # ------------------------------------------------------------------ inspection

    def canonical_words(self) -> np.ndarray:
        words = [self.next_seq, self.next_command_index, len(self.pairs)]
        for pair_id, book in enumerate(self.books):
            words += [pair_id, self.statuses[pair_id]]
            for side in (Side.BUY, Side.SELL):
                orders = list(book[side].orders_in_priority())
                words.append(len(orders))
                for o in orders:
                    words += [o.order_id, o.account, o.client_order_id, o.side, o.price,
                              o.quantity, o.filled_qty, o.leaves_qty, o.flags, o.stp,
                              o.timestamp_ns]
        words.append(len(self.done_client_ids))
        for account, client_order_id in self.done_client_ids:
            words += [account, client_order_id]
        return np.array(words, dtype="<i8")

    def state_hash(self) -> str:
        return hash_words(self.canonical_words())

    def depth(self, pair_id: int, levels: int = 10):
        def side_depth(book_side: _BookSide) -> list[tuple[int, int, int]]:
            return [(price, book_side.levels[price].total_leaves, len(book_side.levels[price].orders))
                    for price in book_side.prices_best_first()[:levels]]

        book = self.books[pair_id]
        return side_depth(book[Side.BUY]), side_depth(book[Side.SELL])

    def order(self, order_id: int) -> dict | None:
        order = self.orders.get(order_id)
        if order is None:
            return None
        return {name: getattr(order, name) for name in _Order.__slots__}

    def check_invariants(self) -> None:
        seen: dict[int, _Order] = {}
        for pair_id, book in enumerate(self.books):
            for side, book_side in book.items():
                assert book_side.prices == sorted(book_side.levels), (
                    f"pair {pair_id} side {side.name}: price list {book_side.prices} "
                    f"!= levels {sorted(book_side.levels)}")
                for price, level in book_side.levels.items():
                    assert level.orders, f"pair {pair_id} {side.name} level {price} is empty"
                    total = sum(o.leaves_qty for o in level.orders)
                    assert level.total_leaves == total, (
                        f"pair {pair_id} {side.name} level {price}: total {level.total_leaves} "
                        f"!= sum of leaves {total}")
                    for o in level.orders:
                        where = f"order {o.order_id} (pair {pair_id} {side.name} level {price})"
                        assert o.order_id not in seen, f"{where} is on the book twice"
                        seen[o.order_id] = o
                        assert (o.pair_id, o.side, o.price) == (pair_id, side, price), (
                            f"{where} sits in the wrong queue: {o}")
                        assert o.leaves_qty > 0, f"{where} has leaves_qty {o.leaves_qty}"
                        assert o.quantity == o.filled_qty + o.leaves_qty, (
                            f"{where}: quantity {o.quantity} != filled {o.filled_qty} "
                            f"+ leaves {o.leaves_qty}")
                        assert (o.order_type, o.tif) == (OrderType.LIMIT, TimeInForce.GTC), (
                            f"{where} is not a GTC LIMIT order")
            bid, ask = book[Side.BUY].best_price(), book[Side.SELL].best_price()
            assert bid is None or ask is None or bid < ask, (
                f"pair {pair_id} is crossed: best bid {bid} >= best ask {ask}")
        assert seen == self.orders, (
            f"id index {sorted(self.orders)} != orders on the book {sorted(seen)}")
        expected_client_ids = {(o.account, o.client_order_id): o.order_id
                               for o in seen.values() if o.client_order_id}
        assert len(expected_client_ids) == sum(1 for o in seen.values() if o.client_order_id), (
            "two live orders share an (account, client_order_id)")
        assert self.client_ids == expected_client_ids, (
            f"client-order-id index {self.client_ids} != live orders {expected_client_ids}")
        assert len(self.orders) <= self.order_capacity, (
            f"{len(self.orders)} live orders exceed the capacity {self.order_capacity}")
        assert len(self.done_client_ids) <= self.client_id_window, (
            f"{len(self.done_client_ids)} done client ids exceed the window "
            f"{self.client_id_window}")
        assert all(client_order_id for _, client_order_id in self.done_client_ids), (
            "the client-order-id window holds a zero client_order_id")
        live_and_done = self.client_ids.keys() & self.done_client_ids.keys()
        assert not live_and_done, f"client ids both live and done: {sorted(live_and_done)}"
