"""Which processes are attached to a ring, and whether they still run.

Each consumer slot and producer slot has a registry entry in the header: the pid and the
kernel start time (``/proc/<pid>/stat`` field 22) of the process that holds it. The start
time makes the liveness check immune to pid reuse, and a zombie (killed but not yet reaped)
counts as dead. A process takes a free entry, or the entry of a dead holder, with a CAS on
the pid cell; it clears the entry on a clean detach. The owner reads the registry to find
dead peers (see :meth:`ringex.ring.ring.Ring.dead_peers`).
"""

from __future__ import annotations

import os

__all__ = ["process_start_time", "is_alive", "started_before"]


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; fields resume after its ")"
    return text[text.rindex(")") + 2:].split()


def process_start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot, or 0 if there is no such process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else 0


def is_alive(pid: int, start_time: int = 0) -> bool:
    """True if ``pid`` runs (not a zombie) and, when given, started at ``start_time``."""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return start_time == 0 or int(fields[19]) == start_time


def started_before(pid: int, epoch_s: float) -> bool:
    """True if ``pid`` runs and started no later than ``epoch_s`` (wall-clock seconds): a
    process that started after a file was made cannot have made it, whatever its pid."""
    start_ticks = process_start_time(pid)
    if start_ticks == 0 or not is_alive(pid):
        return False
    with open("/proc/stat", "rb") as f:
        boot_s = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
    # btime has one-second resolution: allow that much slack
    return boot_s + start_ticks / os.sysconf("SC_CLK_TCK") <= epoch_s + 1.0
