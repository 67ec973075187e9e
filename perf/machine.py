"""The box a benchmark ran on, described the same way by every script in ``perf/``.

A benchmark's numbers mean little without the machine and the versions (this project's box is
a shared 2-core VM), so each script prints them in its first JSON line, and the load tester's
report carries them. The scripts build that line from these helpers and add the conditions
they measured under. Reads only; any script may call them.
"""

from __future__ import annotations

import importlib
import os
import platform
from pathlib import Path

__all__ = ["cpu_model", "host", "versions"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or ``"unknown"``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def host() -> dict:
    """``{"cpu", "cores", "platform"}`` of this machine."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()}


def versions(*modules: str) -> dict:
    """The Python version, then ``__version__`` of each named module (imported here)."""
    found = {"python": platform.python_version()}
    for name in modules:
        found[name] = importlib.import_module(name).__version__
    return found
