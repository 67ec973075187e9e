"""Price-time matching of one incoming order (the *taker*) against the opposite side.

The taker lives in a pool row: the dedicated taker row for a NEW order, or its own row for an
AMEND that lost priority (it has been unlinked from its level, so it cannot meet itself).
Makers are always taken from the head of the best opposite level, so priority is price, then
arrival. Self-trade prevention follows the taker's ``stp`` mode (docs/matching.md).
"""

from __future__ import annotations

from ringex.book.emit import emit_order, emit_trade
from ringex.book.levels import level_reduce, level_row, next_occupied
from ringex.book.orders import remove_resting
from ringex.jit import njit
from ringex.records import EventKind, OrderType, Reason, StpMode

__all__ = ["crosses", "would_take", "fok_fillable", "match"]


@njit(inline="always")
def crosses(st, taker, opposite_price):
    """Whether the taker may trade at ``opposite_price``."""
    if st.o_type[taker] == OrderType.MARKET:
        return True
    if st.o_side[taker] == 1:
        return opposite_price <= st.o_price[taker]
    return opposite_price >= st.o_price[taker]


@njit
def would_take(st, pair, side, price):
    """Whether a limit order at ``price`` would meet resting liquidity (post-only check)."""
    opposite_key = 2 * pair + (2 - side)
    if st.side_orders[opposite_key] == 0:
        return False
    if side == 1:
        return price >= st.best[opposite_key]
    return price <= st.best[opposite_key]


@njit
def fok_fillable(st, taker):
    """Whether the taker can fill completely, walking the book exactly as :func:`match`
    would but changing nothing."""
    pair = st.o_pair[taker]
    opposite = 2 - st.o_side[taker]
    opposite_key = 2 * pair + opposite
    if st.side_orders[opposite_key] == 0:
        return False
    need = st.o_leaves[taker]
    stp = st.o_stp[taker]
    account = st.o_account[taker]
    band_lo = st.band_lo[pair]
    offset = st.best[opposite_key] - band_lo
    while offset >= 0:
        price = band_lo + offset
        if not crosses(st, taker, price):
            return False
        row = level_row(st, pair, opposite, price)
        if stp == StpMode.NONE:
            need -= st.lvl_qty[row]
            if need <= 0:
                return True
        else:
            maker = st.lvl_head[row]
            while maker >= 0:
                if st.o_account[maker] == account:
                    if stp != StpMode.EXPIRE_MAKER:
                        return False
                else:
                    need -= st.o_leaves[maker]
                    if need <= 0:
                        return True
                maker = st.o_next[maker]
        # the next worse level: lower bids, higher asks
        if opposite == 1:
            if offset + 1 >= st.n_levels[pair]:
                return False
            offset = next_occupied(st, pair, opposite, offset + 1, False)
        else:
            if offset == 0:
                return False
            offset = next_occupied(st, pair, opposite, offset - 1, False)
    return False


@njit
def match(st, taker, ev, k, command_index, timestamp_ns):
    """Match the taker until it is filled or nothing crosses.

    Returns ``(k, stopped)``: the next free event index, and whether self-trade prevention
    stopped the taker (its remainder must then be canceled with ``SELF_TRADE``).
    """
    pair = st.o_pair[taker]
    opposite = 2 - st.o_side[taker]
    opposite_key = 2 * pair + opposite
    stp = st.o_stp[taker]
    while st.o_leaves[taker] > 0 and st.side_orders[opposite_key] > 0:
        price = st.best[opposite_key]
        if not crosses(st, taker, price):
            break
        maker = st.lvl_head[level_row(st, pair, opposite, price)]
        if stp != StpMode.NONE and st.o_account[maker] == st.o_account[taker]:
            if stp == StpMode.EXPIRE_TAKER:
                return k, True
            if stp == StpMode.EXPIRE_MAKER or stp == StpMode.EXPIRE_BOTH:
                k = emit_order(ev, k, st, maker, EventKind.CANCELED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
                remove_resting(st, maker)
                if stp == StpMode.EXPIRE_BOTH:
                    return k, True
                continue
            # DECREMENT: both shrink by the overlap; nothing trades.
            overlap = min(st.o_leaves[taker], st.o_leaves[maker])
            st.o_qty[maker] -= overlap
            level_reduce(st, maker, overlap)
            if st.o_leaves[maker] == 0:
                k = emit_order(ev, k, st, maker, EventKind.CANCELED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
                remove_resting(st, maker)
            else:
                k = emit_order(ev, k, st, maker, EventKind.AMENDED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
            st.o_qty[taker] -= overlap
            st.o_leaves[taker] -= overlap
            if st.o_leaves[taker] == 0:
                k = emit_order(ev, k, st, taker, EventKind.CANCELED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
            else:
                k = emit_order(ev, k, st, taker, EventKind.AMENDED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
            continue
        quantity = min(st.o_leaves[taker], st.o_leaves[maker])
        st.o_leaves[taker] -= quantity
        st.o_filled[taker] += quantity
        st.o_filled[maker] += quantity
        level_reduce(st, maker, quantity)
        k = emit_trade(ev, k, st, taker, maker, price, quantity, command_index, timestamp_ns)
        if st.o_leaves[maker] == 0:
            remove_resting(st, maker)
    return k, False
