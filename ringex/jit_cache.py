"""Make numba's on-disk cache safe when several processes compile at once.

Every ringex process (engine, bridges, publishers, market data, gateway workers, tests)
loads the same compiled kernels from numba's cache, and on a cold cache they all compile and
save at the same moment. numba's ``IndexDataCacheFile.save`` reads the index, picks the first
free data-file number, writes the index, then the data, with no lock (numba issue #10128).
Two processes saving different signatures of one function therefore both pick ``.1.nbc``:
the index then maps signature A to a file that holds signature B's machine code. Every later
process that calls the function with A loads B's code and fails with "can't unbox array from
PyObject into native value" (seen here: the market-data process, whose outbound ring's event
records loaded the code compiled for the command ring) or, if the layouts happened to agree,
would run the wrong code.

:func:`install` (called by :mod:`ringex.jit`, through which every kernel is compiled) adds
two guards:

* **one writer per index**: ``save`` and ``load`` of a function's index and data files run
  under an exclusive ``flock`` on ``<name>.nbi.lock`` beside the index, so the
  read-index / pick-name / write-index / write-data sequence is atomic across processes;
* **a loaded overload must be the one asked for**: after a load, the rebuilt result's
  argument types must equal the requested signature; otherwise the entry is treated as a
  miss, numba compiles it, and the save overwrites the bad data file. A cache corrupted by an
  older run (or another tool) heals itself instead of crashing a process;
* **one compiler per function**: a cache miss compiles under an exclusive ``flock`` on
  ``<name>.nbi.compile.lock``, and numba looks in the cache again once it holds it. When
  several processes need the same kernel at once, one compiles it and the others wait and
  load the result, instead of each spending the same minutes of CPU. The lock is taken
  inside numba's (per-process, reentrant) compiler lock, so the threads of one process
  never hold two of these locks in opposite orders; across processes, locks nest along the
  call graph (a caller's compile triggers its callees'), which has no cycles.

All three patch numba internals (``numba.core.caching``, checked against numba 0.59-0.68). If a
future numba moves them, :func:`install` logs a warning and leaves numba as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os

__all__ = ["install"]

_log = logging.getLogger("ringex.jit_cache")
_installed = False


@contextlib.contextmanager
def _index_lock(index_file):
    with _flock(index_file._index_path + ".lock"):
        yield


@contextlib.contextmanager
def _flock(path):
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # read-only cache dir: numba will not save there either
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


@contextlib.contextmanager
def _compile_lock(dispatcher):
    index_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if index_file is None:  # no on-disk cache for this function: nothing to share
        yield
        return
    with _flock(index_file._index_path + ".compile.lock"):
        yield


def _signature_matches(sig, rebuilt) -> bool:
    signature = getattr(rebuilt, "signature", None)
    if signature is None:  # not a CompileResult (e.g. a cfunc): nothing to compare
        return True
    return tuple(signature.args) == tuple(sig)


def install() -> None:
    """Install the guards once per process (idempotent)."""
    global _installed
    if _installed:
        return
    try:
        from numba.core import caching, sigutils
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.dispatcher import Dispatcher

        index_cls, cache_cls = caching.IndexDataCacheFile, caching.Cache
        original_save, original_load = index_cls.save, index_cls.load
        original_load_overload = cache_cls._load_overload
        original_compile = Dispatcher.compile
    except (ImportError, AttributeError) as exc:
        _log.warning("numba cache guard not installed (numba.core.caching changed?): %s", exc)
        return

    def save(self, key, data):
        with _index_lock(self):
            return original_save(self, key, data)

    def load(self, key):
        with _index_lock(self):
            return original_load(self, key)

    def _load_overload(self, sig, target_context):
        rebuilt = original_load_overload(self, sig, target_context)
        if rebuilt is not None and not _signature_matches(sig, rebuilt):
            _log.warning("numba cache entry of %s held another signature; recompiling",
                         getattr(self, "_name", "?"))
            return None
        return rebuilt

    def compile(self, sig):
        args, _ = sigutils.normalize_signature(sig)
        if tuple(args) in self.overloads:
            return original_compile(self, sig)
        with global_compiler_lock, _compile_lock(self):
            return original_compile(self, sig)

    index_cls.save, index_cls.load = save, load
    cache_cls._load_overload = _load_overload
    Dispatcher.compile = compile
    _installed = True
