"""One function per command kind. Validation order and reason codes follow
``docs/matching.md`` exactly; a failed check emits one REJECTED event and changes nothing."""

from __future__ import annotations

from ringex.book.client_ids import client_id_reserved, hold_done_client_id
from ringex.book.emit import emit, emit_order, emit_rejection
from ringex.book.index import index_find
from ringex.book.levels import level_append, level_reduce, level_unlink
from ringex.book.matching import fok_fillable, match, would_take
from ringex.book.orders import (
    activate_row,
    release_row,
    remove_resting,
    return_free_row,
    take_free_row,
)
from ringex.book.state import META_CAPACITY, META_HIGH_WATER, META_LIVE
from ringex.jit import njit
from ringex.records import (
    ALL_PAIRS,
    EventKind,
    OrderFlag,
    OrderType,
    PairStatus,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)

__all__ = ["handle_new", "handle_cancel", "handle_amend", "handle_cancel_all",
           "handle_set_status"]


@njit(inline="always")
def _known_pair(st, pair):
    return 0 <= pair < st.pairs.shape[0]


@njit(inline="always")
def _target_slot(st, c):
    """The pool row of the live order a CANCEL/AMEND names, on the command's pair, or -1:
    by ``order_id``, or when that is 0, by ``(account, client_order_id)`` (a done key held by
    the dedup window maps to ``DONE_SLOT``, not to an order: -1 too)."""
    if c.order_id > 0:
        slot = index_find(st.id_index, c.order_id, 0)
    elif c.order_id == 0 and c.client_order_id != 0:
        slot = index_find(st.coid_index, c.account, c.client_order_id)
    else:
        return -1
    if slot < 0 or st.orders[slot].pair_id != c.pair_id:
        return -1
    return slot


@njit(inline="always")
def _new_rejection(st, c):
    pair = c.pair_id
    if not _known_pair(st, pair):
        return Reason.UNKNOWN_PAIR
    status = st.pairs[pair].status
    if status == PairStatus.HALTED:
        return Reason.PAIR_HALTED
    if status == PairStatus.CANCEL_ONLY:
        return Reason.PAIR_CANCEL_ONLY
    if c.order_id <= 0:
        return Reason.INVALID_ORDER_ID
    if c.account <= 0:
        return Reason.INVALID_ACCOUNT
    if c.side != Side.BUY and c.side != Side.SELL:
        return Reason.INVALID_SIDE
    is_market = c.order_type == OrderType.MARKET
    if c.order_type != OrderType.LIMIT and not is_market:
        return Reason.INVALID_TYPE
    if c.tif != TimeInForce.GTC and c.tif != TimeInForce.IOC and c.tif != TimeInForce.FOK:
        return Reason.INVALID_TIF
    if is_market and c.tif == TimeInForce.GTC:
        return Reason.INVALID_TIF
    post_only_flag = (c.flags & OrderFlag.POST_ONLY) != 0
    if (c.flags | OrderFlag.POST_ONLY) != OrderFlag.POST_ONLY:
        return Reason.INVALID_FLAGS
    if post_only_flag and (is_market or c.tif != TimeInForce.GTC):
        return Reason.INVALID_FLAGS
    if c.stp > StpMode.DECREMENT:
        return Reason.INVALID_STP
    if is_market:
        if c.price != 0:
            return Reason.INVALID_PRICE
    else:
        if c.price <= 0:
            return Reason.INVALID_PRICE
        if c.price < st.pairs[pair].band_lo or c.price > st.pairs[pair].band_hi:
            return Reason.PRICE_OUT_OF_BAND
    if c.quantity < st.pairs[pair].min_qty or c.quantity > st.pairs[pair].max_qty:
        return Reason.INVALID_QUANTITY
    pair_post_only = status == PairStatus.POST_ONLY
    if pair_post_only and (is_market or c.tif != TimeInForce.GTC):
        return Reason.PAIR_POST_ONLY
    if index_find(st.id_index, c.order_id, 0) >= 0:
        return Reason.DUPLICATE_ORDER_ID
    if c.client_order_id != 0 and client_id_reserved(st, c.account, c.client_order_id):
        return Reason.DUPLICATE_CLIENT_ORDER_ID
    if (post_only_flag or pair_post_only) and would_take(st, pair, c.side, c.price):
        return Reason.POST_ONLY_WOULD_TAKE
    if (not is_market and c.tif == TimeInForce.GTC
            and st.meta[META_LIVE] >= st.meta[META_CAPACITY]):
        return Reason.BOOK_FULL
    return Reason.NONE


