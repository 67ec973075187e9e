"""What every process of a running exchange does first: structured logs, signal roles."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys

__all__ = ["child_setup", "configure_logging", "die_with_parent", "settle_heap", "JsonFormatter"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, role (logger name), pid, msg, and the
    exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "role": record.name,
            "pid": os.getpid(),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def settle_heap() -> None:
    """Collect once, then move every object alive now out of the collector's reach.

    A hot process carries millions of long-lived objects from its imports and set-up (numba
    and llvmlite alone); a full (generation 2) collection scanned them all and paused the
    bridge, the engine's Python loop and the publishers 30-90 ms. Called once, just before
    a process's main loop: what the loop allocates is still collected as usual.
    """
    gc.collect()
    gc.freeze()


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent (the supervisor) dies.

    A supervisor killed with SIGKILL cannot stop its children; they went on as orphans (one
    ran for an hour here, waiting on rings nobody fed, its CPU taken from later runs). Dying
    at once is the same as the whole tree being killed, which recovery already handles
    (docs/recovery.md). Linux only; elsewhere a no-op. A parent that died before this call
    (the child was still importing) is caught by comparing the parent pid.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import multiprocessing

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(1)


def child_setup(role: str, level: str = "info") -> logging.Logger:
    """Children ignore Ctrl-C (the supervisor owns shutdown and stops them in order, by
    draining their rings), die with the supervisor (:func:`die_with_parent`) and log JSON
    lines tagged with their role."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(level)
    return logging.getLogger(f"ringex.{role}")
