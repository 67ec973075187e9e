"""Integers and fixed-point decimals as ASCII, written by compiled code into a ``uint8`` buffer.

Why it exists: the JSON event encoder (:mod:`ringex.wire.json_event_kernel`) and the Redis
store's encoder (:mod:`ringex.marketdata.redis_kernel`) both write numbers and literal text
with integer arithmetic only, never a Python string; this is that one writer. Functions are
``inline="always"`` (one call per field would cost ~10 ns) except :func:`write_fixed_limbs`,
the rare wide product.

The buffer contract, for every function here:

* each takes the buffer ``out`` and a position ``pos``, writes from ``pos`` and returns the
  position after the last byte it wrote;
* nothing is bounds-checked (``boundscheck`` is off): the caller sizes ``out`` for the widest
  value of every field it writes (an int64 takes at most 20 bytes) **plus 16 spare bytes**,
  because :func:`write_bytes`
  and :func:`write_piece` copy 16 bytes at a time and may write up to 15 bytes past the end
  of what they copy; for the same reason a source (``text``, or ``out`` itself) needs 16
  readable bytes past every range copied from it;
* nothing allocates, and nothing keeps state: any thread may call them on its own buffer.

Decimals are ``units * multiplier`` with ``places`` fractional digits: :func:`write_fixed_u64`
when the product fits in ``uint64`` (check with :data:`U64_MAX`), else
:func:`write_fixed_limbs` in base-10**9 limbs (a multiplier may reach 10**36, units 2**63).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ringex.jit import njit

__all__ = ["U64_MAX", "write_bytes", "write_piece", "abs_u64", "write_u64", "write_int",
           "write_fixed_u64", "write_fixed_limbs"]

_LIMB = 1_000_000_000
#: The largest uint64: a product ``a * b`` fits when ``a <= U64_MAX // b``.
U64_MAX = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
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
def write_bytes(out, pos, source, start, length):
    """``length`` bytes, 16 at a time (may write up to 15 bytes past ``pos + length``)."""
    done = 0
    while done < length:
        _copy16(out, pos + done, source, start + done)
        done += 16
    return pos + length


@njit(inline="always")
def write_piece(out, pos, text, spans, piece):
    """Literal number ``piece`` of a table: ``text[spans[piece, 0]:spans[piece, 1]]``."""
    start = spans[piece, 0]
    return write_bytes(out, pos, text, start, spans[piece, 1] - start)


@njit(inline="always")
def abs_u64(value):
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
def write_u64(out, pos, value, width):
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
def write_int(out, pos, value):
    """``str(value)`` of an int64."""
    if value < 0:
        out[pos] = 45  # "-"
        pos += 1
    return write_u64(out, pos, abs_u64(value), 1)


@njit(inline="always")
def write_fixed_u64(out, pos, value, places, negative):
    """``value * 10**-places`` with exactly ``places`` fractional digits."""
    if negative:
        out[pos] = 45
        pos += 1
    if places == 0:
        return write_u64(out, pos, value, 1)
    scale = _POW10_U64[places]
    pos = write_u64(out, pos, value // scale, 1)
    out[pos] = 46  # "."
    return write_u64(out, pos + 1, value % scale, places)


@njit
def write_fixed_limbs(out, pos, magnitude, limbs, scale, places, negative, scratch):
    """Like :func:`write_fixed_u64` for ``magnitude * multiplier`` beyond uint64: the
    multiplier's base-10**9 ``limbs[scale]`` (4, little-endian) times the magnitude's 3, into
    ``scratch[:8]`` (int64, the caller's)."""
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
