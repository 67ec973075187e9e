"""Which rings exist in each mode, who holds which consumer slot, and where attachers find
the segment names.

Embedded mode: inbound consumers are the journal (slot 0) and the engine (slot 1, behind the
journal, so nothing is matched before it is on disk); the outbound ring's one consumer is the
market-data publisher. Distributed mode: Kafka is the journal, so the engine is inbound slot
0; outbound slot 0 is the Kafka publisher and slot 1 the market-data publisher. The book ring
has one consumer, the market-data publisher.

The supervisor owns every segment and writes their names to ``<var>/run/rings.json``; other
processes (engine, publishers, gateway workers, ``ringex submit``) attach by those names.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Slots", "RingNames", "slots_for", "marketdata_follows_kafka", "write_ring_names",
           "read_ring_names"]


@dataclass(frozen=True)
class Slots:
    inbound_consumers: int
    journal: int  # -1: no journal consumer (distributed mode)
    engine: int
    outbound_consumers: int
    kafka: int  # -1: no Kafka publisher (embedded mode)
    marketdata: int

    @property
    def engine_deps(self) -> list[int]:
        return [self.journal] if self.journal >= 0 else []


def slots_for(embedded: bool) -> Slots:
    if embedded:
        return Slots(inbound_consumers=2, journal=0, engine=1, outbound_consumers=1, kafka=-1,
                     marketdata=0)
    return Slots(inbound_consumers=1, journal=-1, engine=0, outbound_consumers=2, kafka=0,
                 marketdata=1)


def marketdata_follows_kafka(settings) -> bool:
    """Whether the market-data publisher reads the outbound ring without gating it (and
    catches up from `order-events` when lapped): distributed mode with
    ``redis.catch_up_from_kafka``. Its slot is then retired by the supervisor when it creates
    the ring, before any child runs, so it gates nothing even before that process has started
    (or if it never starts)."""
    return not settings.embedded and settings.redis.catch_up_from_kafka


@dataclass(frozen=True)
class RingNames:
    inbound: str
    outbound: str
    books: str
    stats: str = ""
    marketdata: str = ""  # the shared-memory market-data segment (embedded mode)
    embedded: bool = True
    supervisor_pid: int = 0


def _path(var_dir: str | os.PathLike) -> Path:
    return Path(var_dir) / "run" / "rings.json"


def write_ring_names(var_dir: str | os.PathLike, names: RingNames) -> Path:
    path = _path(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(names)))
    os.replace(temporary, path)
    return path


def read_ring_names(var_dir: str | os.PathLike) -> RingNames:
    path = _path(var_dir)
    try:
        return RingNames(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} not found: is `ringex serve` running with var_dir {var_dir}?") from None