@njit(inline="always")
def handle_new(st, c, ev, k, command_index):
    reason = _new_rejection(st, c)
    if reason != Reason.NONE:
        return emit_rejection(ev, k, st, c, reason, command_index)
    # A GTC limit order is written straight into the pool row it will rest in (the capacity
    # check above guarantees one), so resting costs no copy; other orders use the taker row.
    rests_if_unfilled = c.order_type == OrderType.LIMIT and c.tif == TimeInForce.GTC
    if rests_if_unfilled:
        taker = take_free_row(st)
    else:
        taker = st.meta[META_CAPACITY]
    ts = c.timestamp_ns
    st.orders[taker].order_id = c.order_id
    st.orders[taker].account = c.account
    st.orders[taker].client_order_id = c.client_order_id
    st.orders[taker].price = c.price
    st.orders[taker].quantity = c.quantity
    st.orders[taker].filled = 0
    st.orders[taker].leaves = c.quantity
    st.orders[taker].timestamp_ns = ts
    st.orders[taker].pair_id = c.pair_id
    st.orders[taker].side = c.side
    st.orders[taker].order_type = c.order_type
    st.orders[taker].tif = c.tif
    st.orders[taker].flags = c.flags
    st.orders[taker].stp = c.stp
    k = emit_order(ev, k, st, taker, EventKind.ACCEPTED, Reason.NONE, command_index, ts)
    if c.tif == TimeInForce.FOK and not fok_fillable(st, taker):
        k = emit_order(ev, k, st, taker, EventKind.CANCELED, Reason.FOK_UNFILLED,
                       command_index, ts)
    else:
        k, stopped = match(st, taker, ev, k, command_index, ts)
        if st.orders[taker].leaves > 0:
            if stopped:
                k = emit_order(ev, k, st, taker, EventKind.CANCELED, Reason.SELF_TRADE,
                               command_index, ts)
            elif rests_if_unfilled:
                activate_row(st, taker)
                return k
            elif c.order_type == OrderType.MARKET:
                k = emit_order(ev, k, st, taker, EventKind.CANCELED, Reason.NO_LIQUIDITY,
                               command_index, ts)
            else:
                k = emit_order(ev, k, st, taker, EventKind.CANCELED, Reason.IOC_REMAINDER,
                               command_index, ts)
    # Done on arrival (filled, or its remainder canceled): after its last event, and after
    # every maker it finished, its client order id enters the dedup window.
    if c.client_order_id != 0:
        hold_done_client_id(st, c.account, c.client_order_id)
    if rests_if_unfilled:
        return_free_row(st, taker)  # after its last event: the row forgets the order
    return k


@njit
def handle_cancel(st, c, ev, k, command_index):
    pair = c.pair_id
    if not _known_pair(st, pair):
        return emit_rejection(ev, k, st, c, Reason.UNKNOWN_PAIR, command_index)
    if st.pairs[pair].status == PairStatus.HALTED:
        return emit_rejection(ev, k, st, c, Reason.PAIR_HALTED, command_index)
    slot = _target_slot(st, c)
    if slot < 0:
        return emit_rejection(ev, k, st, c, Reason.UNKNOWN_ORDER, command_index)
    if st.orders[slot].account != c.account:
        return emit_rejection(ev, k, st, c, Reason.NOT_OWNER, command_index)
    k = emit_order(ev, k, st, slot, EventKind.CANCELED, Reason.USER_CANCELED, command_index,
                   c.timestamp_ns)
    remove_resting(st, slot)
    return k


@njit(inline="always")
def _amend_rejection(st, c, slot):
    pair = c.pair_id
    if not _known_pair(st, pair):
        return Reason.UNKNOWN_PAIR
    status = st.pairs[pair].status
    if status == PairStatus.HALTED:
        return Reason.PAIR_HALTED
    if status == PairStatus.CANCEL_ONLY:
        return Reason.PAIR_CANCEL_ONLY
    if slot < 0:
        return Reason.UNKNOWN_ORDER
    if st.orders[slot].account != c.account:
        return Reason.NOT_OWNER
    if c.price <= 0:
        return Reason.INVALID_PRICE
    if c.price < st.pairs[pair].band_lo or c.price > st.pairs[pair].band_hi:
        return Reason.PRICE_OUT_OF_BAND
    if (c.quantity < st.pairs[pair].min_qty or c.quantity > st.pairs[pair].max_qty
            or c.quantity <= st.orders[slot].filled):
        return Reason.INVALID_QUANTITY
    same_price = c.price == st.orders[slot].price
    if same_price and c.quantity == st.orders[slot].quantity:
        return Reason.NO_CHANGE
    post_only = ((st.orders[slot].flags & OrderFlag.POST_ONLY) != 0
                 or status == PairStatus.POST_ONLY)
    if not same_price and post_only and would_take(st, pair, st.orders[slot].side, c.price):
        return Reason.POST_ONLY_WOULD_TAKE
    return Reason.NONE


