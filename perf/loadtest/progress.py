"""The live progress line on stderr: sent, acknowledged, completed, rates and backlog.

Plain text, rewritten in place with ``\\r`` on a terminal and one line per update
otherwise (so a log stays readable). A daemon thread reads the sender's counters (this
process) and the receiver's shared array, every ``interval`` seconds, until stopped. It also
keeps the per-interval history that the report turns into throughput over time.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from perf.loadtest.receiver import Shared

__all__ = ["SenderCounters", "Progress"]


@dataclass
class SenderCounters:
    sent: int = 0
    acked: int = 0
    errors: int = 0


class Progress:
    def __init__(self, total: int, sender: SenderCounters, shared, *, interval: float = 0.5,
                 stream=None, enabled: bool = True):
        self.total = total
        self.sender = sender
        self.shared = shared
        self.interval = interval
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.history: list[tuple[float, int, int, int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadtest-progress", daemon=True)
        self._start = time.monotonic()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def start(self) -> "Progress":
        self._start = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample(final=True)

    def _sample(self, final: bool = False) -> None:
        now = time.monotonic() - self._start
        sent, acked = self.sender.sent, self.sender.acked
        completed = int(self.shared[Shared.OUTCOMES])
        events, trades = int(self.shared[Shared.EVENTS]), int(self.shared[Shared.TRADES])
        previous = self.history[-1] if self.history else (0.0, 0, 0, 0, 0, 0)
        self.history.append((now, sent, acked, completed, events, trades))
        if not self.enabled:
            return
        span = max(1e-9, now - previous[0])
        line = (f"[{now:7.1f}s] sent {sent:>9,}/{self.total:,} ({(sent - previous[1]) / span:>9,.0f}/s)"
                f"  acked {acked:>9,}  completed {completed:>9,} "
                f"({(completed - previous[3]) / span:>9,.0f}/s)  backlog {sent - completed:>9,}"
                f"  events {events:>9,}  trades {trades:>8,}")
        if self.sender.errors:
            line += f"  errors {self.sender.errors}"
        if self._tty and not final:
            self.stream.write("\r" + line)
        else:
            self.stream.write(("\r" if self._tty else "") + line + "\n")
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
