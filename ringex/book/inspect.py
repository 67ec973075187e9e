"""Read-only walks over the book: canonical state words, invariant checks, L2 depth.

Nothing here mutates state, and nothing here is on the matching hot path.
"""

from __future__ import annotations

import numpy as np

from ringex.book.client_ids import DONE_SLOT
from ringex.book.index import index_find
from ringex.book.levels import level_row, next_occupied
from ringex.book.state import (
    META_CAPACITY,
    META_HIGH_WATER,
    META_LIVE,
    META_NEXT_COMMAND,
    META_NEXT_SEQ,
    META_WINDOW_COUNT,
    META_WINDOW_HEAD,
)
from ringex.jit import njit
from ringex.statehash import ORDER_WORDS, WINDOW_KEY_WORDS

__all__ = ["canonical_words", "check_book", "depth_levels", "fill_depth", "INVARIANT_MESSAGES"]


@njit
def _first_offset(st, pair, s):
    """Offset of the best level of side ``s``, or -1 if the side is empty."""
    if st.sides[2 * pair + s].order_count == 0:
        return -1
    return st.sides[2 * pair + s].best - st.pairs[pair].band_lo


@njit
def _next_worse(st, pair, s, offset):
    if s == 0:
        if offset == 0:
            return -1
        return next_occupied(st, pair, s, offset - 1, False)
    if offset + 1 >= st.pairs[pair].n_levels:
        return -1
    return next_occupied(st, pair, s, offset + 1, False)


@njit(allocates=True)
def canonical_words(st):
    """The canonical int64 array of docs/matching.md ("State hash")."""
    n_pairs = st.pairs.shape[0]
    n_done = st.meta[META_WINDOW_COUNT]
    words = np.zeros(3 + 4 * n_pairs + ORDER_WORDS * st.meta[META_LIVE] + 1
                     + WINDOW_KEY_WORDS * n_done, dtype=np.int64)
    words[0] = st.meta[META_NEXT_SEQ]
    words[1] = st.meta[META_NEXT_COMMAND]
    words[2] = n_pairs
    w = 3
    for pair in range(n_pairs):
        words[w] = pair
        words[w + 1] = st.pairs[pair].status
        w += 2
        for s in range(2):
            words[w] = st.sides[2 * pair + s].order_count
            w += 1
            offset = _first_offset(st, pair, s)
            while offset >= 0:
                slot = st.levels[level_row(st, pair, s, st.pairs[pair].band_lo + offset)].head
                while slot >= 0:
                    words[w] = st.orders[slot].order_id
                    words[w + 1] = st.orders[slot].account
                    words[w + 2] = st.orders[slot].client_order_id
                    words[w + 3] = st.orders[slot].side
                    words[w + 4] = st.orders[slot].price
                    words[w + 5] = st.orders[slot].quantity
                    words[w + 6] = st.orders[slot].filled
                    words[w + 7] = st.orders[slot].leaves
                    words[w + 8] = st.orders[slot].flags
                    words[w + 9] = st.orders[slot].stp
                    words[w + 10] = st.orders[slot].timestamp_ns
                    w += ORDER_WORDS
                    slot = st.orders[slot].next
                offset = _next_worse(st, pair, s, offset)
    words[w] = n_done
    w += 1
    for n in range(n_done):
        row = _window_row(st, n)
        words[w] = st.coid_window[row, 0]
        words[w + 1] = st.coid_window[row, 1]
        w += WINDOW_KEY_WORDS
    return words


@njit(inline="always")
def _window_row(st, n):
    """Ring row of the ``n``-th oldest key of the dedup window."""
    row = st.meta[META_WINDOW_HEAD] + n
    if row >= st.coid_window.shape[0]:
        row -= st.coid_window.shape[0]
    return row


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
    13: "the client-order-id window does not match its index entries (or exceeds its size)",
}


