"""The order pool: giving a resting order a row, and taking it away again.

A pool row is live iff ``o_id[row] != 0`` (order ids are > 0). Free rows form a LIFO list
through ``o_next`` starting at ``meta[META_FREE_HEAD]``, so a freed row is reused first and
stays warm in cache. ``meta[META_LIVE]`` counts live rows and ``meta[META_HIGH_WATER]`` is one
past the highest row ever used, which bounds the scans of cancel-all and the inspectors.
"""

from __future__ import annotations

from ringex.book.index import index_delete, index_insert
from ringex.book.levels import level_append, level_unlink
from ringex.book.state import META_FREE_HEAD, META_HIGH_WATER, META_LIVE
from ringex.jit import njit

__all__ = ["rest_taker", "release_row", "remove_resting"]


@njit
def rest_taker(st, taker):
    """Copy the order in the taker row into a free pool row, index it and queue it at the
    tail of its level. The caller has checked that a row is free."""
    slot = st.meta[META_FREE_HEAD]
    st.meta[META_FREE_HEAD] = st.o_next[slot]
    if slot + 1 > st.meta[META_HIGH_WATER]:
        st.meta[META_HIGH_WATER] = slot + 1
    st.meta[META_LIVE] += 1
    st.o_id[slot] = st.o_id[taker]
    st.o_account[slot] = st.o_account[taker]
    st.o_coid[slot] = st.o_coid[taker]
    st.o_price[slot] = st.o_price[taker]
    st.o_qty[slot] = st.o_qty[taker]
    st.o_filled[slot] = st.o_filled[taker]
    st.o_leaves[slot] = st.o_leaves[taker]
    st.o_ts[slot] = st.o_ts[taker]
    st.o_pair[slot] = st.o_pair[taker]
    st.o_side[slot] = st.o_side[taker]
    st.o_type[slot] = st.o_type[taker]
    st.o_tif[slot] = st.o_tif[taker]
    st.o_flags[slot] = st.o_flags[taker]
    st.o_stp[slot] = st.o_stp[taker]
    index_insert(st.id_index, st.o_id[slot], 0, slot)
    if st.o_coid[slot] != 0:
        index_insert(st.coid_index, st.o_account[slot], st.o_coid[slot], slot)
    level_append(st, slot)
    return slot


@njit
def release_row(st, slot):
    """Forget a live order that is not on any level: drop its index entries, free its row."""
    index_delete(st.id_index, st.o_id[slot], 0)
    if st.o_coid[slot] != 0:
        index_delete(st.coid_index, st.o_account[slot], st.o_coid[slot])
    st.o_id[slot] = 0
    st.o_next[slot] = st.meta[META_FREE_HEAD]
    st.meta[META_FREE_HEAD] = slot
    st.meta[META_LIVE] -= 1


@njit
def remove_resting(st, slot):
    """Take a resting order off the book entirely."""
    level_unlink(st, slot)
    release_row(st, slot)
