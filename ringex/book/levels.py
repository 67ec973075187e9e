"""Price levels: per-level FIFO queues over the order pool, an occupancy bitmap, best price.

A level row holds the head and tail pool rows of a doubly linked FIFO (``prev``/``next``),
the total open quantity and the order count. One bit per level row says "occupied", so the
next best price after a level empties is found a 64-level word at a time with
count-leading/trailing-zeros; the cost is bounded by ``band width / 64`` words and is
normally one word. ``sides[2p+s].best`` caches the best occupied price of a side.

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
    return st.sides[2 * pair + s].level_base + (price - st.pairs[pair].band_lo)


@njit(inline="always")
def _word(st, pair, s, offset):
    return st.sides[2 * pair + s].word_base + (offset >> 6)


@njit
def next_occupied(st, pair, s, offset, toward_better):
    """Offset (price - band_lo) of the nearest occupied level of side ``s`` at or beyond
    ``offset``, walking toward worse prices (``toward_better=False``) or better ones; -1 if
    none. For bids worse means lower prices, for asks higher."""
    n_words = st.sides[2 * pair + s].n_words
    first = st.sides[2 * pair + s].word_base
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


@njit(inline="always")
def level_append(st, slot):
    """Put the order in ``slot`` at the tail of its level (price-time priority)."""
    pair = st.orders[slot].pair_id
    s = st.orders[slot].side - 1
    price = st.orders[slot].price
    row = level_row(st, pair, s, price)
    tail = st.levels[row].tail
    st.orders[slot].prev = tail
    st.orders[slot].next = -1
    if tail < 0:
        st.levels[row].head = slot
        offset = price - st.pairs[pair].band_lo
        st.bitmap[_word(st, pair, s, offset)] |= _ONE << np.uint64(offset & 63)
    else:
        st.orders[tail].next = slot
    st.levels[row].tail = slot
    st.levels[row].quantity += st.orders[slot].leaves
    st.levels[row].count += 1
    side_key = 2 * pair + s
    if st.sides[side_key].order_count == 0:
        st.sides[side_key].best = price
    elif s == 0:
        if price > st.sides[side_key].best:
            st.sides[side_key].best = price
    elif price < st.sides[side_key].best:
        st.sides[side_key].best = price
    st.sides[side_key].order_count += 1


@njit(inline="always")
def level_unlink(st, slot):
    """Take the order in ``slot`` out of its level; the pool row itself is not freed."""
    pair = st.orders[slot].pair_id
    s = st.orders[slot].side - 1
    price = st.orders[slot].price
    row = level_row(st, pair, s, price)
    prev = st.orders[slot].prev
    nxt = st.orders[slot].next
    if prev < 0:
        st.levels[row].head = nxt
    else:
        st.orders[prev].next = nxt
    if nxt < 0:
        st.levels[row].tail = prev
    else:
        st.orders[nxt].prev = prev
    st.levels[row].quantity -= st.orders[slot].leaves
    st.levels[row].count -= 1
    side_key = 2 * pair + s
    st.sides[side_key].order_count -= 1
    if st.levels[row].count == 0:
        offset = price - st.pairs[pair].band_lo
        st.bitmap[_word(st, pair, s, offset)] &= ~(_ONE << np.uint64(offset & 63))
        if st.sides[side_key].order_count > 0 and st.sides[side_key].best == price:
            st.sides[side_key].best = st.pairs[pair].band_lo + next_occupied(st, pair, s, offset, False)


@njit(inline="always")
def level_reduce(st, slot, amount):
    """The order in ``slot`` keeps its place while its open quantity drops by ``amount``."""
    row = level_row(st, st.orders[slot].pair_id, st.orders[slot].side - 1, st.orders[slot].price)
    st.levels[row].quantity -= amount
    st.orders[slot].leaves -= amount
