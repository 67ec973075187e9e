"""Rebuilding a book from its canonical words (the inverse of ``inspect.canonical_words``).

Pool rows, index layout and free-list order are not part of the canonical state because no
event depends on them; rebuilding appends every order in priority order, so FIFO positions,
level totals and the best prices come back exactly and the state hash is unchanged. The
dedup window's keys come back oldest first; into a smaller window only the newest
``client_id_window`` of them (the ones a window of that size would hold).
"""

from __future__ import annotations

from ringex.book.client_ids import client_id_reserved, hold_done_client_id
from ringex.book.orders import rest_taker
from ringex.book.state import META_CAPACITY, META_LIVE, META_NEXT_COMMAND, META_NEXT_SEQ
from ringex.jit import njit
from ringex.records import OrderType, TimeInForce
from ringex.statehash import ORDER_WORDS, WINDOW_KEY_WORDS

__all__ = ["load_canonical"]


@njit
def load_canonical(st, words):
    """Fill a freshly allocated state from ``words``; returns 0, or -1 if they do not fit
    (wrong pair count, more orders than the pool holds, a truncated array, or a window key
    that is zero, repeated or live)."""
    n_pairs = st.pairs.shape[0]
    if words[2] != n_pairs:
        return -1
    st.meta[META_NEXT_SEQ] = words[0]
    st.meta[META_NEXT_COMMAND] = words[1]
    taker = st.meta[META_CAPACITY]
    w = 3
    for pair in range(n_pairs):
        st.pairs[pair].status = words[w + 1]
        w += 2
        for _side in range(2):
            count = words[w]
            w += 1
            for _ in range(count):
                if st.meta[META_LIVE] >= st.meta[META_CAPACITY]:
                    return -1
                st.orders[taker].order_id = words[w]
                st.orders[taker].account = words[w + 1]
                st.orders[taker].client_order_id = words[w + 2]
                st.orders[taker].side = words[w + 3]
                st.orders[taker].price = words[w + 4]
                st.orders[taker].quantity = words[w + 5]
                st.orders[taker].filled = words[w + 6]
                st.orders[taker].leaves = words[w + 7]
                st.orders[taker].flags = words[w + 8]
                st.orders[taker].stp = words[w + 9]
                st.orders[taker].timestamp_ns = words[w + 10]
                st.orders[taker].pair_id = pair
                st.orders[taker].order_type = OrderType.LIMIT
                st.orders[taker].tif = TimeInForce.GTC
                rest_taker(st, taker)
                w += ORDER_WORDS
    if w >= words.shape[0]:
        return -1
    n_done = words[w]
    w += 1
    if n_done < 0 or w + WINDOW_KEY_WORDS * n_done != words.shape[0]:
        return -1
    w += WINDOW_KEY_WORDS * max(0, n_done - st.coid_window.shape[0])  # evicted by a smaller window
    while w < words.shape[0]:
        account = words[w]
        client_order_id = words[w + 1]
        if client_order_id == 0 or client_id_reserved(st, account, client_order_id):
            return -1
        hold_done_client_id(st, account, client_order_id)
        w += WINDOW_KEY_WORDS
    return 0
