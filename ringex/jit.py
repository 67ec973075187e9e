"""The one place that declares how ringex compiles its hot paths.

Every compiled function in the project uses :func:`njit` from here, so the numba options
(nopython, on-disk cache, GIL released, no fastmath, no reference counting) are chosen once.
``fastmath`` stays off: the core is integer-only, and nothing may reorder arithmetic on prices.
``cache=True`` matters because every process of the exchange (engine, bridges, tests)
would otherwise recompile at start-up; this is also why the core avoids ``jitclass``.

Reference counting (numba's NRT) is off by default. The book's state is a namedtuple of ~36
arrays; with NRT on, every call that is not inlined increfs and decrefs each of them with an
atomic instruction, which measured ~0.6 us per call on this machine, more than the whole
matching work. Hot-path functions therefore never allocate and borrow their arrays from the
caller, who keeps them alive. A function that must allocate (inspection, snapshots) says so
with ``njit(allocates=True)``.
"""

from __future__ import annotations

import numba

__all__ = ["njit"]


def njit(*args, allocates: bool = False, **kwargs):
    """``numba.njit`` with the project's options; usable bare or with extra options."""
    options = {"cache": True, "nogil": True, "boundscheck": False, "_nrt": allocates}
    options.update(kwargs)
    if args and callable(args[0]) and len(args) == 1:
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)
