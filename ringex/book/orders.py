"""The order pool: giving a resting order a row, and taking it away again.

A pool row is live iff ``orders[row].order_id != 0`` (order ids are > 0). Free rows form a LIFO list
through ``next`` starting at ``meta[META_FREE_HEAD]``, so a freed row is reused first and
stays warm in cache. ``meta[META_LIVE]`` counts live rows and ``meta[META_HIGH_WATER]`` is one
past the highest row ever used, which bounds the scans of cancel-all and the inspectors.
"""

from __future__ import annotations

from ringex.book.client_ids import retire_client_id
from ringex.book.index import index_delete, index_insert
from ringex.book.levels import level_append, level_unlink
from ringex.book.state import META_FREE_HEAD, META_HIGH_WATER, META_LIVE
from ringex.jit import njit

__all__ = ["take_free_row", "return_free_row", "activate_row", "rest_taker", "release_row",
           "remove_resting"]


@njit(inline="always")
def take_free_row(st):
    """Pop a free pool row (the caller has checked one exists). It is not live until
    :func:`activate_row`; until then ``order_id`` may be written but the row is invisible."""
    slot = st.meta[META_FREE_HEAD]
    st.meta[META_FREE_HEAD] = st.orders[slot].next
    if slot + 1 > st.meta[META_HIGH_WATER]:
        st.meta[META_HIGH_WATER] = slot + 1
    return slot


@njit(inline="always")
def return_free_row(st, slot):
    """Give back a row taken by :func:`take_free_row` that never became live."""
    st.orders[slot].order_id = 0
    st.orders[slot].next = st.meta[META_FREE_HEAD]
    st.meta[META_FREE_HEAD] = slot


@njit(inline="always")
def activate_row(st, slot):
    """The order written in ``slot`` rests: index it and queue it at the tail of its level."""
    st.meta[META_LIVE] += 1
    index_insert(st.id_index, st.orders[slot].order_id, 0, slot)
    if st.orders[slot].client_order_id != 0:
        index_insert(st.coid_index, st.orders[slot].account, st.orders[slot].client_order_id, slot)
    level_append(st, slot)


@njit(inline="always")
def rest_taker(st, taker):
    """Copy the order in the taker row into a free pool row and make it rest. The caller
    has checked that a row is free."""
    slot = take_free_row(st)
    st.orders[slot].order_id = st.orders[taker].order_id
    st.orders[slot].account = st.orders[taker].account
    st.orders[slot].client_order_id = st.orders[taker].client_order_id
    st.orders[slot].price = st.orders[taker].price
    st.orders[slot].quantity = st.orders[taker].quantity
    st.orders[slot].filled = st.orders[taker].filled
    st.orders[slot].leaves = st.orders[taker].leaves
    st.orders[slot].timestamp_ns = st.orders[taker].timestamp_ns
    st.orders[slot].pair_id = st.orders[taker].pair_id
    st.orders[slot].side = st.orders[taker].side
    st.orders[slot].order_type = st.orders[taker].order_type
    st.orders[slot].tif = st.orders[taker].tif
    st.orders[slot].flags = st.orders[taker].flags
    st.orders[slot].stp = st.orders[taker].stp
    activate_row(st, slot)
    return slot


@njit(inline="always")
def release_row(st, slot):
    """Forget a live order that is not on any level (it is done): drop its order id, move its
    client order id to the dedup window, free its row."""
    index_delete(st.id_index, st.orders[slot].order_id, 0)
    if st.orders[slot].client_order_id != 0:
        retire_client_id(st, st.orders[slot].account, st.orders[slot].client_order_id)
    st.orders[slot].order_id = 0
    st.orders[slot].next = st.meta[META_FREE_HEAD]
    st.meta[META_FREE_HEAD] = slot
    st.meta[META_LIVE] -= 1


@njit(inline="always")
def remove_resting(st, slot):
    """Take a resting order off the book entirely."""
    level_unlink(st, slot)
    release_row(st, slot)
