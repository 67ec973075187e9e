"""The arrays that hold the whole book, and their allocation.

Everything the matcher knows lives in one :class:`BookState`, a namedtuple of numpy arrays,
so it can be passed to cached numba functions (``jitclass`` cannot be cached) and written to
a snapshot as-is. The engine process is the single writer of every array.

Layout
------
``meta`` holds the scalar counters (indexes ``META_*``). Per pair ``p``: the static band and
limits, its status, and ``level_base[p]``/``word_base[p]``, where its levels and bitmap words
start. Side ``s`` (0 = bids, 1 = asks) of pair ``p`` owns ``n_levels[p]`` consecutive level
rows from ``level_base[p] + s * n_levels[p]`` (row = price - band_lo) and ``n_words[p]``
bitmap words from ``word_base[p] + s * n_words[p]``.

The order pool has ``capacity + 1`` rows. Rows ``0 .. capacity-1`` are resting orders or free
(free rows form a LIFO list through ``o_next``); row ``capacity`` is the *taker row*, where an
incoming order lives while it matches, before it is given a real row (if it rests).

Invariants (checked by ``inspect.check_invariants``): a level's ``lvl_qty`` is the sum of its
orders' ``o_leaves`` and ``lvl_count`` their number; a level's bitmap bit is set iff its count
is non-zero; ``best[2p+s]`` is the best occupied price whenever ``side_orders[2p+s] > 0``.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Sequence

import numpy as np

from ringex.book.index import new_index
from ringex.pairs import Pair
from ringex.records import PairStatus

__all__ = [
    "BookState",
    "allocate",
    "META_NEXT_SEQ",
    "META_NEXT_COMMAND",
    "META_LIVE",
    "META_FREE_HEAD",
    "META_HIGH_WATER",
    "META_CAPACITY",
]

META_NEXT_SEQ = 0
META_NEXT_COMMAND = 1
META_LIVE = 2
META_FREE_HEAD = 3
META_HIGH_WATER = 4  # one past the highest pool row ever used
META_CAPACITY = 5
_META_SIZE = 8

BookState = namedtuple(
    "BookState",
    [
        "meta",
        # per pair
        "pair_status",
        "band_lo",
        "band_hi",
        "min_qty",
        "max_qty",
        "n_levels",
        "level_base",
        "n_words",
        "word_base",
        # per pair and side (index 2 * pair + side)
        "best",
        "side_orders",
        # per level row
        "lvl_head",
        "lvl_tail",
        "lvl_qty",
        "lvl_count",
        # occupancy bitmap, one bit per level row
        "bitmap",
        # order pool (capacity + 1 rows; the last is the taker row)
        "o_id",
        "o_account",
        "o_coid",
        "o_price",
        "o_qty",
        "o_filled",
        "o_leaves",
        "o_ts",
        "o_pair",
        "o_prev",
        "o_next",
        "o_side",
        "o_type",
        "o_tif",
        "o_flags",
        "o_stp",
        # indexes
        "id_index",
        "coid_index",
        # cancel-all's work area, one row per pool row
        "scratch",
    ],
)


def allocate(pairs: Sequence[Pair], order_capacity: int) -> BookState:
    """Zeroed state for ``pairs`` (``pair_id`` must equal position) and a pool of orders."""
    if order_capacity < 1:
        raise ValueError("order_capacity must be >= 1")
    n_pairs = len(pairs)
    for position, pair in enumerate(pairs):
        if pair.pair_id != position:
            raise ValueError(f"pair {pair.name!r} has pair_id {pair.pair_id}, expected {position}")
    band_lo = np.array([p.band_lo_ticks for p in pairs], dtype=np.int64)
    band_hi = np.array([p.band_hi_ticks for p in pairs], dtype=np.int64)
    n_levels = band_hi - band_lo + 1
    n_words = (n_levels + 63) // 64
    level_base = np.zeros(n_pairs, dtype=np.int64)
    word_base = np.zeros(n_pairs, dtype=np.int64)
    if n_pairs:
        level_base[1:] = np.cumsum(2 * n_levels)[:-1]
        word_base[1:] = np.cumsum(2 * n_words)[:-1]
    total_levels = int((2 * n_levels).sum())
    total_words = int((2 * n_words).sum())
    rows = order_capacity + 1

    meta = np.zeros(_META_SIZE, dtype=np.int64)
    meta[META_NEXT_SEQ] = 1
    meta[META_FREE_HEAD] = 0
    meta[META_CAPACITY] = order_capacity
    o_next = np.arange(1, rows + 1, dtype=np.int32)
    o_next[order_capacity - 1] = -1
    o_next[order_capacity] = -1

    return BookState(
        meta=meta,
        pair_status=np.full(n_pairs, int(PairStatus.TRADING), dtype=np.int64),
        band_lo=band_lo,
        band_hi=band_hi,
        min_qty=np.array([p.min_qty_lots for p in pairs], dtype=np.int64),
        max_qty=np.array([p.max_qty_lots for p in pairs], dtype=np.int64),
        n_levels=n_levels,
        level_base=level_base,
        n_words=n_words,
        word_base=word_base,
        best=np.zeros(2 * n_pairs, dtype=np.int64),
        side_orders=np.zeros(2 * n_pairs, dtype=np.int64),
        lvl_head=np.full(total_levels, -1, dtype=np.int32),
        lvl_tail=np.full(total_levels, -1, dtype=np.int32),
        lvl_qty=np.zeros(total_levels, dtype=np.int64),
        lvl_count=np.zeros(total_levels, dtype=np.int32),
        bitmap=np.zeros(total_words, dtype=np.uint64),
        o_id=np.zeros(rows, dtype=np.int64),
        o_account=np.zeros(rows, dtype=np.int64),
        o_coid=np.zeros(rows, dtype=np.int64),
        o_price=np.zeros(rows, dtype=np.int64),
        o_qty=np.zeros(rows, dtype=np.int64),
        o_filled=np.zeros(rows, dtype=np.int64),
        o_leaves=np.zeros(rows, dtype=np.int64),
        o_ts=np.zeros(rows, dtype=np.int64),
        o_pair=np.zeros(rows, dtype=np.int32),
        o_prev=np.full(rows, -1, dtype=np.int32),
        o_next=o_next,
        o_side=np.zeros(rows, dtype=np.uint8),
        o_type=np.zeros(rows, dtype=np.uint8),
        o_tif=np.zeros(rows, dtype=np.uint8),
        o_flags=np.zeros(rows, dtype=np.uint8),
        o_stp=np.zeros(rows, dtype=np.uint8),
        id_index=new_index(order_capacity, 2),
        coid_index=new_index(order_capacity, 3),
        scratch=np.zeros(rows, dtype=np.int64),
    )
