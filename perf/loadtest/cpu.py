"""CPU share per process over the measured interval: which process is the bottleneck.

A share of 1.0 is one core busy for the whole interval; this box has two. Processes: the
exchange's children (from its supervisor log), the Kafka broker (the JVM running
``kafka.Kafka``), ``redis-server``, and the load tester's own sender and receiver.
"""

from __future__ import annotations

import os
import time

__all__ = ["CpuSampler"]


def _find(predicate) -> list:
    import psutil

    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            if predicate(process.info["name"] or "", process.info["cmdline"] or []):
                found.append(process.pid)
        except (psutil.Error, TypeError):
            continue
    return found


class CpuSampler:
    def __init__(self, roles: dict[str, int]):
        self.roles = dict(roles)
        for pid in _find(lambda name, cmd: name == "java" and "kafka.Kafka" in cmd):
            self.roles.setdefault("kafka-broker", pid)
        for pid in _find(lambda name, cmd: name.startswith("redis-server")):
            self.roles.setdefault("redis", pid)
        self.roles.setdefault("loadtest-sender", os.getpid())
        self._start: dict[str, float] = {}
        self._wall = 0.0

    def _times(self) -> dict[str, float]:
        import psutil

        times = {}
        for role, pid in self.roles.items():
            try:
                cpu = psutil.Process(pid).cpu_times()
                times[role] = cpu.user + cpu.system
            except psutil.Error:
                continue
        return times

    def start(self) -> None:
        self._start = self._times()
        self._wall = time.monotonic()

    def stop(self) -> dict:
        end = self._times()
        wall = max(1e-9, time.monotonic() - self._wall)
        shares = {role: round((end[role] - self._start[role]) / wall, 3)
                  for role in end if role in self._start}
        return {"wall_s": round(wall, 3), "cores": os.cpu_count(),
                "share_of_one_core": dict(sorted(shares.items(), key=lambda kv: -kv[1])),
                "sum": round(sum(shares.values()), 3)}
