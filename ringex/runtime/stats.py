"""Per-process counters in one small shared-memory segment, for the metrics endpoint.

Row ``r`` belongs to one role (``ROLES``) and is written only by the process in that role;
the supervisor reads every row. Values are plain int64 counters, each written whole, so a
reader sees an old or a new value, never a torn one.
"""

from __future__ import annotations

import numpy as np

from ringex.ring.segment import Segment, segment_name

__all__ = ["ROLES", "COUNTERS", "StatsTable"]

ROLES = ("engine", "journal", "marketdata", "kafka_publisher", "bridge", "gateway")
COUNTERS = 16


class StatsTable:
    def __init__(self, segment: Segment):
        self.segment = segment
        self.values = np.ndarray((len(ROLES), COUNTERS), dtype=np.int64, buffer=segment.buf)

    @classmethod
    def create(cls, prefix: str) -> "StatsTable":
        table = cls(Segment.create(segment_name("stats", prefix), len(ROLES) * COUNTERS * 8))
        table.values[:] = 0
        return table

    @classmethod
    def attach(cls, name: str) -> "StatsTable":
        return cls(Segment.attach(name))

    @property
    def name(self) -> str:
        return self.segment.name

    def row(self, role: str) -> np.ndarray:
        return self.values[ROLES.index(role)]

    def close(self) -> None:
        self.values = None
        self.segment.close()

    def unlink(self) -> None:
        self.segment.unlink()
