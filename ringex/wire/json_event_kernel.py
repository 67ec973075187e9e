"""The compiled JSON event encoder: every message of a batch into one ``uint8`` buffer.

Why it exists: the Kafka publisher's main cost was building one f-string per event (~3 us).
This kernel writes the same bytes with integer arithmetic only and ends each message at
``offsets[i + 1]``; :mod:`ringex.wire.json_events` turns the buffer into ``bytes`` per message.
:mod:`ringex.spec.json_events` is the specification; tests compare the two byte for
byte.

Literal text lives in one table (:data:`PIECES`, ids ``P_*``), written by :func:`_piece`.
Enum names are pieces too: ``enum_pieces[table, code]`` (tables ``E_*``) is the piece of a
code's quoted name, or of ``null``. Decimals: a value is ``units * multiplier`` written with
``places`` fractional digits. The product is computed exactly: in ``uint64`` when it fits,
else in base-10**9 limbs (a multiplier may reach 10**36, units 2**63), using ``scratch``.

Invariant: the caller sizes ``out`` at ``len(events) * bound + 16`` with ``bound`` from
:func:`ringex.wire.json_events` (every piece, plus the widest number of each field), and
``text`` ends with 16 spare bytes: pieces are copied 16 bytes at a time (:func:`_copy16`).
The kernel never checks (``boundscheck`` is off). Kernels allocate nothing.
"""

from __future__ import annotations

import numpy as np
import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ringex.jit import njit
from ringex.records import EventKind

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
_LIMB = 1_000_000_000
_U64_MAX = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_POW10 = np.array([10**k for k in range(9)], dtype=np.int64)
#: 10**k as uint64 for k in 0..19; a value has ``count`` digits when it is below
#: ``_POW10_U64[count]`` (index 20 stands for 2**64).
_POW10_U64 = np.array([10**k for k in range(20)] + [2**64 - 1], dtype=np.uint64)
#: "00" .. "99": two digits per division.
_PAIRS = np.frombuffer("".join(f"{k:02d}" for k in range(100)).encode(), dtype=np.uint8).copy()
_HUNDRED = np.uint64(100)
_TEN = np.uint64(10)
_ZERO_CHAR = np.uint64(48)


@intrinsic
def _copy16(typingctx, destination, destination_at, source, source_at):
    """Copy 16 bytes ``source[source_at:]`` -> ``destination[destination_at:]`` with one
    unaligned 128-bit load and store. A byte loop of unknown length costs ~10 ns per piece
    here (numba cannot vectorize it); this costs ~1 ns. Both arrays need 16 bytes of slack."""
    signature = types.void(destination, types.intp, source, types.intp)

    def codegen(context, builder, signature, args):
        destination_value, destination_at, source_value, source_at = args
        destination_array = context.make_array(signature.args[0])(context, builder,
                                                                    destination_value)
        source_array = context.make_array(signature.args[2])(context, builder, source_value)
        word = ir.IntType(128).as_pointer()
        load_from = builder.bitcast(builder.gep(source_array.data, [source_at]), word)
        store_to = builder.bitcast(builder.gep(destination_array.data, [destination_at]), word)
        builder.store(builder.load(load_from, align=1), store_to, align=1)
        return context.get_dummy_value()

    return signature, codegen


if numba.config.DISABLE_JIT:  # the same copy, for coverage runs without the compiler
    def _copy16(destination, destination_at, source, source_at):  # noqa: F811
        destination[destination_at:destination_at + 16] = source[source_at:source_at + 16]


@njit(inline="always")
def _copy(out, pos, source, start, length):
    """``length`` bytes, 16 at a time (may write up to 15 bytes past ``pos + length``)."""
    done = 0
    while done < length:
        _copy16(out, pos + done, source, start + done)
        done += 16
    return pos + length


@njit(inline="always")
def _piece(out, pos, text, spans, piece):
    start = spans[piece, 0]
    return _copy(out, pos, text, start, spans[piece, 1] - start)


@njit(inline="always")
def _magnitude(value):
    """``abs(value)`` as uint64, exact even for ``-2**63``."""
    if value < 0:
        return np.uint64(-(value + 1)) + np.uint64(1)
    return np.uint64(value)


