"""Read-only walks over the book: canonical state words, invariant checks, L2 depth.

Nothing here mutates state, and nothing here is on the matching hot path.
"""

from __future__ import annotations

import numpy as np

from ringex.book.index import index_find
from ringex.book.levels import level_row, next_occupied
from ringex.book.state import (
    META_CAPACITY,
    META_HIGH_WATER,
    META_LIVE,
    META_NEXT_COMMAND,
    META_NEXT_SEQ,
)
from ringex.jit import njit
from ringex.statehash import ORDER_WORDS

__all__ = ["canonical_words", "check_book", "depth_levels", "INVARIANT_MESSAGES"]


@njit
def _first_offset(st, pair, s):
    """Offset of the best level of side ``s``, or -1 if the side is empty."""
    if st.side_orders[2 * pair + s] == 0:
        return -1
    return st.best[2 * pair + s] - st.band_lo[pair]


@njit
def _next_worse(st, pair, s, offset):
    if s == 0:
        if offset == 0:
            return -1
        return next_occupied(st, pair, s, offset - 1, False)
    if offset + 1 >= st.n_levels[pair]:
        return -1
    return next_occupied(st, pair, s, offset + 1, False)


@njit(allocates=True)
def canonical_words(st):
    """The canonical int64 array of docs/matching.md ("State hash")."""
    n_pairs = st.pair_status.shape[0]
    words = np.zeros(3 + 4 * n_pairs + ORDER_WORDS * st.meta[META_LIVE], dtype=np.int64)
    words[0] = st.meta[META_NEXT_SEQ]
    words[1] = st.meta[META_NEXT_COMMAND]
    words[2] = n_pairs
    w = 3
    for pair in range(n_pairs):
        words[w] = pair
        words[w + 1] = st.pair_status[pair]
        w += 2
        for s in range(2):
            words[w] = st.side_orders[2 * pair + s]
            w += 1
            offset = _first_offset(st, pair, s)
            while offset >= 0:
                slot = st.lvl_head[level_row(st, pair, s, st.band_lo[pair] + offset)]
                while slot >= 0:
                    words[w] = st.o_id[slot]
                    words[w + 1] = st.o_account[slot]
                    words[w + 2] = st.o_coid[slot]
                    words[w + 3] = st.o_side[slot]
                    words[w + 4] = st.o_price[slot]
                    words[w + 5] = st.o_qty[slot]
                    words[w + 6] = st.o_filled[slot]
                    words[w + 7] = st.o_leaves[slot]
                    words[w + 8] = st.o_flags[slot]
                    words[w + 9] = st.o_stp[slot]
                    words[w + 10] = st.o_ts[slot]
                    w += ORDER_WORDS
                    slot = st.o_next[slot]
                offset = _next_worse(st, pair, s, offset)
    return words


INVARIANT_MESSAGES = {
    1: "crossed book: best bid >= best ask",
    2: "a resting order has leaves_qty <= 0",
    3: "a resting order has quantity != filled_qty + leaves_qty",
    4: "a level's total differs from the sum of its orders' leaves",
    5: "a level's order count or FIFO links are inconsistent",
    6: "a level's bitmap bit disagrees with its occupancy",
    7: "a side's best price is not its best occupied level",
    8: "a side's order count disagrees with its levels",
    9: "the order-id index does not point at exactly the live orders",
    10: "the client-order-id index does not point at exactly the live orders",
    11: "the live-order count disagrees with the pool",
    12: "a resting order sits on the wrong pair, side or price level",
}


@njit
def check_book(st):
    """0 if every invariant holds, else ``(code, detail)`` with a key of INVARIANT_MESSAGES
    and the pair or pool row concerned."""
    n_pairs = st.pair_status.shape[0]
    seen = 0
    for pair in range(n_pairs):
        for s in range(2):
            side_total = 0
            best_offset = -1
            for offset in range(st.n_levels[pair]):
                row = level_row(st, pair, s, st.band_lo[pair] + offset)
                word = st.word_base[pair] + s * st.n_words[pair] + (offset >> 6)
                bit = (st.bitmap[word] >> np.uint64(offset & 63)) & np.uint64(1)
                if (bit != 0) != (st.lvl_count[row] > 0):
                    return 6, pair
                count = 0
                total = 0
                prev = -1
                slot = st.lvl_head[row]
                while slot >= 0:
                    if count > st.meta[META_CAPACITY] or st.o_prev[slot] != prev:
                        return 5, pair
                    if (st.o_pair[slot] != pair or st.o_side[slot] != s + 1
                            or st.o_price[slot] != st.band_lo[pair] + offset):
                        return 12, slot
                    if st.o_leaves[slot] <= 0:
                        return 2, slot
                    if st.o_qty[slot] != st.o_filled[slot] + st.o_leaves[slot]:
                        return 3, slot
                    if index_find(st.id_index, st.o_id[slot], 0) != slot:
                        return 9, slot
                    if st.o_coid[slot] != 0 and index_find(
                            st.coid_index, st.o_account[slot], st.o_coid[slot]) != slot:
                        return 10, slot
                    total += st.o_leaves[slot]
                    count += 1
                    prev = slot
                    slot = st.o_next[slot]
                if count != st.lvl_count[row] or prev != st.lvl_tail[row]:
                    return 5, pair
                if total != st.lvl_qty[row]:
                    return 4, pair
                if count > 0:
                    side_total += count
                    if s == 1 and best_offset < 0:
                        best_offset = offset
                    if s == 0:
                        best_offset = offset
            if side_total != st.side_orders[2 * pair + s]:
                return 8, pair
            if side_total > 0 and st.best[2 * pair + s] != st.band_lo[pair] + best_offset:
                return 7, pair
            seen += side_total
        if st.side_orders[2 * pair] > 0 and st.side_orders[2 * pair + 1] > 0:
            if st.best[2 * pair] >= st.best[2 * pair + 1]:
                return 1, pair
    if seen != st.meta[META_LIVE]:
        return 11, 0
    live_rows = 0
    for slot in range(st.meta[META_HIGH_WATER]):
        if st.o_id[slot] != 0:
            live_rows += 1
    if live_rows != seen:
        return 11, 0
    indexed = 0
    for row in range(st.id_index.shape[0]):
        if st.id_index[row, 1] != 0:
            indexed += 1
    if indexed != seen:
        return 9, 0
    return 0, 0


@njit(allocates=True)
def depth_levels(st, pair, s, max_levels):
    """Up to ``max_levels`` rows of ``[price, total leaves, order count]``, best first."""
    out = np.zeros((max_levels, 3), dtype=np.int64)
    n = 0
    offset = _first_offset(st, pair, s)
    while offset >= 0 and n < max_levels:
        row = level_row(st, pair, s, st.band_lo[pair] + offset)
        out[n, 0] = st.band_lo[pair] + offset
        out[n, 1] = st.lvl_qty[row]
        out[n, 2] = st.lvl_count[row]
        n += 1
        offset = _next_worse(st, pair, s, offset)
    return out[:n]
