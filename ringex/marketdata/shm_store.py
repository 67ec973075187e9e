"""``SharedMemoryMarketData``: the market-data projection in one shared-memory segment.

Embedded mode's stand-in for Redis. The supervisor (or a test) **creates** the segment and is
its owner: only it unlinks, on :meth:`close`. The publisher and the gateway workers
**attach** by name and never unlink (``ringex.ring.segment``).

Writers: one process applies events (:meth:`apply`: candles, trades, orders, ``last_seq``);
one process stores books (:meth:`put_book`; it may be the same one). Readers: any number, in
any process; every read is a seqlock-checked copy made in compiled code
(``shm_kernels``), so a reader never sees a torn record. Fixed sizes, chosen at creation:

* candles: per pair and interval, the last ``candles_kept`` intervals (direct-mapped ring);
* trades: per pair, the last ``trades_kept``;
* books: per pair, the top ``depth`` levels a side, with their seq;
* orders: ``order_capacity`` slots in up to 64 stripes. A stripe that reaches 3/4 full evicts
  its oldest closed orders (filled, canceled, rejected; oldest = lowest last seq) down to half
  full. A stripe full of open orders drops the new order and counts it (``order_drops``):
  size the table above the engine's order capacity.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ringex.errors import LayoutMismatchError, RingexError, UnknownPairError
from ringex.marketdata import shm_kernels as K
from ringex.marketdata import shm_layout as L
from ringex.marketdata.interface import (
    DEFAULT_CANDLE_LIMIT,
    DEFAULT_TRADE_LIMIT,
    INTERVAL_NAMES,
    INTERVALS,
    Book,
    Candle,
    OrderState,
    Trade,
    interval_ms,
)
from ringex.pairs import PairRegistry
from ringex.records import EVENT_DTYPE, OrderStatus, PairStatus, Reason, Side
from ringex.ring.segment import DEFAULT_PREFIX, Segment, segment_name

__all__ = ["SharedMemoryMarketData"]

_INT64_MIN = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max


def _enum(enum_type, value: int):
    try:
        return enum_type(value)
    except ValueError:
        return value


class SharedMemoryMarketData:
    """The shared-memory implementation of ``MarketDataStore``. Use :meth:`create` or
    :meth:`attach`; ``with`` closes (and, for the owner, unlinks)."""

    def __init__(self, segment: Segment, layout: L.ShmLayout, registry: PairRegistry,
                 max_batch: int = 1024):
        if layout.n_pairs != len(registry):
            raise LayoutMismatchError(
                f"segment {segment.name!r} has {layout.n_pairs} pairs, the registry {len(registry)}")
        self.segment = segment
        self.layout = layout
        self.registry = registry
        self.max_batch = max_batch
        self.arrays = layout.views(segment.buf)
        self._intervals = np.array(list(INTERVALS.values()), dtype=np.int64)
        self._candle_open = np.zeros(layout.n_pairs * len(INTERVALS), dtype=np.uint8)
        self._trade_open = np.zeros(layout.n_pairs, dtype=np.uint8)
        self._stripe_open = np.zeros(layout.stripes, dtype=np.uint8)
        self._evict_seqs = np.zeros(layout.stripe_slots, dtype=np.int64)
        self._evict_rows = np.zeros((layout.stripe_slots, L.ORDER_FIELDS), dtype=np.int64)
        self._order_row = np.zeros(L.ORDER_FIELDS, dtype=np.int64)

    @classmethod
    def create(cls, registry: PairRegistry, *, candles_kept: int = 1440,
               trades_kept: int = 1000, depth: int = 50, order_capacity: int = 1 << 16,
               prefix: str = DEFAULT_PREFIX, max_batch: int = 1024) -> "SharedMemoryMarketData":
        """Create and own a new segment named ``<prefix>-marketdata-<pid>-<random>``."""
        layout = L.ShmLayout.for_capacity(len(registry), candles_kept=candles_kept,
                                          trades_kept=trades_kept, depth=depth,
                                          order_capacity=order_capacity)
        segment = Segment.create(segment_name("marketdata", prefix), layout.total_bytes)
        try:
            arrays = layout.views(segment.buf)
            layout.initialize(arrays, os.getpid())
            K.publish_magic(arrays.header)
            del arrays
            return cls(segment, layout, registry, max_batch)
        except BaseException:
            segment.unlink()
            segment.close()
            raise

    @classmethod
    def attach(cls, name: str, registry: PairRegistry,
               max_batch: int = 1024) -> "SharedMemoryMarketData":
        """Map an existing segment; ``LayoutMismatchError`` if it is not one for ``registry``."""
        segment = Segment.attach(name)
        try:
            return cls(segment, L.ShmLayout.read(segment.buf, name), registry, max_batch)
        except BaseException:
            segment.close()
            raise

    @property
    def name(self) -> str:
        return self.segment.name

    @property
    def order_drops(self) -> int:
        """Order updates dropped because a stripe was full of open orders."""
        return int(self.arrays.order_meta.reshape(-1, L.LINE)[:, L.STRIPE_DROPPED].sum())

    def close(self) -> None:
        """Unmap; the owner also unlinks the segment."""
        if self.arrays is None:
            return
        self.arrays = None
        if self.segment.owner:
            self.segment.unlink()
        self.segment.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writers --------------------------------------------------------------------------
    def apply(self, events: np.ndarray) -> None:
        if events.dtype != EVENT_DTYPE:
            raise RingexError(f"expected EVENT_DTYPE records, got {events.dtype}")
        events = np.ascontiguousarray(events)
        for start in range(0, events.shape[0], self.max_batch):
            K.apply_events(self.arrays, events[start:start + self.max_batch], self._intervals,
                           self._candle_open, self._trade_open, self._stripe_open,
                           self._evict_seqs, self._evict_rows)

    def put_book(self, pair_id: int, seq: int, bids: Sequence | np.ndarray,
                 asks: Sequence | np.ndarray) -> bool:
        if not 0 <= int(pair_id) < self.layout.n_pairs:
            raise UnknownPairError(pair_id)
        bid_levels = np.ascontiguousarray(np.asarray(bids, dtype=np.int64).reshape(-1, 3))
        ask_levels = np.ascontiguousarray(np.asarray(asks, dtype=np.int64).reshape(-1, 3))
        return bool(K.put_book(self.arrays, int(pair_id), int(seq), bid_levels, ask_levels))

    # -- readers --------------------------------------------------------------------------
    def _pair_id(self, pair: int | str) -> int | None:
        try:
            return self.registry.get(pair).pair_id
        except UnknownPairError:
            return None

    def last_seq(self) -> int:
        return int(K.read_last_seq(self.arrays.header))

    def pair_status(self, pair: int | str) -> PairStatus | None:
        pair_id = self._pair_id(pair)
        if pair_id is None:
            return None
        status = int(K.read_pair_status(self.arrays, pair_id))
        return _enum(PairStatus, status) if status else PairStatus.TRADING

    def candles(self, pair: int | str, interval: str, start_ms: int | None = None,
                end_ms: int | None = None, limit: int = DEFAULT_CANDLE_LIMIT) -> list[Candle]:
        ms = interval_ms(interval)
        pair_id = self._pair_id(pair)
        if pair_id is None or limit <= 0:
            return []
        limit = min(int(limit), self.layout.candles_kept)
        out = np.empty((limit, L.CANDLE_FIELDS), dtype=np.int64)
        count = K.read_candles(
            self.arrays, pair_id, INTERVAL_NAMES.index(interval), ms,
            _INT64_MIN if start_ms is None else int(start_ms),
            _INT64_MAX if end_ms is None else int(end_ms),
            start_ms is not None, limit, out)
        return [Candle(pair_id, ms, *row) for row in out[:count].tolist()]

    def trades(self, pair: int | str, limit: int = DEFAULT_TRADE_LIMIT) -> list[Trade]:
        pair_id = self._pair_id(pair)
        if pair_id is None or limit <= 0:
            return []
        limit = min(int(limit), self.layout.trades_kept)
        out = np.empty((limit, L.TRADE_FIELDS), dtype=np.int64)
        count = K.read_trades(self.arrays, pair_id, limit, out)
        return [
            Trade(pair_id, seq, ts, price, qty, _enum(Side, side), taker, maker)
            for seq, ts, price, qty, side, taker, maker, _ in out[:count].tolist()
        ]

    def book(self, pair: int | str, depth: int = 10) -> Book | None:
        pair_id = self._pair_id(pair)
        if pair_id is None:
            return None
        depth = max(0, min(int(depth), self.layout.depth))
        bids = np.empty((depth, 3), dtype=np.int64)
        asks = np.empty((depth, 3), dtype=np.int64)
        seq, n_bids, n_asks = K.read_book(self.arrays, pair_id, depth, bids, asks)
        return Book(int(seq), [tuple(level) for level in bids[:n_bids].tolist()],
                    [tuple(level) for level in asks[:n_asks].tolist()])

    def order(self, order_id: int) -> OrderState | None:
        row = np.empty(L.ORDER_FIELDS, dtype=np.int64)
        if not K.read_order(self.arrays, int(order_id), row):
            return None
        (order_id, pair_id, account, client_order_id, side, order_type, tif, status, reason,
         price, quantity, filled, leaves, seq, timestamp_ns, _) = row.tolist()
        return OrderState(order_id, pair_id, account, client_order_id, _enum(Side, side),
                          order_type, tif, OrderStatus(status), _enum(Reason, reason), price,
                          quantity, filled, leaves, seq, timestamp_ns)