@njit(inline="always")
def _digits(value):
    count = 1
    while count < 20 and value >= _POW10_U64[count]:
        count += 1
    return count


@njit(inline="always")
def _u64(out, pos, value, width):
    """``value`` zero-padded to at least ``width`` digits."""
    end = pos + max(_digits(value), width)
    at = end
    while value >= _HUNDRED:
        pair = np.int64(value % _HUNDRED) * 2
        value //= _HUNDRED
        out[at - 1] = _PAIRS[pair + 1]
        out[at - 2] = _PAIRS[pair]
        at -= 2
    if value >= _TEN:
        pair = np.int64(value) * 2
        out[at - 1] = _PAIRS[pair + 1]
        out[at - 2] = _PAIRS[pair]
        at -= 2
    else:
        out[at - 1] = _ZERO_CHAR + value
        at -= 1
    while at > pos:
        out[at - 1] = 48
        at -= 1
    return end


@njit(inline="always")
def _int(out, pos, value):
    """``str(value)`` of an int64."""
    if value < 0:
        out[pos] = 45  # "-"
        pos += 1
    return _u64(out, pos, _magnitude(value), 1)


@njit(inline="always")
def _fixed_u64(out, pos, value, places, negative):
    """``value * 10**-places`` with exactly ``places`` fractional digits."""
    if negative:
        out[pos] = 45
        pos += 1
    if places == 0:
        return _u64(out, pos, value, 1)
    scale = _POW10_U64[places]
    pos = _u64(out, pos, value // scale, 1)
    out[pos] = 46  # "."
    return _u64(out, pos + 1, value % scale, places)


@njit
def _fixed_limbs(out, pos, magnitude, limbs, scale, places, negative, scratch):
    """Like :func:`_fixed_u64` for ``magnitude * multiplier`` beyond uint64: the multiplier's
    base-10**9 ``limbs`` (4, little-endian) times the magnitude's 3, into ``scratch[:8]``."""
    low = np.int64(magnitude % np.uint64(_LIMB))
    middle = np.int64((magnitude // np.uint64(_LIMB)) % np.uint64(_LIMB))
    high = np.int64(magnitude // np.uint64(_LIMB * _LIMB))
    carry = np.uint64(0)
    for k in range(8):
        total = carry
        for i in range(3):
            j = k - i
            if 0 <= j < 4:
                factor = low if i == 0 else (middle if i == 1 else high)
                total += np.uint64(factor) * np.uint64(limbs[scale, j])
        scratch[k] = np.int64(total % np.uint64(_LIMB))
        carry = total // np.uint64(_LIMB)
    top = 7
    while top > 0 and scratch[top] == 0:
        top -= 1
    count = _digits(np.uint64(scratch[top])) + 9 * top
    width = max(count, places + 1)
    end = pos + width + (1 if places > 0 else 0) + (1 if negative else 0)
    at = end - 1
    for index in range(width):
        if places > 0 and index == places:
            out[at] = 46
            at -= 1
        limb = index // 9
        digit = (scratch[limb] // _POW10[index % 9]) % 10 if limb < 8 else 0
        out[at] = 48 + digit
        at -= 1
    if negative:
        out[at] = 45
    return end


@njit(inline="always")
def _decimal(out, pos, units, scale, places, small, limbs, text, spans, scratch):
    """The quoted decimal of ``units`` on ``scale`` (a pair's row), or ``null`` (scale < 0)."""
    if scale < 0:
        return _piece(out, pos, text, spans, NULL)
    out[pos] = 34  # '"'
    pos += 1
    magnitude = _magnitude(units)
    negative = units < 0
    multiplier = small[scale]
    if multiplier > 0 and magnitude <= _U64_MAX // np.uint64(multiplier):
        pos = _fixed_u64(out, pos, magnitude * np.uint64(multiplier), places[scale], negative)
    else:
        pos = _fixed_limbs(out, pos, magnitude, limbs, scale, places[scale], negative, scratch)
    out[pos] = 34
    return pos + 1


@njit(inline="always")
def _enum(out, pos, code, table, enum_pieces, text, spans):
    return _piece(out, pos, text, spans, enum_pieces[table, code])


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
        pos = _piece(out, pos, text, spans, P_SEQ)
        pos = _int(out, pos, event["seq"])
        pos = _piece(out, pos, text, spans, P_KIND)
        pos = _enum(out, pos, kind, E_KIND, enum_pieces, text, spans)
        pos = _piece(out, pos, text, spans, P_REASON)
        pos = _enum(out, pos, event["reason"], E_REASON, enum_pieces, text, spans)
        pos = _piece(out, pos, text, spans, P_COMMAND_INDEX)
        pos = _int(out, pos, event["command_index"])
        pos = _piece(out, pos, text, spans, P_TIMESTAMP)
        pos = _int(out, pos, event["timestamp_ns"] // 1_000_000)
        pos = _piece(out, pos, text, spans, P_TIMESTAMP_NS)
        pos = _int(out, pos, event["timestamp_ns"])
        pos = _piece(out, pos, text, spans, P_PAIR)
        pos = _piece(out, pos, text, spans, pair_pieces[scale] if scale >= 0 else NULL)
        pos = _piece(out, pos, text, spans, P_PAIR_ID)
        pos = _int(out, pos, np.int64(pair_id))
        if kind == _PAIR_STATUS_KIND:
            pos = _piece(out, pos, text, spans, P_PAIR_STATUS)
            pos = _enum(out, pos, event["pair_status"], E_PAIR_STATUS, enum_pieces, text, spans)
        elif kind == _MASS_CANCELED:
            pos = _piece(out, pos, text, spans, P_ACCOUNT)
            pos = _int(out, pos, event["account"])
            pos = _piece(out, pos, text, spans, P_CANCELED_COUNT)
            pos = _int(out, pos, event["trade_qty"])
        else:
            pos = _piece(out, pos, text, spans, P_ORDER_ID)
            pos = _int(out, pos, event["order_id"])
            pos = _piece(out, pos, text, spans, P_CLIENT_ORDER_ID)
            pos = _int(out, pos, event["client_order_id"])
            pos = _piece(out, pos, text, spans, P_ACCOUNT)
            pos = _int(out, pos, event["account"])
            pos = _piece(out, pos, text, spans, P_SIDE)
            pos = _enum(out, pos, event["side"], E_SIDE, enum_pieces, text, spans)
            pos = _piece(out, pos, text, spans, P_ORDER_TYPE)
            pos = _enum(out, pos, event["order_type"], E_TYPE, enum_pieces, text, spans)
            pos = _piece(out, pos, text, spans, P_TIF)
            pos = _enum(out, pos, event["tif"], E_TIF, enum_pieces, text, spans)
            pos = _piece(out, pos, text, spans, P_POST_ONLY)
            pos = _piece(out, pos, text, spans, P_TRUE if event["flags"] & 1 else P_FALSE)
            pos = _piece(out, pos, text, spans, P_ORDER_STATUS)
            pos = _enum(out, pos, event["order_status"], E_ORDER_STATUS, enum_pieces, text, spans)
            pos = _piece(out, pos, text, spans, P_PRICE)
            pos = _decimal(out, pos, event["price"], scale, price_places, price_small,
                           price_limbs, text, spans, scratch)
            pos = _piece(out, pos, text, spans, P_QUANTITY)
            pos = _decimal(out, pos, event["quantity"], scale, qty_places, qty_small, qty_limbs,
                           text, spans, scratch)
            pos = _piece(out, pos, text, spans, P_FILLED_QTY)
            pos = _decimal(out, pos, event["filled_qty"], scale, qty_places, qty_small,
                           qty_limbs, text, spans, scratch)
            pos = _piece(out, pos, text, spans, P_LEAVES_QTY)
            pos = _decimal(out, pos, event["leaves_qty"], scale, qty_places, qty_small,
                           qty_limbs, text, spans, scratch)
            if kind == _TRADE:
                pos = _piece(out, pos, text, spans, P_TRADE_QTY)
                pos = _decimal(out, pos, event["trade_qty"], scale, qty_places, qty_small,
                               qty_limbs, text, spans, scratch)
                pos = _piece(out, pos, text, spans, P_MAKER_ORDER_ID)
                pos = _int(out, pos, event["maker_order_id"])
                pos = _piece(out, pos, text, spans, P_MAKER_ACCOUNT)
                pos = _int(out, pos, event["maker_account"])
                pos = _piece(out, pos, text, spans, P_MAKER_SIDE)
                pos = _enum(out, pos, event["side"], E_OTHER_SIDE, enum_pieces, text, spans)
                pos = _piece(out, pos, text, spans, P_MAKER_QUANTITY)
                pos = _decimal(out, pos, event["maker_quantity"], scale, qty_places, qty_small,
                               qty_limbs, text, spans, scratch)
                pos = _piece(out, pos, text, spans, P_MAKER_FILLED_QTY)
                pos = _decimal(out, pos, event["maker_filled_qty"], scale, qty_places, qty_small,
                               qty_limbs, text, spans, scratch)
                pos = _piece(out, pos, text, spans, P_MAKER_LEAVES_QTY)
                pos = _decimal(out, pos, event["maker_leaves_qty"], scale, qty_places, qty_small,
                               qty_limbs, text, spans, scratch)
        pos = _piece(out, pos, text, spans, P_END)
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
        pos = _piece(out, pos, text, spans, P_T_MAKER_ORDER_ID)
        pos = _int(out, pos, event["maker_order_id"])
        pos = _piece(out, pos, text, spans, P_T_TAKER_ORDER_ID)
        pos = _int(out, pos, event["order_id"])
        pos = _piece(out, pos, text, spans, P_PRICE)
        pos = _decimal(out, pos, event["price"], scale, price_places, price_small, price_limbs,
                       text, spans, scratch)
        pos = _piece(out, pos, text, spans, P_T_AMOUNT)
        amount_at = pos
        pos = _decimal(out, pos, event["trade_qty"], scale, qty_places, qty_small, qty_limbs,
                       text, spans, scratch)
        amount_end = pos
        pos = _piece(out, pos, text, spans, P_PAIR)
        pos = _piece(out, pos, text, spans, pair_pieces[scale] if scale >= 0 else NULL)
        pos = _piece(out, pos, text, spans, P_TIMESTAMP)
        pos = _int(out, pos, event["timestamp_ns"] // 1_000_000)
        pos = _piece(out, pos, text, spans, P_QUANTITY)
        pos = _copy(out, pos, out, amount_at, amount_end - amount_at)
        pos = _piece(out, pos, text, spans, P_T_SEQ)
        pos = _int(out, pos, event["seq"])
        pos = _piece(out, pos, text, spans, P_T_TAKER_SIDE)
        pos = _enum(out, pos, event["side"], E_SIDE, enum_pieces, text, spans)
        pos = _piece(out, pos, text, spans, P_MAKER_SIDE)
        pos = _enum(out, pos, event["side"], E_OTHER_SIDE, enum_pieces, text, spans)
        pos = _piece(out, pos, text, spans, P_MAKER_ACCOUNT)
        pos = _int(out, pos, event["maker_account"])
        pos = _piece(out, pos, text, spans, P_T_TAKER_ACCOUNT)
        pos = _int(out, pos, event["account"])
        pos = _piece(out, pos, text, spans, P_T_MAKER_LEAVES)
        pos = _decimal(out, pos, event["maker_leaves_qty"], scale, qty_places, qty_small,
                       qty_limbs, text, spans, scratch)
        pos = _piece(out, pos, text, spans, P_T_TAKER_LEAVES)
        pos = _decimal(out, pos, event["leaves_qty"], scale, qty_places, qty_small, qty_limbs,
                       text, spans, scratch)
        pos = _piece(out, pos, text, spans, P_COMMAND_INDEX)
        pos = _int(out, pos, event["command_index"])
        pos = _piece(out, pos, text, spans, P_END)
        offsets[index + 1] = pos
    return pos
