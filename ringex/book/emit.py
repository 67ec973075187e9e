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
    if st.o_filled[slot] == 0:
        return OrderStatus.NEW
    return OrderStatus.PARTIALLY_FILLED


@njit
def emit_order(ev, k, st, slot, kind, reason, command_index, timestamp_ns):
    """ACCEPTED, CANCELED or AMENDED about the order in pool row ``slot``."""
    if kind == EventKind.CANCELED:
        status = OrderStatus.CANCELED
    else:
        status = _open_status(st, slot)
    return emit(ev, k, st, kind, reason, st.o_side[slot], st.o_type[slot], st.o_tif[slot],
                st.o_flags[slot], status, 0, st.o_pair[slot], command_index, timestamp_ns,
                st.o_id[slot], st.o_account[slot], st.o_coid[slot], st.o_price[slot],
                st.o_qty[slot], st.o_filled[slot], st.o_leaves[slot], 0, 0, 0, 0, 0, 0)


@njit
def emit_trade(ev, k, st, taker, maker, price, quantity, command_index, timestamp_ns):
    """One TRADE; both orders' fields are already updated."""
    if st.o_leaves[taker] == 0:
        status = OrderStatus.FILLED
    else:
        status = OrderStatus.PARTIALLY_FILLED
    return emit(ev, k, st, EventKind.TRADE, 0, st.o_side[taker], st.o_type[taker],
                st.o_tif[taker], st.o_flags[taker], status, 0, st.o_pair[taker],
                command_index, timestamp_ns, st.o_id[taker], st.o_account[taker],
                st.o_coid[taker], price, st.o_qty[taker], st.o_filled[taker],
                st.o_leaves[taker], quantity, st.o_id[maker], st.o_account[maker],
                st.o_qty[maker], st.o_filled[maker], st.o_leaves[maker])


@njit
def emit_rejection(ev, k, st, c, reason, command_index):
    """REJECTED: copies the command's fields; nothing was filled."""
    return emit(ev, k, st, EventKind.REJECTED, reason, c.side, c.order_type, c.tif, c.flags,
                OrderStatus.REJECTED, 0, c.pair_id, command_index, c.timestamp_ns, c.order_id,
                c.account, c.client_order_id, c.price, c.quantity, 0, c.quantity, 0,
                0, 0, 0, 0, 0)
