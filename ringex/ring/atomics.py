"""CPU atomics on int64 cells of a numpy array, for compiled code.

numba has no atomics of its own, and a plain load inside a spin loop may legally be hoisted
out of the loop by LLVM, so a consumer would never see the producer's store. Every cell of a
ring header that another process writes is therefore read with :func:`load_acquire` and
written with :func:`store_release`; claims use :func:`cas` or :func:`fetch_add`.

The functions are numba ``@intrinsic``s over llvmlite (``load_atomic``, ``store_atomic``,
``cmpxchg``, ``atomic_rmw``, ``fence``). They are callable only from compiled code; the
Python API reaches them through small ``@njit`` wrappers. Indices are not bounds-checked.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["load_acquire", "store_release", "cas", "fetch_add", "fence", "cpu_relax"]

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _is_int64_array(arr) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1


def _cell_pointer(context, builder, arr_type, arr_value, idx_type, idx_value):
    array = context.make_array(arr_type)(context, builder, arr_value)
    index = context.cast(builder, idx_value, idx_type, types.intp)
    return cgutils.get_item_pointer(context, builder, arr_type, array, [index], wraparound=False)


@intrinsic
def load_acquire(typingctx, arr, idx):
    """``arr[idx]`` with acquire ordering; never hoisted out of a loop."""
    if not (_is_int64_array(arr) and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _cell_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(arr, idx), codegen


@intrinsic
def store_release(typingctx, arr, idx, value):
    """``arr[idx] = value`` with release ordering: earlier writes are visible first."""
    if not (_is_int64_array(arr) and isinstance(idx, types.Integer)
            and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _cell_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        val = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(val, ptr, "release", 8)
        return context.get_dummy_value()

    return types.void(arr, idx, value), codegen


@intrinsic
def cas(typingctx, arr, idx, expected, desired):
    """Compare-and-swap, sequentially consistent; returns the value seen before."""
    if not (_is_int64_array(arr) and isinstance(idx, types.Integer)
            and isinstance(expected, types.Integer) and isinstance(desired, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _cell_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        exp = context.cast(builder, args[2], sig.args[2], types.int64)
        new = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(ptr, exp, new, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)

    return types.int64(arr, idx, expected, desired), codegen


@intrinsic
def fetch_add(typingctx, arr, idx, delta):
    """Atomic ``arr[idx] += delta``, sequentially consistent; returns the old value."""
    if not (_is_int64_array(arr) and isinstance(idx, types.Integer)
            and isinstance(delta, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _cell_pointer(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        inc = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, inc, "seq_cst")

    return types.int64(arr, idx, delta), codegen


@intrinsic
def fence(typingctx):
    """Full (store-load) fence: needed where a store must be seen before a later load."""

    def codegen(context, builder, sig, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def cpu_relax(typingctx):
    """The x86 ``pause`` hint for spin loops (``llvm.x86.sse2.pause``); a no-op elsewhere."""

    def codegen(context, builder, sig, args):
        if _X86:
            fnty = ir.FunctionType(ir.VoidType(), [])
            pause = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse2.pause")
            builder.call(pause, [])
        return context.get_dummy_value()

    return types.void(), codegen
