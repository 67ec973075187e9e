"""The compiled part of the Redis store's encoder: trade and order arguments, as RESP.

Why it exists: formatting every order record and trade as a Python string was most of the
client's time (~5 us per order), and redis-py spends about 1 us packing each argument. These
kernels write the apply script's per-trade and per-order arguments (``redis_lua`` lists them)
into one ``uint8`` buffer with integer arithmetic only (:func:`encode_rows`), then frame them as
RESP bulk strings (:func:`frame_args`), so the store hands the socket one buffer.

The JSON texts are those of :mod:`ringex.spec.redis_encode` byte for byte (the tests compare
them): decimals are ``units * multiplier`` with ``places`` fractional digits
(``ringex.wire.units.StepScale``); a price of 0 ticks or less and a negative quantity are empty,
as are the decimals of a pair outside the registry, which is named ``#<pair_id>``. An enum code
without a name is written as its number. Pieces, integers and decimals are written by
:mod:`ringex.wire.ascii_kernel`, as in the JSON event encoder.

Invariants: the caller sizes ``out`` with :func:`ringex.marketdata.redis_encode` 's bounds
(every literal plus the widest number of each field) and every buffer ends with 16 spare bytes,
because pieces are copied 16 bytes at a time (the buffer contract of
:mod:`ringex.wire.ascii_kernel`). Nothing is bounds-checked. Kernels allocate
nothing; the caller owns every array.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit
from ringex.wire.ascii_kernel import (
    U64_MAX,
    write_bytes,
    write_fixed_limbs,
    write_fixed_u64,
    write_int,
    write_piece,
    write_u64,
)

__all__ = ["PIECES", "META_BYTES", "E_SIDE", "E_TYPE", "E_TIF", "E_STATUS", "E_REASON", "NO_NAME",
           "encode_rows", "frame_args", "ORDER_BUCKET"]

#: Order records live in hashes of this many consecutive ids (``orders:{order_id // N}``).
ORDER_BUCKET = 1024

#: Every literal of the two JSON formats; ``P_*`` are their indexes. The caller appends the
#: pair names and enum names after these.
PIECES: list[bytes] = []


def _add(text: str) -> int:
    PIECES.append(text.encode("ascii"))
    return len(PIECES) - 1


# order record: '{"order_id":%d,"pair":"%s","pair_id":%d,...}' (ringex.spec.redis_encode)
P_O_ORDER_ID = _add('{"order_id":')
P_O_PAIR = _add(',"pair":"')
P_O_PAIR_ID = _add('","pair_id":')
P_O_ACCOUNT = _add(',"account":')
P_O_CLIENT_ORDER_ID = _add(',"client_order_id":')
P_O_SIDE = _add(',"side":"')
P_O_TYPE = _add('","type":"')
P_O_TIF = _add('","tif":"')
P_O_PRICE = _add('","price":"')
P_O_PRICE_TICKS = _add('","price_ticks":')
P_O_SEQ = _add(',"seq":')
P_O_TS = _add(',"ts":')
P_O_STATUS = _add(',"status":"')
P_O_REASON = _add('","reason":"')
P_O_QUANTITY = _add('","quantity":"')
P_O_FILLED = _add('","filled":"')
P_O_LEAVES = _add('","leaves":"')
P_O_QUANTITY_LOTS = _add('","quantity_lots":')
P_O_FILLED_LOTS = _add(',"filled_lots":')
P_O_LEAVES_LOTS = _add(',"leaves_lots":')
P_END = _add("}")
# trade: '{"pair":"%s","seq":%d,"ts":%d,"price":"%s",...}'
P_T_PAIR = _add('{"pair":"')
P_T_SEQ = _add('","seq":')
P_T_TS = _add(',"ts":')
P_T_PRICE = _add(',"price":"')
P_T_QTY = _add('","qty":"')
P_T_SIDE = _add('","side":"')
P_T_PRICE_TICKS = _add('","price_ticks":')
P_T_QTY_LOTS = _add(',"qty_lots":')
P_T_TAKER = _add(',"taker_order_id":')
P_T_MAKER = _add(',"maker_order_id":')

#: Bytes of a row's meta in a bucket (see :func:`encode_rows`): the script reads them with
#: ``string.byte``, which makes no Lua string, where one argument per value cost ~0.6 us each.
META_BYTES = 8

#: Rows of ``enum_pieces`` (the piece of a code's name, or NO_NAME to write the number).
E_SIDE, E_TYPE, E_TIF, E_STATUS, E_REASON = range(5)
NO_NAME = -1


@njit(inline="always")
def _name(out, pos, code, table, enum_pieces, text, spans):
    """The enum name of ``code``, or its number when it has none (a rejected command's)."""
    code = np.int64(code)
    if 0 <= code < enum_pieces.shape[1]:
        piece = enum_pieces[table, code]
        if piece != NO_NAME:
            return write_piece(out, pos, text, spans, piece)
    return write_int(out, pos, code)


@njit(inline="always")
def _decimal(out, pos, units, scale, places, small, limbs, scratch):
    """``units * step`` of pair row ``scale`` (units >= 0; the caller decides emptiness)."""
    magnitude = np.uint64(units)
    multiplier = small[scale]
    if multiplier > 0 and magnitude <= U64_MAX // np.uint64(multiplier):
        return write_fixed_u64(out, pos, magnitude * np.uint64(multiplier), places[scale], False)
    return write_fixed_limbs(out, pos, magnitude, limbs, scale, places[scale], False, scratch)


@njit(inline="always")
def _price(out, pos, ticks, scale, places, small, limbs, scratch):
    if scale < 0 or ticks <= 0:
        return pos
    return _decimal(out, pos, ticks, scale, places, small, limbs, scratch)


@njit(inline="always")
def _qty(out, pos, lots, scale, places, small, limbs, scratch):
    if scale < 0 or lots < 0:
        return pos
    return _decimal(out, pos, lots, scale, places, small, limbs, scratch)


@njit(inline="always")
def _u24(out, at, value):
    """``value`` (0 <= value < 2**24) in 3 bytes, big-endian."""
    out[at] = (value >> 16) & 255
    out[at + 1] = (value >> 8) & 255
    out[at + 2] = value & 255


@njit(inline="always")
def _pair_name(out, pos, pair_id, scale, name_pieces, text, spans):
    """The pair's name (a registered pair's piece), or ``#<pair_id>``."""
    if scale >= 0:
        return write_piece(out, pos, text, spans, name_pieces[scale])
    out[pos] = 35  # "#"
    return write_int(out, pos + 1, np.int64(pair_id))


@njit(inline="always")
def _trade_json(out, pos, event, pair_id, scale, json_names, text, spans, enum_pieces,
                price_places, price_small, price_limbs, qty_places, qty_small, qty_limbs,
                scratch):
    pos = write_piece(out, pos, text, spans, P_T_PAIR)
    pos = _pair_name(out, pos, pair_id, scale, json_names, text, spans)
    pos = write_piece(out, pos, text, spans, P_T_SEQ)
    pos = write_int(out, pos, np.int64(event.seq))
    pos = write_piece(out, pos, text, spans, P_T_TS)
    pos = write_int(out, pos, np.int64(event.timestamp_ns))
    pos = write_piece(out, pos, text, spans, P_T_PRICE)
    pos = _price(out, pos, event.price, scale, price_places, price_small, price_limbs, scratch)
    pos = write_piece(out, pos, text, spans, P_T_QTY)
    pos = _qty(out, pos, event.trade_qty, scale, qty_places, qty_small, qty_limbs, scratch)
    pos = write_piece(out, pos, text, spans, P_T_SIDE)
    pos = _name(out, pos, event.side, E_SIDE, enum_pieces, text, spans)
    pos = write_piece(out, pos, text, spans, P_T_PRICE_TICKS)
    pos = write_int(out, pos, np.int64(event.price))
    pos = write_piece(out, pos, text, spans, P_T_QTY_LOTS)
    pos = write_int(out, pos, np.int64(event.trade_qty))
    pos = write_piece(out, pos, text, spans, P_T_TAKER)
    pos = write_int(out, pos, np.int64(event.order_id))
    pos = write_piece(out, pos, text, spans, P_T_MAKER)
    pos = write_int(out, pos, np.int64(event.maker_order_id))
    return write_piece(out, pos, text, spans, P_END)


@njit(inline="always")
def _order_json(out, pos, order, scale, json_names, text, spans, enum_pieces, price_places,
                price_small, price_limbs, qty_places, qty_small, qty_limbs, scratch):
    pos = write_piece(out, pos, text, spans, P_O_ORDER_ID)
    pos = write_int(out, pos, order.order_id)
    pos = write_piece(out, pos, text, spans, P_O_PAIR)
    pos = _pair_name(out, pos, order.pair_id, scale, json_names, text, spans)
    pos = write_piece(out, pos, text, spans, P_O_PAIR_ID)
    pos = write_int(out, pos, order.pair_id)
    pos = write_piece(out, pos, text, spans, P_O_ACCOUNT)
    pos = write_int(out, pos, order.account)
    pos = write_piece(out, pos, text, spans, P_O_CLIENT_ORDER_ID)
    pos = write_int(out, pos, order.client_order_id)
    pos = write_piece(out, pos, text, spans, P_O_SIDE)
    pos = _name(out, pos, order.side, E_SIDE, enum_pieces, text, spans)
    pos = write_piece(out, pos, text, spans, P_O_TYPE)
    pos = _name(out, pos, order.order_type, E_TYPE, enum_pieces, text, spans)
    pos = write_piece(out, pos, text, spans, P_O_TIF)
    pos = _name(out, pos, order.tif, E_TIF, enum_pieces, text, spans)
    pos = write_piece(out, pos, text, spans, P_O_PRICE)
    pos = _price(out, pos, order.price, scale, price_places, price_small, price_limbs, scratch)
    pos = write_piece(out, pos, text, spans, P_O_PRICE_TICKS)
    pos = write_int(out, pos, order.price)
    seq_at = pos
    pos = write_piece(out, pos, text, spans, P_O_SEQ)
    pos = write_int(out, pos, order.seq)
    seq_end = pos
    pos = write_piece(out, pos, text, spans, P_O_TS)
    pos = write_int(out, pos, order.timestamp_ns)
    pos = write_piece(out, pos, text, spans, P_O_STATUS)
    pos = _name(out, pos, order.status, E_STATUS, enum_pieces, text, spans)
    pos = write_piece(out, pos, text, spans, P_O_REASON)
    pos = _name(out, pos, order.reason, E_REASON, enum_pieces, text, spans)
    pos = write_piece(out, pos, text, spans, P_O_QUANTITY)
    pos = _qty(out, pos, order.quantity, scale, qty_places, qty_small, qty_limbs, scratch)
    pos = write_piece(out, pos, text, spans, P_O_FILLED)
    pos = _qty(out, pos, order.filled, scale, qty_places, qty_small, qty_limbs, scratch)
    pos = write_piece(out, pos, text, spans, P_O_LEAVES)
    pos = _qty(out, pos, order.leaves, scale, qty_places, qty_small, qty_limbs, scratch)
    pos = write_piece(out, pos, text, spans, P_O_QUANTITY_LOTS)
    pos = write_int(out, pos, order.quantity)
    pos = write_piece(out, pos, text, spans, P_O_FILLED_LOTS)
    pos = write_int(out, pos, order.filled)
    pos = write_piece(out, pos, text, spans, P_O_LEAVES_LOTS)
    pos = write_int(out, pos, order.leaves)
    return write_piece(out, pos, text, spans, P_END), seq_at, seq_end


@njit
def encode_rows(trades, trade_ends, trades_kept, orders, n_orders, order_group, group_rows,
                group_ends, text, spans, enum_pieces, closed, names, json_names, price_places,
                price_small, price_limbs, qty_places, qty_small, qty_limbs, channel, out,
                offsets, json_spans, scratch):
    """The trade and order arguments of one batch into ``out``; argument ``a`` is
    ``out[offsets[a]:offsets[a + 1]]``. Returns ``(arguments, bytes, buckets)``.

    ``trades``: the batch's TRADE events grouped by pair (groups in order of first appearance,
    seq order inside); group ``g`` ends at ``trade_ends[g]``. Per group: the pair's name, the
    message (``[`` the group's JSON texts joined by ``,`` ``]``), ``k`` = at most
    ``trades_kept``, then the JSON of the newest ``k`` trades, oldest first.

    ``orders[:n_orders]``: ``ORDER_FOLD_DTYPE`` rows in ascending order id; row ``i`` is in
    account group ``order_group[i]`` (1-based, groups in order of first row). Per bucket of
    ids: the bucket, its rows' meta (:data:`META_BYTES` bytes per row: ``mode + 4 * closed``
    with ``closed = closed[status]``, the account group in 3 bytes, the offset of
    ``,"seq":`` in the JSON in 3 bytes, the length of the seq's digits; big-endian), the
    ids, then the JSON texts. Then the first row (1-based) of each account group, 3 bytes
    each, in one argument; then per account group (its rows are
    ``group_rows[group_ends[g - 1]:group_ends[g]]``): the channel (piece ``channel``, then
    the account) and the message its rows make. ``json_spans`` (``n_orders`` x 2) is scratch.
    """
    pairs = names.shape[0]
    len_seq_mark = spans[P_O_SEQ, 1] - spans[P_O_SEQ, 0]
    pos = 0
    arg = 0
    offsets[0] = 0
    low = 0
    for group in range(trade_ends.shape[0]):
        high = trade_ends[group]
        pair_id = trades[low].pair_id
        scale = pair_id if 0 <= pair_id < pairs else -1
        pos = _pair_name(out, pos, pair_id, scale, names, text, spans)
        arg += 1
        offsets[arg] = pos
        out[pos] = 91  # "["
        pos += 1
        keep = max(low, high - trades_kept)
        for row in range(low, high):
            if row > low:
                out[pos] = 44  # ","
                pos += 1
            start = pos
            pos = _trade_json(out, pos, trades[row], pair_id, scale, json_names, text, spans,
                              enum_pieces, price_places, price_small, price_limbs, qty_places,
                              qty_small, qty_limbs, scratch)
            if row >= keep:
                json_spans[row - keep, 0] = start
                json_spans[row - keep, 1] = pos
        out[pos] = 93  # "]"
        pos += 1
        arg += 1
        offsets[arg] = pos
        pos = write_int(out, pos, np.int64(high - keep))
        arg += 1
        offsets[arg] = pos
        for row in range(high - keep):
            pos = write_bytes(out, pos, out, json_spans[row, 0],
                              json_spans[row, 1] - json_spans[row, 0])
            arg += 1
            offsets[arg] = pos
        low = high
    buckets = 0
    first = 0
    while first < n_orders:
        bucket = orders[first].order_id // ORDER_BUCKET
        end = first + 1
        while end < n_orders and orders[end].order_id // ORDER_BUCKET == bucket:
            end += 1
        buckets += 1
        pos = write_int(out, pos, bucket)
        arg += 1
        offsets[arg] = pos
        meta = pos  # filled in as the JSON texts are written
        pos += META_BYTES * (end - first)
        arg += 1
        offsets[arg] = pos
        for row in range(first, end):
            pos = write_int(out, pos, orders[row].order_id)
            arg += 1
            offsets[arg] = pos
        for row in range(first, end):
            order = orders[row]
            pair_id = order.pair_id
            scale = pair_id if 0 <= pair_id < pairs else -1
            start = pos
            pos, seq_at, seq_end = _order_json(
                out, pos, order, scale, json_names, text, spans, enum_pieces, price_places,
                price_small, price_limbs, qty_places, qty_small, qty_limbs, scratch)
            json_spans[row, 0] = start
            json_spans[row, 1] = pos
            arg += 1
            offsets[arg] = pos
            at = meta + META_BYTES * (row - first)
            status = order.status
            is_closed = 0 <= status < closed.shape[0] and closed[status] != 0
            out[at] = order.mode + (4 if is_closed else 0)
            _u24(out, at + 1, order_group[row])
            _u24(out, at + 4, seq_at - start)
            out[at + 7] = seq_end - seq_at - len_seq_mark
        first = end
    low = 0
    for group in range(group_ends.shape[0]):  # the first row of each account, 3 bytes each
        _u24(out, pos + 3 * group, group_rows[low] + 1)
        low = group_ends[group]
    pos += 3 * group_ends.shape[0]
    arg += 1
    offsets[arg] = pos
    low = 0
    for group in range(group_ends.shape[0]):
        high = group_ends[group]
        pos = write_piece(out, pos, text, spans, channel)
        pos = write_int(out, pos, orders[group_rows[low]].account)
        arg += 1
        offsets[arg] = pos
        out[pos] = 91  # "["
        pos += 1
        for at in range(low, high):
            if at > low:
                out[pos] = 44  # ","
                pos += 1
            row = group_rows[at]
            pos = write_bytes(out, pos, out, json_spans[row, 0],
                              json_spans[row, 1] - json_spans[row, 0])
        out[pos] = 93  # "]"
        pos += 1
        arg += 1
        offsets[arg] = pos
        low = high
    return arg, pos, buckets


@njit
def frame_args(source, offsets, n_args, out):
    """Arguments ``source[offsets[a]:offsets[a + 1]]`` as RESP bulk strings
    (``$<length>\\r\\n<bytes>\\r\\n``) into ``out``; returns the bytes written. ``out`` needs
    ``offsets[n_args] + 25 * n_args + 16`` bytes."""
    pos = 0
    for arg in range(n_args):
        start = offsets[arg]
        length = offsets[arg + 1] - start
        out[pos] = 36  # "$"
        pos = write_u64(out, pos + 1, np.uint64(length), 1)
        out[pos] = 13
        out[pos + 1] = 10
        pos = write_bytes(out, pos + 2, source, start, length)
        out[pos] = 13
        out[pos + 1] = 10
        pos += 2
    return pos
