"""Writing event records. Every event the matcher produces goes through :func:`emit`.

:func:`emit` assigns ``seq`` from the engine-wide counter (``meta[META_NEXT_SEQ]``) and writes
every field of the record, so unused fields are 0 whatever the buffer held before. The other
functions are the three common shapes: about a pool row, a trade, or a rejected command.
"""

from __future__ import annotations

from ringex.book.state import META_NEXT_SEQ
from ringex.jit import njit
from ringex.records import EventKind, OrderStatus

__all__ = ["emit", "emit_order", "emit_trade", "emit_rejection"]


@njit(inline="always")
def emit(ev, k, st, kind, reason, side, order_type, tif, flags, order_status, pair_status,
         pair_id, command_index, timestamp_ns, order_id, account, client_order_id, price,
         quantity, filled_qty, leaves_qty, trade_qty, maker_order_id, maker_account,
         maker_quantity, maker_filled_qty, maker_leaves_qty):
    e = ev[k]
    e.kind = kind
    e.reason = reason
    e.side = side
    e.order_type = order_type
    e.tif = tif
    e.flags = flags
    e.order_status = order_status
    e.pair_status = pair_status
    e.pair_id = pair_id
    e._reserved = 0
    e.seq = st.meta[META_NEXT_SEQ]
    st.meta[META_NEXT_SEQ] += 1
    e.command_index = command_index
    e.timestamp_ns = timestamp_ns
    e.order_id = order_id
    e.account = account
    e.client_order_id = client_order_id
    e.price = price
    e.quantity = quantity
    e.filled_qty = filled_qty
    e.leaves_qty = leaves_qty
    e.trade_qty = trade_qty
    e.maker_order_id = maker_order_id
    e.maker_account = maker_account
    e.maker_quantity = maker_quantity
    e.maker_filled_qty = maker_filled_qty
    e.maker_leaves_qty = maker_leaves_qty
    return k + 1


@njit(inline="always")
def _open_status(st, slot):
    if st.orders[slot].filled == 0:
        return OrderStatus.NEW
    return OrderStatus.PARTIALLY_FILLED


@njit(inline="always")
def emit_order(ev, k, st, slot, kind, reason, command_index, timestamp_ns):
    """ACCEPTED, CANCELED or AMENDED about the order in pool row ``slot``."""
    if kind == EventKind.CANCELED:
        status = OrderStatus.CANCELED
    else:
        status = _open_status(st, slot)
    return emit(ev, k, st, kind, reason, st.orders[slot].side, st.orders[slot].order_type, st.orders[slot].tif,
                st.orders[slot].flags, status, 0, st.orders[slot].pair_id, command_index, timestamp_ns,
                st.orders[slot].order_id, st.orders[slot].account, st.orders[slot].client_order_id, st.orders[slot].price,
                st.orders[slot].quantity, st.orders[slot].filled, st.orders[slot].leaves, 0, 0, 0, 0, 0, 0)


@njit(inline="always")
def emit_trade(ev, k, st, taker, maker, price, quantity, command_index, timestamp_ns):
    """One TRADE; both orders' fields are already updated."""
    if st.orders[taker].leaves == 0:
        status = OrderStatus.FILLED
    else:
        status = OrderStatus.PARTIALLY_FILLED
    return emit(ev, k, st, EventKind.TRADE, 0, st.orders[taker].side, st.orders[taker].order_type,
                st.orders[taker].tif, st.orders[taker].flags, status, 0, st.orders[taker].pair_id,
                command_index, timestamp_ns, st.orders[taker].order_id, st.orders[taker].account,
                st.orders[taker].client_order_id, price, st.orders[taker].quantity, st.orders[taker].filled,
                st.orders[taker].leaves, quantity, st.orders[maker].order_id, st.orders[maker].account,
                st.orders[maker].quantity, st.orders[maker].filled, st.orders[maker].leaves)


@njit(inline="always")
def emit_rejection(ev, k, st, c, reason, command_index):
    """REJECTED: copies the command's fields; nothing was filled."""
    return emit(ev, k, st, EventKind.REJECTED, reason, c.side, c.order_type, c.tif, c.flags,
                OrderStatus.REJECTED, 0, c.pair_id, command_index, c.timestamp_ns, c.order_id,
                c.account, c.client_order_id, c.price, c.quantity, 0, c.quantity, 0,
                0, 0, 0, 0, 0)
