"""Price levels: per-level FIFO queues over the order pool, an occupancy bitmap, best price.

A level row holds the head and tail pool rows of a doubly linked FIFO (``o_prev``/``o_next``),
the total open quantity and the order count. One bit per level row says "occupied", so the
next best price after a level empties is found a 64-level word at a time with
count-leading/trailing-zeros; the cost is bounded by ``band width / 64`` words and is
normally one word. ``best[2p+s]`` caches the best occupied price of a side.

Side index ``s`` is 0 for bids (``Side.BUY``) and 1 for asks (``Side.SELL``).
"""

from __future__ import annotations

import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from ringex.jit import njit

__all__ = [
    "level_row",
    "level_append",
    "level_unlink",
    "level_reduce",
    "next_occupied",
]

_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(inline="always")
def level_row(st, pair, s, price):
    return st.level_base[pair] + s * st.n_levels[pair] + (price - st.band_lo[pair])


@njit(inline="always")
def _word(st, pair, s, offset):
    return st.word_base[pair] + s * st.n_words[pair] + (offset >> 6)


@njit
def next_occupied(st, pair, s, offset, toward_better):
    """Offset (price - band_lo) of the nearest occupied level of side ``s`` at or beyond
    ``offset``, walking toward worse prices (``toward_better=False``) or better ones; -1 if
    none. For bids worse means lower prices, for asks higher."""
    n_words = st.n_words[pair]
    first = st.word_base[pair] + s * n_words
    w = offset >> 6
    bit = np.uint64(offset & 63)
    upward = (s == 1) != toward_better
    if upward:
        bits = st.bitmap[first + w] & (_ALL << bit)
        while True:
            if bits != 0:
                return (w << 6) + np.int64(trailing_zeros(bits))
            w += 1
            if w >= n_words:
                return -1
            bits = st.bitmap[first + w]
    else:
        bits = st.bitmap[first + w] & (_ALL >> (np.uint64(63) - bit))
        while True:
            if bits != 0:
                return (w << 6) + 63 - np.int64(leading_zeros(bits))
            w -= 1
            if w < 0:
                return -1
            bits = st.bitmap[first + w]


@njit
def level_append(st, slot):
    """Put the order in ``slot`` at the tail of its level (price-time priority)."""
    pair = st.o_pair[slot]
    s = st.o_side[slot] - 1
    price = st.o_price[slot]
    row = level_row(st, pair, s, price)
    tail = st.lvl_tail[row]
    st.o_prev[slot] = tail
    st.o_next[slot] = -1
    if tail < 0:
        st.lvl_head[row] = slot
        offset = price - st.band_lo[pair]
        st.bitmap[_word(st, pair, s, offset)] |= _ONE << np.uint64(offset & 63)
    else:
        st.o_next[tail] = slot
    st.lvl_tail[row] = slot
    st.lvl_qty[row] += st.o_leaves[slot]
    st.lvl_count[row] += 1
    side_key = 2 * pair + s
    if st.side_orders[side_key] == 0:
        st.best[side_key] = price
    elif s == 0:
        if price > st.best[side_key]:
            st.best[side_key] = price
    elif price < st.best[side_key]:
        st.best[side_key] = price
    st.side_orders[side_key] += 1


@njit
def level_unlink(st, slot):
    """Take the order in ``slot`` out of its level; the pool row itself is not freed."""
    pair = st.o_pair[slot]
    s = st.o_side[slot] - 1
    price = st.o_price[slot]
    row = level_row(st, pair, s, price)
    prev = st.o_prev[slot]
    nxt = st.o_next[slot]
    if prev < 0:
        st.lvl_head[row] = nxt
    else:
        st.o_next[prev] = nxt
    if nxt < 0:
        st.lvl_tail[row] = prev
    else:
        st.o_prev[nxt] = prev
    st.lvl_qty[row] -= st.o_leaves[slot]
    st.lvl_count[row] -= 1
    side_key = 2 * pair + s
    st.side_orders[side_key] -= 1
    if st.lvl_count[row] == 0:
        offset = price - st.band_lo[pair]
        st.bitmap[_word(st, pair, s, offset)] &= ~(_ONE << np.uint64(offset & 63))
        if st.side_orders[side_key] > 0 and st.best[side_key] == price:
            st.best[side_key] = st.band_lo[pair] + next_occupied(st, pair, s, offset, False)


@njit(inline="always")
def level_reduce(st, slot, amount):
    """The order in ``slot`` keeps its place while its open quantity drops by ``amount``."""
    row = level_row(st, st.o_pair[slot], st.o_side[slot] - 1, st.o_price[slot])
    st.lvl_qty[row] -= amount
    st.o_leaves[slot] -= amount
