"""Turn one batch of events into the apply script's arguments (``redis_lua.APPLY_SCRIPT``).

The batch is folded in compiled code first (``redis_fold``). What the script writes then
travels in two forms:

* candles and rings (a few dozen per batch): two strings of newline-terminated, tab-separated
  records formatted here in Python;
* trades and orders (up to thousands per batch): one argument per value, written by the
  compiled kernels of :mod:`ringex.marketdata.redis_kernel` straight into a RESP buffer, so
  that neither Python string formatting (~5 us per order) nor redis-py's packing (~1 us per
  argument) is paid, and the script reads its ``ARGV`` instead of pattern-matching blobs.

The texts equal those of :mod:`ringex.spec.redis_encode` (the first, plain
Python encoder, kept as the oracle) byte for byte; ``tests/marketdata/test_redis_encode.py``
pins it. Decimal strings are exact conversions through the pair registry
(``Pair.ticks_to_price``, ``Pair.lots_to_qty``). Only :class:`BatchEncoder`'s owner (the
store's single writer) calls it; it keeps scratch arrays between batches, so a returned
buffer is valid until the next :meth:`BatchEncoder.encode`.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from ringex.marketdata import redis_fold as F
from ringex.marketdata import redis_kernel as K
from ringex.marketdata.interface import CLOSED_STATUSES, INTERVALS
from ringex.pairs import Pair, PairRegistry
from ringex.records import OrderStatus, OrderType, Reason, Side, TimeInForce
from ringex.wire.json_events import pack_pieces, scale_columns
from ringex.wire.units import registry_units

__all__ = ["BatchEncoder", "Encoded", "PairText", "ORDER_JSON_FIELDS", "ORDER_BUCKET"]

#: Order records live in hashes of this many consecutive ids (``orders:{order_id // N}``).
ORDER_BUCKET = K.ORDER_BUCKET

#: The order record's JSON fields, in order. From ``seq`` on: the fields a fill changes.
ORDER_JSON_FIELDS = (
    "order_id", "pair", "pair_id", "account", "client_order_id", "side", "type", "tif",
    "price", "price_ticks",
    "seq", "ts", "status", "reason", "quantity", "filled", "leaves",
    "quantity_lots", "filled_lots", "leaves_lots",
)
_SLACK = 16  # the kernels copy 16 bytes at a time
_INT64_DIGITS = 20  # "-9223372036854775808"


class PairText:
    """Decimal strings of one pair's ticks and lots, cached (prices repeat).

    A price of 0 ticks (a market order, or a taker whose limit the store never saw) is "".
    """

    def __init__(self, pair: Pair):
        self.pair = pair
        self.name = pair.name
        self.json_name = json.dumps(pair.name)[1:-1]
        places = max(0, -pair.lot_size.as_tuple().exponent)
        self.lot_scale = places
        self.lot_mantissa = int(pair.lot_size.scaleb(places))
        self._prices: dict[int, str] = {0: ""}
        self._qtys: dict[int, str] = {}

    def price(self, ticks: int) -> str:
        text = self._prices.get(ticks)
        if text is None:
            text = self.pair.ticks_to_price(ticks) if ticks > 0 else ""
            if len(self._prices) > 100_000:
                self._prices = {0: ""}
            self._prices[ticks] = text
        return text

    def qty(self, lots: int) -> str:
        text = self._qtys.get(lots)
        if text is None:
            text = self.pair.lots_to_qty(lots) if lots >= 0 else ""
            if len(self._qtys) > 100_000:
                self._qtys = {}
            self._qtys[lots] = text
        return text


class _UnknownPairText:
    """For rejected commands that name no configured pair: no decimals."""

    lot_scale = 0
    lot_mantissa = 1

    def __init__(self, pair_id: int):
        self.name = self.json_name = f"#{pair_id}"

    def price(self, ticks: int) -> str:
        return ""

    qty = price


class Encoded(NamedTuple):
    """One encoded batch: the script's arguments after the fixed head (``redis_lua``)."""

    ring_ids: list[int]  #: ring of each row of ``rings``, in order
    rings: str
    candles: str
    trade_groups: int  #: pairs with trades in the batch
    buckets: int  #: order buckets in the batch
    accounts: int  #: accounts with orders in the batch
    n_args: int  #: arguments in ``body``
    body: memoryview  #: those arguments as RESP bulk strings; valid until the next encode


class _Tables(NamedTuple):
    """The kernel's per-registry arguments and the widest text of each kind of row."""

    text: np.ndarray
    spans: np.ndarray
    enum_pieces: np.ndarray
    closed: np.ndarray
    names: np.ndarray
    json_names: np.ndarray
    price_places: np.ndarray
    price_small: np.ndarray
    price_limbs: np.ndarray
    qty_places: np.ndarray
    qty_small: np.ndarray
    qty_limbs: np.ndarray
    channel: int  #: piece of ``{prefix}ch:orders:``
    order_bound: int  #: bytes of one order's arguments, at most
    trade_bound: int  #: bytes of one trade's JSON, at most
    group_bound: int  #: bytes of a trade group's or bucket's two head arguments, at most