@njit
def check_book(st):
    """0 if every invariant holds, else ``(code, detail)`` with a key of INVARIANT_MESSAGES
    and the pair or pool row concerned."""
    n_pairs = st.pairs.shape[0]
    seen = 0
    for pair in range(n_pairs):
        for s in range(2):
            side_total = 0
            best_offset = -1
            for offset in range(st.pairs[pair].n_levels):
                row = level_row(st, pair, s, st.pairs[pair].band_lo + offset)
                word = st.sides[2 * pair + s].word_base + (offset >> 6)
                bit = (st.bitmap[word] >> np.uint64(offset & 63)) & np.uint64(1)
                if (bit != 0) != (st.levels[row].count > 0):
                    return 6, pair
                count = 0
                total = 0
                prev = -1
                slot = st.levels[row].head
                while slot >= 0:
                    if count > st.meta[META_CAPACITY] or st.orders[slot].prev != prev:
                        return 5, pair
                    if (st.orders[slot].pair_id != pair or st.orders[slot].side != s + 1
                            or st.orders[slot].price != st.pairs[pair].band_lo + offset):
                        return 12, slot
                    if st.orders[slot].leaves <= 0:
                        return 2, slot
                    if st.orders[slot].quantity != st.orders[slot].filled + st.orders[slot].leaves:
                        return 3, slot
                    if index_find(st.id_index, st.orders[slot].order_id, 0) != slot:
                        return 9, slot
                    if st.orders[slot].client_order_id != 0 and index_find(
                            st.coid_index, st.orders[slot].account, st.orders[slot].client_order_id) != slot:
                        return 10, slot
                    total += st.orders[slot].leaves
                    count += 1
                    prev = slot
                    slot = st.orders[slot].next
                if count != st.levels[row].count or prev != st.levels[row].tail:
                    return 5, pair
                if total != st.levels[row].quantity:
                    return 4, pair
                if count > 0:
                    side_total += count
                    if s == 1 and best_offset < 0:
                        best_offset = offset
                    if s == 0:
                        best_offset = offset
            if side_total != st.sides[2 * pair + s].order_count:
                return 8, pair
            if side_total > 0 and st.sides[2 * pair + s].best != st.pairs[pair].band_lo + best_offset:
                return 7, pair
            seen += side_total
        if st.sides[2 * pair].order_count > 0 and st.sides[2 * pair + 1].order_count > 0:
            if st.sides[2 * pair].best >= st.sides[2 * pair + 1].best:
                return 1, pair
    if seen != st.meta[META_LIVE]:
        return 11, 0
    live_rows = 0
    for slot in range(st.meta[META_HIGH_WATER]):
        if st.orders[slot].order_id != 0:
            live_rows += 1
    if live_rows != seen:
        return 11, 0
    indexed = 0
    for row in range(st.id_index.shape[0]):
        if st.id_index[row, 1] != 0:
            indexed += 1
    if indexed != seen:
        return 9, 0
    return _check_window(st)


@njit
def _check_window(st):
    """Every key of the window is indexed as done, and the index holds exactly the live
    orders' keys plus the window's (so the window holds no key twice and none live)."""
    n_done = st.meta[META_WINDOW_COUNT]
    if n_done < 0 or n_done > st.coid_window.shape[0]:
        return 13, 0
    if n_done > 0 and not 0 <= st.meta[META_WINDOW_HEAD] < st.coid_window.shape[0]:
        return 13, 0
    for n in range(n_done):
        row = _window_row(st, n)
        if st.coid_window[row, 1] == 0 or index_find(
                st.coid_index, st.coid_window[row, 0], st.coid_window[row, 1]) != DONE_SLOT:
            return 13, row
    live_keys = 0
    for slot in range(st.meta[META_HIGH_WATER]):
        if st.orders[slot].order_id != 0 and st.orders[slot].client_order_id != 0:
            live_keys += 1
    indexed_live = 0
    indexed_done = 0
    for row in range(st.coid_index.shape[0]):
        value = st.coid_index[row, 2]
        if value > 0:
            indexed_live += 1
        elif value == DONE_SLOT + 1:
            indexed_done += 1
        elif value != 0:
            return 10, row
    if indexed_live != live_keys:
        return 10, 0
    if indexed_done != n_done:
        return 13, 0
    return 0, 0


@njit
def fill_depth(st, pair, s, out):
    """Write up to ``out.shape[0]`` rows of ``[price, total leaves, order count]`` of side
    ``s``, best first, into ``out``; return how many. Allocates nothing (the engine loop
    calls it for L2 snapshots)."""
    n = 0
    offset = _first_offset(st, pair, s)
    while offset >= 0 and n < out.shape[0]:
        row = level_row(st, pair, s, st.pairs[pair].band_lo + offset)
        out[n, 0] = st.pairs[pair].band_lo + offset
        out[n, 1] = st.levels[row].quantity
        out[n, 2] = st.levels[row].count
        n += 1
        offset = _next_worse(st, pair, s, offset)
    return n


@njit(allocates=True)
def depth_levels(st, pair, s, max_levels):
    """Up to ``max_levels`` rows of ``[price, total leaves, order count]``, best first."""
    out = np.zeros((max_levels, 3), dtype=np.int64)
    return out[: fill_depth(st, pair, s, out)]
