"""The arrays that hold the whole book, and their allocation.

Everything the matcher knows lives in one :class:`BookState`, a namedtuple of a few numpy
arrays, so it can be passed to cached numba functions (``jitclass`` cannot be cached) and
inspected or snapshotted from Python. The engine process is the single writer of every array.

Layout
------
- ``meta``: scalar counters, indexed by ``META_*``.
- ``pairs`` (``PAIR_DTYPE``, one row per pair): status, static band and quantity limits.
- ``sides`` (``SIDE_DTYPE``, row ``2 * pair + s``, ``s`` = 0 bids, 1 asks): best price, order
  count, and where the side's level rows and bitmap words start.
- ``levels`` (``LEVEL_DTYPE``): one row per price of the band and side,
  ``sides[k].level_base + (price - band_lo)``.
- ``bitmap``: one bit per level row, set iff the level holds orders.
- ``orders`` (``ORDER_DTYPE``): the pool, ``capacity + 1`` rows. Rows ``0 .. capacity-1``
  hold resting orders or are free (a LIFO list through ``next``); row ``capacity`` is the
  *taker row*, where an incoming order lives while it matches, before it rests.
- ``id_index``, ``coid_index``: see ``ringex.book.index``. ``coid_index`` holds the keys of live
  orders (value: their pool row) and of done ones still in the dedup window (value: the
  ``DONE_SLOT`` marker), so a NEW's duplicate check is one lookup.
- ``coid_window``: the dedup window of done ``(account, client_order_id)`` keys, a FIFO ring of
  ``client_id_window`` rows ``[account, client_order_id]``; the oldest sits at
  ``meta[META_WINDOW_HEAD]`` and ``meta[META_WINDOW_COUNT]`` rows are held
  (``ringex.book.client_ids``).
- ``scratch``: cancel-all's work area.

Records are row-major so that matching against a maker touches one or two cache lines, not
one line per field.

Invariants (checked by ``inspect.check_book``): a level's ``quantity`` is the sum of its
orders' ``leaves`` and ``count`` their number; a level's bit is set iff ``count > 0``;
``sides[k].best`` is the best occupied price whenever ``sides[k].order_count > 0``.
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
    "prefault",
    "ORDER_DTYPE",
    "LEVEL_DTYPE",
    "SIDE_DTYPE",
    "PAIR_DTYPE",
    "META_NEXT_SEQ",
    "META_NEXT_COMMAND",
    "META_LIVE",
    "META_FREE_HEAD",
    "META_HIGH_WATER",
    "META_CAPACITY",
    "META_WINDOW_HEAD",
    "META_WINDOW_COUNT",
]

META_NEXT_SEQ = 0
META_NEXT_COMMAND = 1
META_LIVE = 2
META_FREE_HEAD = 3
META_HIGH_WATER = 4  # one past the highest pool row ever used
META_CAPACITY = 5
META_WINDOW_HEAD = 6  # ring row of the oldest key in coid_window
META_WINDOW_COUNT = 7  # keys held in coid_window
_META_SIZE = 8

ORDER_DTYPE = np.dtype(
    [
        # the fields matching reads first share the first cache line
        ("price", "<i8"),
        ("leaves", "<i8"),
        ("next", "<i4"),
        ("prev", "<i4"),
        ("account", "<i8"),
        ("order_id", "<i8"),  # 0 marks a free row
        ("filled", "<i8"),
        ("quantity", "<i8"),
        ("client_order_id", "<i8"),
        ("timestamp_ns", "<i8"),
        ("pair_id", "<i4"),
        ("side", "u1"),
        ("order_type", "u1"),
        ("tif", "u1"),
        ("flags", "u1"),
        ("stp", "u1"),
    ],
    align=True,
)

LEVEL_DTYPE = np.dtype(
    [("head", "<i4"), ("tail", "<i4"), ("count", "<i4"), ("_pad", "<i4"), ("quantity", "<i8")],
    align=True,
)

SIDE_DTYPE = np.dtype(
    [
        ("best", "<i8"),
        ("order_count", "<i8"),
        ("level_base", "<i8"),
        ("word_base", "<i8"),
        ("n_words", "<i8"),
    ],
    align=True,
)

PAIR_DTYPE = np.dtype(
    [
        ("status", "<i8"),
        ("band_lo", "<i8"),
        ("band_hi", "<i8"),
        ("min_qty", "<i8"),
        ("max_qty", "<i8"),
        ("n_levels", "<i8"),
    ],
    align=True,
)

BookState = namedtuple(
    "BookState",
    ["meta", "pairs", "sides", "levels", "bitmap", "orders", "id_index", "coid_index",
     "coid_window", "scratch"],
)


def allocate(pairs: Sequence[Pair], order_capacity: int, client_id_window: int = 0) -> BookState:
    """Empty state for ``pairs`` (``pair_id`` must equal position), a pool of orders and a
    dedup window of ``client_id_window`` done client order ids (0: none).

    Level rows and bitmap words are allocated for every price of every band; pages that are
    never touched cost no memory (``np.zeros`` maps them lazily), nor do the window's.
    """
    if order_capacity < 1:
        raise ValueError("order_capacity must be >= 1")
    if client_id_window < 0:
        raise ValueError("client_id_window must be >= 0")
    for position, pair in enumerate(pairs):
        if pair.pair_id != position:
            raise ValueError(f"pair {pair.name!r} has pair_id {pair.pair_id}, expected {position}")
    pair_rows = np.zeros(len(pairs), dtype=PAIR_DTYPE)
    side_rows = np.zeros(2 * len(pairs), dtype=SIDE_DTYPE)
    level_base = 0
    word_base = 0
    for pair in pairs:
        n_levels = pair.band_hi_ticks - pair.band_lo_ticks + 1
        if pair.band_lo_ticks < 1 or n_levels < 1:
            raise ValueError(f"pair {pair.name!r} needs a price band of positive ticks")
        if not 1 <= pair.min_qty_lots <= pair.max_qty_lots:
            raise ValueError(f"pair {pair.name!r} needs 1 <= min_qty_lots <= max_qty_lots")
        n_words = (n_levels + 63) // 64
        pair_rows[pair.pair_id] = (
            int(PairStatus.TRADING),
            pair.band_lo_ticks,
            pair.band_hi_ticks,
            pair.min_qty_lots,
            pair.max_qty_lots,
            n_levels,
        )
        for s in range(2):
            side_rows[2 * pair.pair_id + s] = (0, 0, level_base, word_base, n_words)
            level_base += n_levels
            word_base += n_words
    levels = np.zeros(level_base, dtype=LEVEL_DTYPE)
    levels["head"] = -1
    levels["tail"] = -1

    rows = order_capacity + 1
    orders = np.zeros(rows, dtype=ORDER_DTYPE)
    orders["next"] = np.arange(1, rows + 1)
    orders["next"][order_capacity - 1 :] = -1
    orders["prev"] = -1

    meta = np.zeros(_META_SIZE, dtype=np.int64)
    meta[META_NEXT_SEQ] = 1
    meta[META_CAPACITY] = order_capacity
    return BookState(
        meta=meta,
        pairs=pair_rows,
        sides=side_rows,
        levels=levels,
        bitmap=np.zeros(word_base, dtype=np.uint64),
        orders=orders,
        id_index=new_index(order_capacity, 2),
        coid_index=new_index(order_capacity + client_id_window, 3, prefault=False),
        coid_window=np.zeros((client_id_window, 2), dtype=np.int64),
        scratch=np.zeros(rows, dtype=np.int64),
    )


_PAGE = 4096


def prefault(arrays) -> int:
    """Map every page of ``arrays`` (a :class:`BookState`, or any arrays) now; returns the
    bytes they cover.

    :func:`allocate` leaves the bitmap, the client-id index and window and the scratch
    lazily mapped, which is right for tools and tests. A running engine must not pay for
    those pages inside the matching loop: numpy asks for transparent huge pages on large
    arrays, and on this kernel (``defrag=madvise``) the first write into each 2 MiB region
    zeroes, and may compact, a huge page. The first real batch of a fresh engine (1M order
    capacity) took ~230 ms instead of ~0.2 ms. Each page gets back the byte it holds, so
    this is safe on a restored state too; the caller is the state's only user (at start).
    """
    total = 0
    for array in arrays:
        if array.size == 0 or not array.flags.c_contiguous:
            continue
        flat = array.reshape(-1).view(np.uint8)
        touched = flat[::_PAGE]
        flat[::_PAGE] = touched.copy()  # a copy: numpy skips a self-assignment
        total += flat.shape[0]
    return total