def _build_tables(registry: PairRegistry, prefix: str) -> _Tables:
    pieces = list(K.PIECES)
    literal_bytes = sum(len(piece) for piece in pieces)

    def piece(text: str) -> int:
        pieces.append(text.encode("utf-8"))
        return len(pieces) - 1

    enum_pieces = np.full((5, 256), K.NO_NAME, dtype=np.int64)
    for row, enum_type in ((K.E_SIDE, Side), (K.E_TYPE, OrderType), (K.E_TIF, TimeInForce),
                           (K.E_STATUS, OrderStatus), (K.E_REASON, Reason)):
        for member in enum_type:
            enum_pieces[row, int(member)] = piece(member.name)
    closed = np.zeros(256, dtype=np.uint8)
    for status in CLOSED_STATUSES:
        closed[int(status)] = 1
    units = registry_units(registry).by_id
    names = np.array([piece(pair.pair.name) for pair in units], dtype=np.int64)
    json_names = np.array([piece(json.dumps(pair.pair.name)[1:-1]) for pair in units],
                          dtype=np.int64)
    prices = scale_columns([pair.price for pair in units])
    quantities = scale_columns([pair.quantity for pair in units])
    channel = piece(prefix + "ch:orders:")
    spans, text = pack_pieces(pieces)
    scales = [pair.price for pair in units] + [pair.quantity for pair in units]
    decimal = max((len(str(2**63 * scale.multiplier)) + scale.places + 2 for scale in scales),
                  default=0)
    name = max([len(pieces[i]) for i in [*names, *json_names]] + [1 + _INT64_DIGITS])
    enum = max(max(len(p) for p in pieces[len(K.PIECES):]), _INT64_DIGITS)
    number = max(decimal, _INT64_DIGITS)
    # every literal, a name, 5 enum names and 20 numbers (decimals included) in each row
    row = literal_bytes + name + 5 * enum + 20 * number + K.META_BYTES
    return _Tables(text, spans, enum_pieces, closed, names, json_names, *prices, *quantities,
                   channel, order_bound=row, trade_bound=row,
                   group_bound=len(pieces[channel]) + name + 2 * _INT64_DIGITS)


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by key, groups in order of first row: ``(1-based group of each row, the
    rows in group order (stable), the end of each group in that order)``. The first encoder
    grouped in Lua tables as rows came, so its lists and messages went out in this order."""
    if keys.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    values, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(values.shape[0], dtype=np.int64)
    rank[np.argsort(first)] = np.arange(values.shape[0])
    group = rank[inverse.reshape(-1)]
    return (group + 1, np.argsort(group, kind="stable"),
            np.cumsum(np.bincount(group), dtype=np.int64))


class BatchEncoder:
    """Folds and formats batches for one store; holds the scratch arrays and ring floors.

    ``floors[pair * len(INTERVALS) + interval]`` is a trade seq at or below which the ring's
    trades are skipped; it is raised when the script reports a ring already ahead (a replay
    after ``last_seq`` was lost), and is otherwise 0. ``trades_kept`` and ``prefix`` are the
    store's: only the newest ``trades_kept`` trades of a pair are sent to be pushed, and the
    order channels' names are written whole.
    """

    def __init__(self, registry: PairRegistry, candles_kept: int, trades_kept: int = 1000,
                 prefix: str = "ringex:"):
        self.pairs = [PairText(pair) for pair in registry]
        self.candles_kept = candles_kept
        self.trades_kept = trades_kept
        self.prefix = prefix
        self.interval_names = tuple(INTERVALS)
        self.intervals_ms = np.array(list(INTERVALS.values()), dtype=np.int64)
        n_rings = len(self.pairs) * len(INTERVALS)
        self.floors = np.zeros(n_rings, dtype=np.int64)
        self._rings = np.zeros(n_rings, dtype=F.RING_FOLD_DTYPE)
        self._ring_names = [f"{pair.name}:{name}" for pair in self.pairs
                            for name in self.interval_names]
        self._tables = _build_tables(registry, prefix)
        self._capacity = 0
        self._bytes = 0
        self._framed = np.zeros(0, dtype=np.uint8)
        self._scratch = np.zeros(8, dtype=np.int64)

    def text(self, pair_id: int):
        if 0 <= pair_id < len(self.pairs):
            return self.pairs[pair_id]
        return _UnknownPairText(pair_id)

    def raise_floor(self, ring: int, seq: int) -> None:
        self.floors[ring] = max(int(self.floors[ring]), seq)

    def _reserve(self, n: int) -> None:
        if n > self._capacity:
            self._capacity = max(n, 2 * self._capacity)
            self._candles = np.zeros(self._capacity * len(INTERVALS), dtype=F.CANDLE_FOLD_DTYPE)
            self._ids = np.zeros(2 * self._capacity, dtype=np.int64)
            self._rows = np.zeros(2 * self._capacity, dtype=np.int64)
            self._roles = np.zeros(2 * self._capacity, dtype=np.int64)
            self._orders = np.zeros(2 * self._capacity, dtype=F.ORDER_FOLD_DTYPE)
            # per order (2 per event at most): 2 arguments and maybe a bucket's 2 and an
            # account's 2; per trade: 1 and maybe a group's 3; the accounts' first rows
            self._offsets = np.zeros(16 * self._capacity + 3, dtype=np.int64)
            self._json_spans = np.zeros((2 * self._capacity, 2), dtype=np.int64)

    def _reserve_bytes(self, n: int) -> None:
        framed = n + 25 * self._offsets.shape[0]  # "$<20 digits>\r\n...\r\n" per argument
        if n > self._bytes or framed > self._framed.shape[0] - _SLACK:
            self._bytes = max(n, 2 * self._bytes)
            self._out = np.zeros(self._bytes + _SLACK, dtype=np.uint8)
            self._framed = np.zeros(max(framed, self._bytes) + _SLACK, dtype=np.uint8)

    def encode(self, events: np.ndarray) -> Encoded:
        """A contiguous ``EVENT_DTYPE`` batch in ascending seq, encoded (:class:`Encoded`)."""
        self._reserve(events.shape[0])
        ring_ids, rings, candles = self._candle_rows(events)
        trades, trade_ends = self._trades(events)
        n = F.order_updates(events, self._ids, self._rows, self._roles)
        order = np.argsort(self._ids[:n], kind="stable")
        k = F.fold_orders(events, self._rows, self._roles, order, n, self._orders)
        order_group, group_rows, group_ends = _groups(self._orders["account"][:k])
        tables = self._tables
        # trades: each JSON twice at most (message and list); orders: twice (row and message)
        self._reserve_bytes(2 * k * (tables.order_bound + tables.group_bound)
                            + 2 * trades.shape[0] * tables.trade_bound
                            + trade_ends.shape[0] * tables.group_bound)
        n_args, _, buckets = K.encode_rows(
            trades, trade_ends, self.trades_kept, self._orders, k, order_group, group_rows,
            group_ends, *tables[:13], self._out, self._offsets, self._json_spans,
            self._scratch)
        size = K.frame_args(self._out, self._offsets, n_args, self._framed)
        return Encoded(ring_ids, rings, candles, trade_ends.shape[0], buckets,
                       group_ends.shape[0], n_args, memoryview(self._framed)[:size])

    def _trades(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The TRADE events grouped by pair (:func:`_groups`), and each group's end."""
        trades = events[events["kind"] == F._TRADE]
        _, rows, ends = _groups(trades["pair_id"])
        return trades[rows], ends

    # -- candles ------------------------------------------------------------------------
    def _candle_rows(self, events: np.ndarray) -> tuple[list[int], str, str]:
        n = F.fold_trades(events, self.intervals_ms, self.floors, self.candles_kept,
                          len(self.pairs), self._rings, self._candles)
        if n == 0 and not self._rings["touched"].any():
            return [], "", ""
        ring_ids = np.flatnonzero(self._rings["touched"]).tolist()
        row_of = {ring: row for row, ring in enumerate(ring_ids, start=1)}
        n_iv = len(self.interval_names)
        lines = []
        for ring in ring_ids:
            state = self._rings[ring]
            text = self.pairs[ring // n_iv]
            newest = "" if state["newest"] == F.NO_BUCKET else str(int(state["newest"]))
            lines.append(f"{self._ring_names[ring]}\t{text.name}\t"
                         f"{self.interval_names[ring % n_iv]}\t{self.intervals_ms[ring % n_iv]}\t"
                         f"{state['first_seq']}\t{state['last_seq']}\t{newest}\t"
                         f"{text.lot_scale}\n")
        rows = []
        for (ring, start, o, h, low, c, v, count, fs, ls, _) in self._candles[:n].tolist():
            text = self.pairs[ring // n_iv]
            rows.append(f"{row_of[ring]}\t{start}\t{o}\t{h}\t{low}\t{c}\t{text.price(o)}\t"
                        f"{text.price(h)}\t{text.price(low)}\t{text.price(c)}\t{v}\t{count}\t"
                        f"{fs}\t{ls}\t{v * text.lot_mantissa}\t{text.qty(v)}\n")
        return ring_ids, "".join(lines), "".join(rows)
