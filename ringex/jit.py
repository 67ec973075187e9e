"""The one place that declares how ringex compiles its hot paths.

Every compiled function in the project uses :func:`njit` from here, so the numba options
(nopython, on-disk cache, GIL released, no fastmath, no reference counting) are chosen once.
``fastmath`` stays off: the core is integer-only, and nothing may reorder arithmetic on prices.
``cache=True`` matters because every process of the exchange (engine, bridges, tests)
would otherwise recompile at start-up; this is also why the core avoids ``jitclass``.

Reference counting (numba's NRT) is off by default. The book's state is a namedtuple of 10
arrays (``ringex.book.state.BookState``); with NRT on, every call that is not inlined increfs
and decrefs each of them with an atomic instruction, which measured more per call on this
machine than the whole matching work. Hot-path functions therefore never allocate and borrow their arrays from the
caller, who keeps them alive. A function that must allocate (inspection, snapshots) says so
with ``njit(allocates=True)``.

Functions on the per-command path are also inlined at numba's IR level
(``njit(inline="always")``): numba passes every array of the state as seven scalar arguments,
so an ordinary call costs ~10 ns, and the matcher makes several per command. The price is
compile time (~20 s for the book, once; then the on-disk cache). Numba's cache does not
notice edits to an inlined callee in another module: after editing ``ringex/book``, delete
the ``__pycache__/*.nbi`` and ``*.nbc`` files (``scripts/clear-numba-cache.sh``).

Importing this module installs :mod:`ringex.jit_cache`, which makes that cache safe when the
exchange's processes compile and save the same functions at the same time.
"""

from __future__ import annotations

import numba

from ringex import jit_cache

__all__ = ["njit"]

# Before the first kernel compiles or loads in this process: several processes share the cache.
jit_cache.install()


def njit(*args, allocates: bool = False, **kwargs):
    """``numba.njit`` with the project's options; usable bare or with extra options."""
    options = {"cache": True, "nogil": True, "boundscheck": False, "_nrt": allocates}
    options.update(kwargs)
    if args and callable(args[0]) and len(args) == 1:
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)
