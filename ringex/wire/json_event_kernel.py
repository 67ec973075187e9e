"""The compiled JSON event encoder: every message of a batch into one ``uint8`` buffer.

Why it exists: the Kafka publisher's main cost was building one f-string per event (~3 us).
This kernel writes the same bytes with integer arithmetic only and ends each message at
``offsets[i + 1]``; :mod:`ringex.wire.json_events` turns the buffer into ``bytes`` per message.
:mod:`ringex.spec.json_events` is the specification; tests compare the two byte for
byte.

Literal text lives in one table (:data:`PIECES`, ids ``P_*``). Enum names are pieces too:
``enum_pieces[table, code]`` (tables ``E_*``) is the piece of a code's quoted name, or of
``null``. Decimals: a value is ``units * multiplier`` written with ``places`` fractional
digits, exactly: in ``uint64`` when it fits, else in base-10**9 limbs, using ``scratch``.
Pieces, integers and decimals are written by :mod:`ringex.wire.ascii_kernel`.

Invariant: the caller sizes ``out`` at ``len(events) * bound + 16`` with ``bound`` from
:func:`ringex.wire.json_events` (every piece, plus the widest number of each field), and
``text`` ends with 16 spare bytes: pieces are copied 16 bytes at a time (the buffer contract
of :mod:`ringex.wire.ascii_kernel`). The kernel never checks (``boundscheck`` is off).
Kernels allocate nothing.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit
from ringex.records import EventKind
from ringex.wire.ascii_kernel import (
    U64_MAX,
    abs_u64,
    write_bytes,
    write_fixed_limbs,
    write_fixed_u64,
    write_int,
    write_piece,
)

__all__ = ["PIECES", "NULL", "encode_events_kernel", "encode_trades_kernel", "E_TABLES"]

#: Every literal the two formats contain, in one list; ``P_*`` are their indexes.
PIECES: list[bytes] = []


def _add(text: str) -> int:
    PIECES.append(text.encode("ascii"))
    return len(PIECES) - 1


NULL = _add("null")
P_TRUE = _add("true")
P_FALSE = _add("false")
P_QUOTE = _add('"')
# order-events
P_SEQ = _add('{"seq":')
P_KIND = _add(',"kind":')
P_REASON = _add(',"reason":')
P_COMMAND_INDEX = _add(',"command_index":')
P_TIMESTAMP = _add(',"timestamp":')
P_TIMESTAMP_NS = _add(',"timestamp_ns":')
P_PAIR = _add(',"pair":')
P_PAIR_ID = _add(',"pair_id":')
P_PAIR_STATUS = _add(',"pair_status":')
P_ACCOUNT = _add(',"account":')
P_CANCELED_COUNT = _add(',"canceled_count":')
P_ORDER_ID = _add(',"order_id":')
P_CLIENT_ORDER_ID = _add(',"client_order_id":')
P_SIDE = _add(',"side":')
P_ORDER_TYPE = _add(',"order_type":')
P_TIF = _add(',"tif":')
P_POST_ONLY = _add(',"post_only":')
P_ORDER_STATUS = _add(',"order_status":')
P_PRICE = _add(',"price":')
P_QUANTITY = _add(',"quantity":')
P_FILLED_QTY = _add(',"filled_qty":')
P_LEAVES_QTY = _add(',"leaves_qty":')
P_TRADE_QTY = _add(',"trade_qty":')
P_MAKER_ORDER_ID = _add(',"maker_order_id":')
P_MAKER_ACCOUNT = _add(',"maker_account":')
P_MAKER_SIDE = _add(',"maker_side":')
P_MAKER_QUANTITY = _add(',"maker_quantity":')
P_MAKER_FILLED_QTY = _add(',"maker_filled_qty":')
P_MAKER_LEAVES_QTY = _add(',"maker_leaves_qty":')
P_END = _add("}")
# trades
P_T_MAKER_ORDER_ID = _add('{"maker_order_id":')
P_T_TAKER_ORDER_ID = _add(',"taker_order_id":')
P_T_AMOUNT = _add(',"amount":')
P_T_TAKER_SIDE = _add(',"taker_side":')
P_T_MAKER_LEAVES = _add(',"maker_leaves":')
P_T_TAKER_LEAVES = _add(',"taker_leaves":')
P_T_TAKER_ACCOUNT = _add(',"taker_account":')
P_T_SEQ = _add(',"seq":')

#: Rows of ``enum_pieces``; OTHER_SIDE maps a taker side to the maker's side name.
E_TABLES = ("kind", "reason", "side", "order_type", "tif", "order_status", "pair_status",
            "other_side")
E_KIND, E_REASON, E_SIDE, E_TYPE, E_TIF, E_ORDER_STATUS, E_PAIR_STATUS, E_OTHER_SIDE = range(8)

_TRADE = int(EventKind.TRADE)
_PAIR_STATUS_KIND = int(EventKind.PAIR_STATUS)
_MASS_CANCELED = int(EventKind.MASS_CANCELED)


@njit(inline="always")
def _decimal(out, pos, units, scale, places, small, limbs, text, spans, scratch):
    """The quoted decimal of ``units`` on ``scale`` (a pair's row), or ``null`` (scale < 0)."""
    if scale < 0:
        return write_piece(out, pos, text, spans, NULL)
    out[pos] = 34  # '"'
    pos += 1
    magnitude = abs_u64(units)
    negative = units < 0
    multiplier = small[scale]
    if multiplier > 0 and magnitude <= U64_MAX // np.uint64(multiplier):
        pos = write_fixed_u64(out, pos, magnitude * np.uint64(multiplier), places[scale], negative)
    else:
        pos = write_fixed_limbs(out, pos, magnitude, limbs, scale, places[scale], negative,
                                scratch)
    out[pos] = 34
    return pos + 1


@njit(inline="always")
def _enum(out, pos, code, table, enum_pieces, text, spans):
    return write_piece(out, pos, text, spans, enum_pieces[table, code])


@njit
def encode_events_kernel(events, text, spans, enum_pieces, pair_pieces, price_places,
                         price_small, price_limbs, qty_places, qty_small, qty_limbs, out,
                         offsets, scratch):
    """The ``order-events`` message of every event into ``out``; ``offsets[i]`` .. ``[i+1]``
    bound message ``i``. Returns the bytes written."""
    pairs = pair_pieces.shape[0]
    pos = 0
    offsets[0] = 0
    for index in range(events.shape[0]):
        event = events[index]
        kind = event["kind"]
        pair_id = event["pair_id"]
        scale = pair_id if 0 <= pair_id < pairs else -1
        pos = write_piece(out, pos, text, spans, P_SEQ)
        pos = write_int(out, pos, event["seq"])
        pos = write_piece(out, pos, text, spans, P_KIND)
        pos = _enum(out, pos, kind, E_KIND, enum_pieces, text, spans)
        pos = write_piece(out, pos, text, spans, P_REASON)
        pos = _enum(out, pos, event["reason"], E_REASON, enum_pieces, text, spans)
        pos = write_piece(out, pos, text, spans, P_COMMAND_INDEX)
        pos = write_int(out, pos, event["command_index"])
        pos = write_piece(out, pos, text, spans, P_TIMESTAMP)
        pos = write_int(out, pos, event["timestamp_ns"] // 1_000_000)
        pos = write_piece(out, pos, text, spans, P_TIMESTAMP_NS)
        pos = write_int(out, pos, event["timestamp_ns"])
        pos = write_piece(out, pos, text, spans, P_PAIR)
        pos = write_piece(out, pos, text, spans, pair_pieces[scale] if scale >= 0 else NULL)
        pos = write_piece(out, pos, text, spans, P_PAIR_ID)
        pos = write_int(out, pos, np.int64(pair_id))
        if kind == _PAIR_STATUS_KIND:
            pos = write_piece(out, pos, text, spans, P_PAIR_STATUS)
            pos = _enum(out, pos, event["pair_status"], E_PAIR_STATUS, enum_pieces, text, spans)
        elif kind == _MASS_CANCELED:
            pos = write_piece(out, pos, text, spans, P_ACCOUNT)
            pos = write_int(out, pos, event["account"])
            pos = write_piece(out, pos, text, spans, P_CANCELED_COUNT)
            pos = write_int(out, pos, event["trade_qty"])
        else:
            pos = write_piece(out, pos, text, spans, P_ORDER_ID)
            pos = write_int(out, pos, event["order_id"])
            pos = write_piece(out, pos, text, spans, P_CLIENT_ORDER_ID)
            pos = write_int(out, pos, event["client_order_id"])
            pos = write_piece(out, pos, text, spans, P_ACCOUNT)
            pos = write_int(out, pos, event["account"])
            pos = write_piece(out, pos, text, spans, P_SIDE)
            pos = _enum(out, pos, event["side"], E_SIDE, enum_pieces, text, spans)
            pos = write_piece(out, pos, text, spans, P_ORDER_TYPE)
            pos = _enum(out, pos, event["order_type"], E_TYPE, enum_pieces, text, spans)
            pos = write_piece(out, pos, text, spans, P_TIF)
            pos = _enum(out, pos, event["tif"], E_TIF, enum_pieces, text, spans)
            pos = write_piece(out, pos, text, spans, P_POST_ONLY)
            pos = write_piece(out, pos, text, spans, P_TRUE if event["flags"] & 1 else P_FALSE)
            pos = write_piece(out, pos, text, spans, P_ORDER_STATUS)
            pos = _enum(out, pos, event["order_status"], E_ORDER_STATUS, enum_pieces, text, spans)
            pos = write_piece(out, pos, text, spans, P_PRICE)
            pos = _decimal(out, pos, event["price"], scale, price_places, price_small,
                           price_limbs, text, spans, scratch)
            pos = write_piece(out, pos, text, spans, P_QUANTITY)
            pos = _decimal(out, pos, event["quantity"], scale, qty_places, qty_small, qty_limbs,
                           text, spans, scratch)
            pos = write_piece(out, pos, text, spans, P_FILLED_QTY)
            pos = _decimal(out, pos, event["filled_qty"], scale, qty_places, qty_small,
                           qty_limbs, text, spans, scratch)
            pos = write_piece(out, pos, text, spans, P_LEAVES_QTY)
            pos = _decimal(out, pos, event["leaves_qty"], scale, qty_places, qty_small,
                           qty_limbs, text, spans, scratch)
            if kind == _TRADE:
                pos = write_piece(out, pos, text, spans, P_TRADE_QTY)
                pos = _decimal(out, pos, event["trade_qty"], scale, qty_places, qty_small,
                               qty_limbs, text, spans, scratch)
                pos = write_piece(out, pos, text, spans, P_MAKER_ORDER_ID)
                pos = write_int(out, pos, event["maker_order_id"])
                pos = write_piece(out, pos, text, spans, P_MAKER_ACCOUNT)
                pos = write_int(out, pos, event["maker_account"])
                pos = write_piece(out, pos, text, spans, P_MAKER_SIDE)
                pos = _enum(out, pos, event["side"], E_OTHER_SIDE, enum_pieces, text, spans)
                pos = write_piece(out, pos, text, spans, P_MAKER_QUANTITY)
                pos = _decimal(out, pos, event["maker_quantity"], scale, qty_places, qty_small,
                               qty_limbs, text, spans, scratch)
                pos = write_piece(out, pos, text, spans, P_MAKER_FILLED_QTY)
                pos = _decimal(out, pos, event["maker_filled_qty"], scale, qty_places, qty_small,
                               qty_limbs, text, spans, scratch)
                pos = write_piece(out, pos, text, spans, P_MAKER_LEAVES_QTY)
                pos = _decimal(out, pos, event["maker_leaves_qty"], scale, qty_places, qty_small,
                               qty_limbs, text, spans, scratch)
        pos = write_piece(out, pos, text, spans, P_END)
        offsets[index + 1] = pos
    return pos


@njit
def encode_trades_kernel(events, text, spans, enum_pieces, pair_pieces, price_places,
                         price_small, price_limbs, qty_places, qty_small, qty_limbs, out,
                         offsets, scratch):
    """The ``trades`` message of every event (the caller checked they are all TRADEs)."""
    pairs = pair_pieces.shape[0]
    pos = 0
    offsets[0] = 0
    for index in range(events.shape[0]):
        event = events[index]
        pair_id = event["pair_id"]
        scale = pair_id if 0 <= pair_id < pairs else -1
        pos = write_piece(out, pos, text, spans, P_T_MAKER_ORDER_ID)
        pos = write_int(out, pos, event["maker_order_id"])
        pos = write_piece(out, pos, text, spans, P_T_TAKER_ORDER_ID)
        pos = write_int(out, pos, event["order_id"])
        pos = write_piece(out, pos, text, spans, P_PRICE)
        pos = _decimal(out, pos, event["price"], scale, price_places, price_small, price_limbs,
                       text, spans, scratch)
        pos = write_piece(out, pos, text, spans, P_T_AMOUNT)
        amount_at = pos
        pos = _decimal(out, pos, event["trade_qty"], scale, qty_places, qty_small, qty_limbs,
                       text, spans, scratch)
        amount_end = pos
        pos = write_piece(out, pos, text, spans, P_PAIR)
        pos = write_piece(out, pos, text, spans, pair_pieces[scale] if scale >= 0 else NULL)
        pos = write_piece(out, pos, text, spans, P_TIMESTAMP)
        pos = write_int(out, pos, event["timestamp_ns"] // 1_000_000)
        pos = write_piece(out, pos, text, spans, P_QUANTITY)
        pos = write_bytes(out, pos, out, amount_at, amount_end - amount_at)
        pos = write_piece(out, pos, text, spans, P_T_SEQ)
        pos = write_int(out, pos, event["seq"])
        pos = write_piece(out, pos, text, spans, P_T_TAKER_SIDE)
        pos = _enum(out, pos, event["side"], E_SIDE, enum_pieces, text, spans)
        pos = write_piece(out, pos, text, spans, P_MAKER_SIDE)
        pos = _enum(out, pos, event["side"], E_OTHER_SIDE, enum_pieces, text, spans)
        pos = write_piece(out, pos, text, spans, P_MAKER_ACCOUNT)
        pos = write_int(out, pos, event["maker_account"])
        pos = write_piece(out, pos, text, spans, P_T_TAKER_ACCOUNT)
        pos = write_int(out, pos, event["account"])
        pos = write_piece(out, pos, text, spans, P_T_MAKER_LEAVES)
        pos = _decimal(out, pos, event["maker_leaves_qty"], scale, qty_places, qty_small,
                       qty_limbs, text, spans, scratch)
        pos = write_piece(out, pos, text, spans, P_T_TAKER_LEAVES)
        pos = _decimal(out, pos, event["leaves_qty"], scale, qty_places, qty_small, qty_limbs,
                       text, spans, scratch)
        pos = write_piece(out, pos, text, spans, P_COMMAND_INDEX)
        pos = write_int(out, pos, event["command_index"])
        pos = write_piece(out, pos, text, spans, P_END)
        offsets[index + 1] = pos
    return pos
