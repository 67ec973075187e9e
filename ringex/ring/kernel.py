"""The few kernel calls that compiled wait loops need, as numba intrinsics.

A consumer that finds nothing to read must eventually stop burning its core; on this 2-core
machine that is the difference between a fast exchange and a starved one. These intrinsics let
compiled code sleep and wake without returning to Python:

* :func:`futex_wait` / :func:`futex_wake` on the low 32 bits of an int64 header cell in shared
  memory (shared, not ``FUTEX_PRIVATE``, because the waiter and the waker are different
  processes);
* :func:`sched_yield`, :func:`sleep_ns` and :func:`monotonic_ns`.

They are declared as external libc symbols (``syscall``, ``sched_yield``, ``nanosleep``,
``clock_gettime``) rather than ctypes pointers, so functions using them stay cacheable
(a ctypes pointer is a process-specific address and disables numba's on-disk cache).
Linux only.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["futex_wait", "futex_wake", "sched_yield", "sleep_ns", "monotonic_ns"]

_SYS_FUTEX = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98}[platform.machine().lower()]
_FUTEX_WAIT = 0
_FUTEX_WAKE = 1
_CLOCK_MONOTONIC = 1

_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_TIMESPEC = ir.LiteralStructType([_I64, _I64])


def _libc(builder, name, ret, params, var_arg=False):
    fnty = ir.FunctionType(ret, params, var_arg=var_arg)
    return cgutils.get_or_insert_function(builder.module, fnty, name)


def _timespec(builder, nanoseconds):
    """A stack ``struct timespec`` holding ``nanoseconds``; returns its pointer."""
    ts = cgutils.alloca_once(builder, _TIMESPEC)
    billion = ir.Constant(_I64, 1_000_000_000)
    builder.store(builder.sdiv(nanoseconds, billion), cgutils.gep_inbounds(builder, ts, 0, 0))
    builder.store(builder.srem(nanoseconds, billion), cgutils.gep_inbounds(builder, ts, 0, 1))
    return ts


def _cell_address(context, builder, arr_type, arr_value, idx_type, idx_value):
    array = context.make_array(arr_type)(context, builder, arr_value)
    index = context.cast(builder, idx_value, idx_type, types.intp)
    ptr = cgutils.get_item_pointer(context, builder, arr_type, array, [index], wraparound=False)
    return builder.ptrtoint(ptr, _I64)


def _check_cell(arr, idx) -> bool:
    return (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1
            and isinstance(idx, types.Integer))


@intrinsic
def futex_wait(typingctx, arr, idx, expected, timeout_ns):
    """Sleep while the low 32 bits of ``arr[idx]`` equal ``expected``, at most ``timeout_ns``.

    Returns the raw syscall result (0 on wake-up, -1 on timeout, EAGAIN or a signal); callers
    always re-check their condition, so the result is only informative.
    """
    if not (_check_cell(arr, idx) and isinstance(expected, types.Integer)
            and isinstance(timeout_ns, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        addr = _cell_address(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        want = context.cast(builder, args[2], sig.args[2], types.int64)
        want = builder.and_(want, ir.Constant(_I64, 0xFFFFFFFF))
        timeout = context.cast(builder, args[3], sig.args[3], types.int64)
        ts = builder.ptrtoint(_timespec(builder, timeout), _I64)
        syscall = _libc(builder, "syscall", _I64, [_I64], var_arg=True)
        zero = ir.Constant(_I64, 0)
        return builder.call(syscall, [ir.Constant(_I64, _SYS_FUTEX), addr,
                                      ir.Constant(_I64, _FUTEX_WAIT), want, ts, zero, zero])

    return types.int64(arr, idx, expected, timeout_ns), codegen


@intrinsic
def futex_wake(typingctx, arr, idx):
    """Wake every process sleeping in :func:`futex_wait` on ``arr[idx]``."""
    if not _check_cell(arr, idx):
        return None

    def codegen(context, builder, sig, args):
        addr = _cell_address(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        syscall = _libc(builder, "syscall", _I64, [_I64], var_arg=True)
        zero = ir.Constant(_I64, 0)
        return builder.call(syscall, [ir.Constant(_I64, _SYS_FUTEX), addr,
                                      ir.Constant(_I64, _FUTEX_WAKE),
                                      ir.Constant(_I64, 0x7FFFFFFF), zero, zero, zero])

    return types.int64(arr, idx), codegen


@intrinsic
def sched_yield(typingctx):
    """Give the core to another runnable thread, if there is one."""

    def codegen(context, builder, sig, args):
        builder.call(_libc(builder, "sched_yield", _I32, []), [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def sleep_ns(typingctx, nanoseconds):
    """``nanosleep`` for about ``nanoseconds`` (the kernel rounds up to its timer slack)."""
    if not isinstance(nanoseconds, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        duration = context.cast(builder, args[0], sig.args[0], types.int64)
        ts = _timespec(builder, duration)
        null = ir.Constant(_TIMESPEC.as_pointer(), None)
        builder.call(_libc(builder, "nanosleep", _I32,
                           [_TIMESPEC.as_pointer(), _TIMESPEC.as_pointer()]), [ts, null])
        return context.get_dummy_value()

    return types.void(nanoseconds), codegen


@intrinsic
def monotonic_ns(typingctx):
    """``CLOCK_MONOTONIC`` in nanoseconds (the clock of ``time.monotonic_ns``)."""

    def codegen(context, builder, sig, args):
        ts = cgutils.alloca_once(builder, _TIMESPEC)
        clock = _libc(builder, "clock_gettime", _I32, [_I32, _TIMESPEC.as_pointer()])
        builder.call(clock, [ir.Constant(_I32, _CLOCK_MONOTONIC), ts])
        sec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 0))
        nsec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 1))
        return builder.add(builder.mul(sec, ir.Constant(_I64, 1_000_000_000)), nsec)

    return types.int64(), codegen
