"""Rebuilding a book from its canonical words (the inverse of ``inspect.canonical_words``).

Pool rows, index layout and free-list order are not part of the canonical state because no
event depends on them; rebuilding appends every order in priority order, so FIFO positions,
level totals and the best prices come back exactly and the state hash is unchanged.
"""

from __future__ import annotations

from ringex.book.orders import rest_taker
from ringex.book.state import META_CAPACITY, META_LIVE, META_NEXT_COMMAND, META_NEXT_SEQ
from ringex.jit import njit
from ringex.records import OrderType, TimeInForce
from ringex.statehash import ORDER_WORDS

__all__ = ["load_canonical"]


@njit
def load_canonical(st, words):
    """Fill a freshly allocated state from ``words``; returns 0, or -1 if they do not fit
    (wrong pair count, or more orders than the pool holds)."""
    n_pairs = st.pair_status.shape[0]
    if words[2] != n_pairs:
        return -1
    st.meta[META_NEXT_SEQ] = words[0]
    st.meta[META_NEXT_COMMAND] = words[1]
    taker = st.meta[META_CAPACITY]
    w = 3
    for pair in range(n_pairs):
        st.pair_status[pair] = words[w + 1]
        w += 2
        for _side in range(2):
            count = words[w]
            w += 1
            for _ in range(count):
                if st.meta[META_LIVE] >= st.meta[META_CAPACITY]:
                    return -1
                st.o_id[taker] = words[w]
                st.o_account[taker] = words[w + 1]
                st.o_coid[taker] = words[w + 2]
                st.o_side[taker] = words[w + 3]
                st.o_price[taker] = words[w + 4]
                st.o_qty[taker] = words[w + 5]
                st.o_filled[taker] = words[w + 6]
                st.o_leaves[taker] = words[w + 7]
                st.o_flags[taker] = words[w + 8]
                st.o_stp[taker] = words[w + 9]
                st.o_ts[taker] = words[w + 10]
                st.o_pair[taker] = pair
                st.o_type[taker] = OrderType.LIMIT
                st.o_tif[taker] = TimeInForce.GTC
                rest_taker(st, taker)
                w += ORDER_WORDS
    return 0