@njit
def handle_amend(st, c, ev, k, command_index):
    slot = -1
    if _known_pair(st, c.pair_id):
        slot = _target_slot(st, c)
    reason = _amend_rejection(st, c, slot)
    if reason != Reason.NONE:
        return emit_rejection(ev, k, st, c, reason, command_index)
    ts = c.timestamp_ns
    if c.price == st.orders[slot].price and c.quantity < st.orders[slot].quantity:
        reduction = st.orders[slot].quantity - c.quantity
        st.orders[slot].quantity = c.quantity
        level_reduce(st, slot, reduction)
        return emit_order(ev, k, st, slot, EventKind.AMENDED, Reason.NONE, command_index, ts)
    # A new price or a larger quantity: the order re-enters as the last arrival.
    level_unlink(st, slot)
    st.orders[slot].price = c.price
    st.orders[slot].quantity = c.quantity
    st.orders[slot].leaves = c.quantity - st.orders[slot].filled
    st.orders[slot].timestamp_ns = ts
    k = emit_order(ev, k, st, slot, EventKind.AMENDED, Reason.NONE, command_index, ts)
    k, stopped = match(st, slot, ev, k, command_index, ts)
    if st.orders[slot].leaves == 0:
        release_row(st, slot)
    elif stopped:
        k = emit_order(ev, k, st, slot, EventKind.CANCELED, Reason.SELF_TRADE, command_index,
                       ts)
        release_row(st, slot)
    else:
        level_append(st, slot)
    return k


@njit
def _sort_prefix(values, n):
    """Heapsort ``values[:n]`` ascending, in place (no allocation, O(n log n) worst case)."""
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(values, start, n)
    for end in range(n - 1, 0, -1):
        values[0], values[end] = values[end], values[0]
        _sift_down(values, 0, end)


@njit(inline="always")
def _sift_down(values, root, n):
    while True:
        child = 2 * root + 1
        if child >= n:
            return
        if child + 1 < n and values[child + 1] > values[child]:
            child += 1
        if values[root] >= values[child]:
            return
        values[root], values[child] = values[child], values[root]
        root = child


@njit
def handle_cancel_all(st, c, ev, k, command_index):
    pair = c.pair_id
    every_pair = pair == ALL_PAIRS
    if not every_pair and not _known_pair(st, pair):
        return emit_rejection(ev, k, st, c, Reason.UNKNOWN_PAIR, command_index)
    if c.account <= 0:
        return emit_rejection(ev, k, st, c, Reason.INVALID_ACCOUNT, command_index)
    if not every_pair and st.pairs[pair].status == PairStatus.HALTED:
        return emit_rejection(ev, k, st, c, Reason.PAIR_HALTED, command_index)
    found = 0
    for slot in range(st.meta[META_HIGH_WATER]):
        if st.orders[slot].order_id == 0 or st.orders[slot].account != c.account:
            continue
        order_pair = st.orders[slot].pair_id
        if every_pair:
            if st.pairs[order_pair].status == PairStatus.HALTED:
                continue
        elif order_pair != pair:
            continue
        st.scratch[found] = st.orders[slot].order_id
        found += 1
    _sort_prefix(st.scratch, found)
    for n in range(found):
        slot = index_find(st.id_index, st.scratch[n], 0)
        k = emit_order(ev, k, st, slot, EventKind.CANCELED, Reason.CANCEL_ALL, command_index,
                       c.timestamp_ns)
        remove_resting(st, slot)
    return emit(ev, k, st, EventKind.MASS_CANCELED, 0, 0, 0, 0, 0, 0, 0, pair, command_index,
                c.timestamp_ns, 0, c.account, 0, 0, 0, 0, 0, found, 0, 0, 0, 0, 0)


@njit
def handle_set_status(st, c, ev, k, command_index):
    pair = c.pair_id
    if not _known_pair(st, pair):
        return emit_rejection(ev, k, st, c, Reason.UNKNOWN_PAIR, command_index)
    if c.status < PairStatus.TRADING or c.status > PairStatus.POST_ONLY:
        return emit_rejection(ev, k, st, c, Reason.INVALID_STATUS, command_index)
    st.pairs[pair].status = c.status
    return emit(ev, k, st, EventKind.PAIR_STATUS, 0, 0, 0, 0, 0, 0, c.status, pair,
                command_index, c.timestamp_ns, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
