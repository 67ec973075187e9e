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
so an ordinary call costs ~10 ns, and the matcher makes several per command (compiling the
book without it made the seed workload 3x slower: LLVM does not inline these calls itself).
The price is compile time, once; then the on-disk cache. Two patches below keep it down (see
``perf/compile_profile.py`` and docs/benchmarks.md, "First start"): calls between compiled
functions are typed without literal types, and numba's inliner no longer copies a whole
function scope per block. Numba's cache does not
notice edits to an inlined callee in another module: after editing ``ringex/book``, delete
the ``__pycache__/*.nbi`` and ``*.nbc`` files (``scripts/clear-numba-cache.sh``).

Literal types: numba would otherwise compile a separate specialization of a callee for every
constant argument a caller passes (``k=0``, ``key=-2``), each a full compile of the callee and
its inlined body (the matcher's ``process_commands`` was compiled three times).

Importing this module installs :mod:`ringex.jit_cache`, which makes that cache safe when the
exchange's processes compile and save the same functions at the same time.
"""

from __future__ import annotations

import types as pytypes

import numba
from numba.core import types

from ringex import jit_cache

__all__ = ["njit"]

# Before the first kernel compiles or loads in this process: several processes share the cache.
jit_cache.install()


def njit(*args, allocates: bool = False, **kwargs):
    """``numba.njit`` with the project's options; usable bare or with extra options."""
    options = {"cache": True, "nogil": True, "boundscheck": False, "_nrt": allocates}
    options.update(kwargs)
    if args and callable(args[0]) and len(args) == 1:
        return _without_literal_specializations(numba.njit(**options)(args[0]))
    decorate = numba.njit(*args, **options)
    if args:  # an explicit signature: nothing to specialize
        return decorate
    return lambda func: _without_literal_specializations(decorate(func))


def _get_call_template(self, args, kws):
    args = tuple(types.unliteral(a) for a in args)
    kws = {name: types.unliteral(t) for name, t in kws.items()}
    return type(self).get_call_template(self, args, kws)


def _without_literal_specializations(dispatcher):
    """A compiled caller types a call to ``dispatcher`` with its arguments' plain types."""
    dispatcher.get_call_template = pytypes.MethodType(_get_call_template, dispatcher)
    return dispatcher


def _cheaper_inline_copies() -> None:
    """numba copies a callee's IR block by block with ``copy.deepcopy`` at every inline, and
    each block's copy deep-copied the whole function scope again (every variable of the
    function, a location each): quadratic in the size of an inlined body, half of a cold
    compile of the matcher. While numba inlines, a scope's copy is a new scope with copies of
    its tables (the variables themselves are shared: the inliner reads their names and
    locations, then redefines them in the caller's scope), and a location is shared (it is
    never changed; numba's own ``Const`` and ``FreeVar`` share theirs)."""
    import collections
    import copy

    try:
        from numba.core import ir
        from numba.core.inline_closurecall import InlineWorker
    except ImportError as exc:  # pragma: no cover - a numba without them: inline as numba does
        import logging

        logging.getLogger("ringex.jit").warning("inline copies not shortened: %s", exc)
        return
    original = InlineWorker.inline_function
    if getattr(original, "_ringex_cheaper", False):
        return

    def copy_scope(self, memo):
        new = ir.Scope.__new__(ir.Scope)
        memo[id(self)] = new
        new.parent = copy.deepcopy(self.parent, memo)
        new.loc = self.loc
        new.localvars = ir.VarMap()
        new.localvars._con = dict(self.localvars._con)
        new.redefined = collections.defaultdict(int, self.redefined)
        new.var_redefinitions = collections.defaultdict(
            set, {name: set(names) for name, names in self.var_redefinitions.items()})
        return new

    def share_loc(self, memo):
        return self

    def inline_function(self, *args, **kwargs):
        # numba compiles under its global compiler lock: no other thread copies IR meanwhile
        outermost = "__deepcopy__" not in ir.Scope.__dict__
        if outermost:
            ir.Scope.__deepcopy__ = copy_scope
            ir.Loc.__deepcopy__ = share_loc
        try:
            return original(self, *args, **kwargs)
        finally:
            if outermost:
                del ir.Scope.__deepcopy__
                del ir.Loc.__deepcopy__

    inline_function._ringex_cheaper = True
    InlineWorker.inline_function = inline_function


_cheaper_inline_copies()
