"""The specification of the Redis store's batch text: the plain-Python encoder it had first.

Kept as the oracle of :mod:`ringex.marketdata.redis_encode` (compiled, ``redis_kernel``), as
:mod:`ringex.spec.json_events` is for the compiled JSON event encoder. Never used by the
store itself. With :mod:`ringex.spec.redis_lua` it is the whole first protocol:
``tests/marketdata/test_redis_encode.py`` applies the same batches through both protocols and
requires the same keys, values and pub/sub messages, and compares the order and trade JSON
texts, byte for byte, with the kernel's.

The batch is folded in compiled code first (``redis_fold``), then formatted here: a row per
candle and ring the batch touches, per trade and per order, as six strings of
newline-terminated, tab-separated records (a JSON text never holds a raw tab or newline).
Decimal strings come from the pair registry (``Pair.ticks_to_price``, ``Pair.lots_to_qty``),
through the store's own cache (``redis_encode.PairText``); the bucket size is the store's
``ORDER_BUCKET``.
"""

from __future__ import annotations

import numpy as np

from ringex.marketdata import redis_fold as F
from ringex.marketdata.interface import CLOSED_STATUSES, INTERVALS
from ringex.marketdata.redis_encode import ORDER_BUCKET, PairText
from ringex.pairs import PairRegistry
from ringex.records import OrderStatus, OrderType, Reason, Side, TimeInForce

__all__ = ["BatchEncoder"]

_ORDER_META = '%d\t%d\t%d\t%d\t%d\t%d\t%d\n'
_ORDER_JSON = (
    '{"order_id":%d,"pair":"%s","pair_id":%d,"account":%d,'
    '"client_order_id":%d,"side":"%s","type":"%s","tif":"%s","price":"%s","price_ticks":%d,'
    '"seq":%d,"ts":%d,"status":"%s","reason":"%s","quantity":"%s","filled":"%s","leaves":"%s",'
    '"quantity_lots":%d,"filled_lots":%d,"leaves_lots":%d}')
_TRADE_JSON = (
    '{"pair":"%s","seq":%d,"ts":%d,"price":"%s","qty":"%s","side":"%s","price_ticks":%d,'
    '"qty_lots":%d,"taker_order_id":%d,"maker_order_id":%d}')
_CLOSED = frozenset(int(status) for status in CLOSED_STATUSES)


def _names(enum_type) -> dict[int, str]:
    """Enum value -> name; an out-of-range value (a rejected command's) stays a number."""
    return {int(member): member.name for member in enum_type}


_SIDE, _TYPE, _TIF = _names(Side), _names(OrderType), _names(TimeInForce)
_STATUS, _REASON = _names(OrderStatus), _names(Reason)


class _UnknownPairText:
    """For rejected commands that name no configured pair: no decimals."""

    lot_scale = 0
    lot_mantissa = 1

    def __init__(self, pair_id: int):
        self.name = self.json_name = f"#{pair_id}"

    def price(self, ticks: int) -> str:
        return ""

    qty = price


class BatchEncoder:
    """Folds and formats batches for one store; holds the scratch arrays and ring floors.

    ``floors[pair * len(INTERVALS) + interval]`` is a trade seq at or below which the ring's
    trades are skipped; it is raised when the script reports a ring already ahead (a replay
    after ``last_seq`` was lost), and is otherwise 0.
    """

    def __init__(self, registry: PairRegistry, candles_kept: int):
        self.pairs = [PairText(pair) for pair in registry]
        self.candles_kept = candles_kept
        self.interval_names = tuple(INTERVALS)
        self.intervals_ms = np.array(list(INTERVALS.values()), dtype=np.int64)
        n_rings = len(self.pairs) * len(INTERVALS)
        self.floors = np.zeros(n_rings, dtype=np.int64)
        self._rings = np.zeros(n_rings, dtype=F.RING_FOLD_DTYPE)
        self._ring_names = [f"{pair.name}:{name}" for pair in self.pairs
                            for name in self.interval_names]
        self._capacity = 0

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

    def encode(self, events: np.ndarray) -> tuple[list[int], list[str]]:
        """``(ring ids in the rings string's order, the script's six strings)`` of a
        contiguous ``EVENT_DTYPE`` batch in ascending seq (``redis_lua`` lists them)."""
        self._reserve(events.shape[0])
        ring_ids, rings, candles = self._candle_rows(events)
        return ring_ids, [rings, candles, *self._trade_rows(events), *self._order_rows(events)]

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

    # -- trades -------------------------------------------------------------------------
    def _trade_rows(self, events: np.ndarray) -> tuple[str, str]:
        trades = events[events["kind"] == F._TRADE]
        if trades.shape[0] == 0:
            return "", ""
        meta, texts = [], []
        columns = [trades[name].tolist() for name in (
            "pair_id", "seq", "timestamp_ns", "price", "trade_qty", "side", "order_id",
            "maker_order_id")]
        text_of = self.text
        for pair_id, seq, ts, price, qty, side, taker, maker in zip(*columns):
            text = text_of(pair_id)
            record = _TRADE_JSON % (text.json_name, seq, ts, text.price(price), text.qty(qty),
                                    _SIDE.get(side, side), price, qty, taker, maker)
            texts.append(record)
            meta.append(f"{text.name}\t{len(record)}\n")
        return "".join(meta), "".join(texts)

    # -- orders -------------------------------------------------------------------------
    def _order_rows(self, events: np.ndarray) -> tuple[str, str]:
        n = F.order_updates(events, self._ids, self._rows, self._roles)
        if n == 0:
            return "", ""
        order = np.argsort(self._ids[:n], kind="stable")
        k = F.fold_orders(events, self._rows, self._roles, order, n, self._orders)
        meta, texts = [], []  # ascending order id, so each bucket is one run
        text_of, closed_statuses = self.text, _CLOSED
        side_name, type_name, tif_name = _SIDE.get, _TYPE.get, _TIF.get
        status_name, reason_name = _STATUS.get, _REASON.get
        for (mode, oid, pair_id, account, client_id, side, order_type, tif, status, reason,
             price, quantity, filled, leaves, seq, ts) in self._orders[:k].tolist():
            text = text_of(pair_id)
            qty = text.qty
            record = _ORDER_JSON % (
                oid, text.json_name, pair_id, account, client_id, side_name(side, side),
                type_name(order_type, order_type), tif_name(tif, tif), text.price(price), price,
                seq, ts, status_name(status, status), reason_name(reason, reason),
                qty(quantity), qty(filled), qty(leaves), quantity, filled, leaves)
            texts.append(record)
            meta.append(_ORDER_META % (mode, oid // ORDER_BUCKET, oid, account,
                                       status in closed_statuses, seq, len(record)))
        return "".join(meta), "".join(texts)
