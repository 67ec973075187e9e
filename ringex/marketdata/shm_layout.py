"""Every offset of the shared-memory market-data segment, in one place.

The segment is one array of int64 cells, cut into sections (each starts on a 64-byte line)::

    header        32 cells   descriptor (owner, once, MAGIC last) | LAST_SEQ line | counters line
    candle_meta   [pair][interval] one line each: VERSION | SEQ | NEWEST | -
    candles       [pair][interval][K slots][CANDLE_FIELDS]   slot = (start_ms // ms) % K
    trade_meta    [pair] one line: VERSION | COUNT | PAIR_STATUS | -   (status 0: none seen)
    trades        [pair][N slots][TRADE_FIELDS]               slot = n % N, n = COUNT before
    book_meta     [pair] one line: VERSION | SEQ | N_BIDS | N_ASKS | -
    book          [pair][side: 0 bids, 1 asks][D levels][price, qty, count]
    order_meta    [stripe] one line: VERSION | COUNT | EVICTED | DROPPED | -
    orders        [stripe][slots][ORDER_FIELDS]   open addressing, linear probing; ORDER_ID 0 = empty

Writers (see ``docs/marketdata.md``): the market-data publisher is the only writer of
everything but the book; the book area has a single writer of its own (``put_book``). Each
``VERSION`` cell is a seqlock: odd while its area is being written. Meta cells are 1-D so the
``ringex.ring.atomics`` intrinsics can address them; a meta line's cell ``k`` of area ``a`` is
``a * LINE + k``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from ringex.errors import LayoutMismatchError
from ringex.marketdata.interface import INTERVALS

__all__ = ["ShmLayout", "ShmArrays", "MAGIC", "LAYOUT_VERSION"]

MAGIC = 0x3130544B4D585252  # b"RRXMKT01" little-endian
LAYOUT_VERSION = 1
LINE = 8  # int64 cells per 64-byte cache line

# header: line 0-1 descriptor, line 2 LAST_SEQ, line 3 unused
MAGIC_CELL, VERSION_CELL, N_PAIRS, N_INTERVALS = 0, 1, 2, 3
CANDLES_KEPT, TRADES_KEPT, DEPTH, STRIPES, STRIPE_SLOTS, TOTAL_BYTES, OWNER_PID = 4, 5, 6, 7, 8, 9, 10
LAST_SEQ = 16
HEADER_CELLS = 32

# meta lines
VERSION = 0
CANDLE_SEQ, CANDLE_NEWEST = 1, 2
TRADE_COUNT = 1
PAIR_STATUS = 2  # in trade_meta: the pair's last PAIR_STATUS event (written by apply)
BOOK_SEQ, BOOK_N_BIDS, BOOK_N_ASKS = 1, 2, 3
STRIPE_COUNT, STRIPE_EVICTED, STRIPE_DROPPED = 1, 2, 3

# candle record
C_START, C_OPEN, C_HIGH, C_LOW, C_CLOSE, C_VOLUME, C_TRADES, C_FIRST_SEQ, C_LAST_SEQ = range(9)
CANDLE_FIELDS = 9
# trade record
T_SEQ, T_TIMESTAMP, T_PRICE, T_QTY, T_SIDE, T_TAKER, T_MAKER = range(7)
TRADE_FIELDS = 8
# order record
(O_ORDER_ID, O_PAIR, O_ACCOUNT, O_CLIENT_ORDER_ID, O_SIDE, O_TYPE, O_TIF, O_STATUS, O_REASON,
 O_PRICE, O_QUANTITY, O_FILLED, O_LEAVES, O_SEQ, O_TIMESTAMP) = range(15)
ORDER_FIELDS = 16
LEVEL_FIELDS = 3

MAX_STRIPES = 64


class ShmArrays(NamedTuple):
    """Views of one segment; compiled code takes this tuple as an argument."""

    header: np.ndarray
    candle_meta: np.ndarray
    candles: np.ndarray
    trade_meta: np.ndarray
    trades: np.ndarray
    book_meta: np.ndarray
    book: np.ndarray
    order_meta: np.ndarray
    orders: np.ndarray


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


@dataclasses.dataclass(frozen=True)
class ShmLayout:
    n_pairs: int
    candles_kept: int
    trades_kept: int
    depth: int
    stripes: int
    stripe_slots: int

    @classmethod
    def for_capacity(cls, n_pairs: int, *, candles_kept: int, trades_kept: int, depth: int,
                     order_capacity: int) -> "ShmLayout":
        """``order_capacity`` slots (rounded up to a power of two) spread over stripes."""
        if min(n_pairs, candles_kept, trades_kept, depth) < 1 or order_capacity < 16:
            raise ValueError("n_pairs, candles_kept, trades_kept, depth >= 1; order_capacity >= 16")
        total = _pow2_at_least(order_capacity)
        stripes = min(MAX_STRIPES, total // 16)
        return cls(n_pairs, candles_kept, trades_kept, depth, stripes, total // stripes)

    @property
    def n_intervals(self) -> int:
        return len(INTERVALS)

    def _sections(self) -> list[tuple[str, tuple[int, ...]]]:
        p, ni = self.n_pairs, self.n_intervals
        return [
            ("header", (HEADER_CELLS,)),
            ("candle_meta", (p * ni * LINE,)),
            ("candles", (p, ni, self.candles_kept, CANDLE_FIELDS)),
            ("trade_meta", (p * LINE,)),
            ("trades", (p, self.trades_kept, TRADE_FIELDS)),
            ("book_meta", (p * LINE,)),
            ("book", (p, 2, self.depth, LEVEL_FIELDS)),
            ("order_meta", (self.stripes * LINE,)),
            ("orders", (self.stripes, self.stripe_slots, ORDER_FIELDS)),
        ]

    @property
    def total_bytes(self) -> int:
        cells = 0
        for _, shape in self._sections():
            cells += -(-int(np.prod(shape)) // LINE) * LINE
        return cells * 8

    def views(self, buf) -> ShmArrays:
        cells = np.frombuffer(buf, dtype=np.int64, count=self.total_bytes // 8)
        views = {}
        offset = 0
        for name, shape in self._sections():
            size = int(np.prod(shape))
            views[name] = cells[offset:offset + size].reshape(shape)
            offset += -(-size // LINE) * LINE
        return ShmArrays(**views)

    def initialize(self, arrays: ShmArrays, owner_pid: int) -> None:
        """Owner only, on a fresh (zeroed) segment: everything but MAGIC."""
        header = arrays.header
        header[VERSION_CELL] = LAYOUT_VERSION
        header[N_PAIRS] = self.n_pairs
        header[N_INTERVALS] = self.n_intervals
        header[CANDLES_KEPT] = self.candles_kept
        header[TRADES_KEPT] = self.trades_kept
        header[DEPTH] = self.depth
        header[STRIPES] = self.stripes
        header[STRIPE_SLOTS] = self.stripe_slots
        header[TOTAL_BYTES] = self.total_bytes
        header[OWNER_PID] = owner_pid
        arrays.candles[..., C_START] = -1
        arrays.candle_meta.reshape(-1, LINE)[:, CANDLE_NEWEST] = -1

    @classmethod
    def read(cls, buf, name: str) -> "ShmLayout":
        """The layout an existing segment declares; ``LayoutMismatchError`` if it is not one."""
        if len(buf) < HEADER_CELLS * 8:
            raise LayoutMismatchError(f"segment {name!r} is too small for market data")
        header = np.frombuffer(buf, dtype=np.int64, count=HEADER_CELLS)
        if int(header[MAGIC_CELL]) != MAGIC or int(header[VERSION_CELL]) != LAYOUT_VERSION:
            raise LayoutMismatchError(
                f"segment {name!r} is not a market-data segment of layout {LAYOUT_VERSION} "
                f"(magic {int(header[MAGIC_CELL]):#x}, version {int(header[VERSION_CELL])})")
        if int(header[N_INTERVALS]) != len(INTERVALS):
            raise LayoutMismatchError(f"segment {name!r} has {int(header[N_INTERVALS])} intervals")
        layout = cls(int(header[N_PAIRS]), int(header[CANDLES_KEPT]), int(header[TRADES_KEPT]),
                     int(header[DEPTH]), int(header[STRIPES]), int(header[STRIPE_SLOTS]))
        if layout.total_bytes != int(header[TOTAL_BYTES]) or layout.total_bytes > len(buf):
            raise LayoutMismatchError(f"segment {name!r}: size does not match its header")
        return layout
