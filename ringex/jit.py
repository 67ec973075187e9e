"""The one place that declares how ringex compiles its hot paths.

Every compiled function in the project uses :data:`njit` from here, so the numba options
(nopython, on-disk cache, no implicit GIL release, no fastmath) are chosen once.
``fastmath`` stays off: the core is integer-only, and nothing may reorder arithmetic on prices.
``cache=True`` matters because every process of the exchange (engine, bridges, tests)
would otherwise recompile at start-up; this is also why the core avoids ``jitclass``.
"""

from __future__ import annotations

import numba

__all__ = ["njit"]


def njit(*args, **kwargs):
    """``numba.njit`` with the project's options; usable bare or with extra options."""
    options = {"cache": True, "nogil": True, "boundscheck": False}
    options.update(kwargs)
    if args and callable(args[0]) and len(args) == 1:
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)
