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
    if st.orders[taker].order_type == OrderType.MARKET:
        return True
    if st.orders[taker].side == 1:
        return opposite_price <= st.orders[taker].price
    return opposite_price >= st.orders[taker].price


@njit(inline="always")
def would_take(st, pair, side, price):
    """Whether a limit order at ``price`` would meet resting liquidity (post-only check)."""
    opposite_key = 2 * pair + (2 - side)
    if st.sides[opposite_key].order_count == 0:
        return False
    if side == 1:
        return price >= st.sides[opposite_key].best
    return price <= st.sides[opposite_key].best


@njit(inline="always")
def fok_fillable(st, taker):
    """Whether the taker can fill completely, walking the book exactly as :func:`match`
    would but changing nothing."""
    pair = st.orders[taker].pair_id
    opposite = 2 - st.orders[taker].side
    opposite_key = 2 * pair + opposite
    if st.sides[opposite_key].order_count == 0:
        return False
    need = st.orders[taker].leaves
    stp = st.orders[taker].stp
    account = st.orders[taker].account
    band_lo = st.pairs[pair].band_lo
    offset = st.sides[opposite_key].best - band_lo
    while offset >= 0:
        price = band_lo + offset
        if not crosses(st, taker, price):
            return False
        row = level_row(st, pair, opposite, price)
        if stp == StpMode.NONE:
            need -= st.levels[row].quantity
            if need <= 0:
                return True
        else:
            maker = st.levels[row].head
            while maker >= 0:
                if st.orders[maker].account == account:
                    if stp != StpMode.EXPIRE_MAKER:
                        return False
                else:
                    need -= st.orders[maker].leaves
                    if need <= 0:
                        return True
                maker = st.orders[maker].next
        # the next worse level: lower bids, higher asks
        if opposite == 1:
            if offset + 1 >= st.pairs[pair].n_levels:
                return False
            offset = next_occupied(st, pair, opposite, offset + 1, False)
        else:
            if offset == 0:
                return False
            offset = next_occupied(st, pair, opposite, offset - 1, False)
    return False


@njit(inline="always")
def match(st, taker, ev, k, command_index, timestamp_ns):
    """Match the taker until it is filled or nothing crosses.

    Returns ``(k, stopped)``: the next free event index, and whether self-trade prevention
    stopped the taker (its remainder must then be canceled with ``SELF_TRADE``).
    """
    pair = st.orders[taker].pair_id
    opposite = 2 - st.orders[taker].side
    opposite_key = 2 * pair + opposite
    stp = st.orders[taker].stp
    while st.orders[taker].leaves > 0 and st.sides[opposite_key].order_count > 0:
        price = st.sides[opposite_key].best
        if not crosses(st, taker, price):
            break
        maker = st.levels[level_row(st, pair, opposite, price)].head
        if stp != StpMode.NONE and st.orders[maker].account == st.orders[taker].account:
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
            overlap = min(st.orders[taker].leaves, st.orders[maker].leaves)
            st.orders[maker].quantity -= overlap
            level_reduce(st, maker, overlap)
            if st.orders[maker].leaves == 0:
                k = emit_order(ev, k, st, maker, EventKind.CANCELED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
                remove_resting(st, maker)
            else:
                k = emit_order(ev, k, st, maker, EventKind.AMENDED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
            st.orders[taker].quantity -= overlap
            st.orders[taker].leaves -= overlap
            if st.orders[taker].leaves == 0:
                k = emit_order(ev, k, st, taker, EventKind.CANCELED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
            else:
                k = emit_order(ev, k, st, taker, EventKind.AMENDED, Reason.SELF_TRADE,
                               command_index, timestamp_ns)
            continue
        quantity = min(st.orders[taker].leaves, st.orders[maker].leaves)
        st.orders[taker].leaves -= quantity
        st.orders[taker].filled += quantity
        st.orders[maker].filled += quantity
        level_reduce(st, maker, quantity)
        k = emit_trade(ev, k, st, taker, maker, price, quantity, command_index, timestamp_ns)
        if st.orders[maker].leaves == 0:
            remove_resting(st, maker)
    return k, False
