"""Where a bridge starts reading `orders`, and whether it commits: one policy object.

``ringex serve`` uses :func:`from_snapshot` (``positions`` + ``covered``): the engine recovers
from a snapshot and tells the bridges where its input starts (``docs/recovery.md``).
:data:`REPLAY` (every partition from its first offset, never commit) and
:data:`PER_RUN_GROUP` remain for tools and tests that rebuild a book from the whole topic:

===============  =========================================================================
``start``        where a partition starts the first time this process is assigned it
===============  =========================================================================
``beginning``    its first offset (``OFFSET_BEGINNING``), whatever the group committed
``committed``    the group's committed offset; ``auto.offset.reset=earliest`` without one
``positions``    ``positions[partition]`` (the next offset to read, e.g. from a snapshot);
                 a partition not in the mapping starts at its beginning
===============  =========================================================================

``commit``: ``never``, or ``after-write``: the offsets of every batch are committed
(asynchronously) once its commands are in the inbound ring, and synchronously when a
partition is revoked, so a rebalance between bridges of one group hands a partition over at
exactly the next unwritten offset; or ``covered`` (what ``ringex serve`` uses since issue 5):
only offsets that a durable engine snapshot covers are committed, as read from
``covered()`` (partition -> next offset) at most every ``commit_interval`` seconds
(:meth:`OffsetTracker.tick`). The engine drops records it already applied, so with
``positions`` taken from the same snapshot a rewind is harmless; see ``docs/recovery.md``.

A partition assigned again to the same process (after a rebalance) always resumes where this
process stopped writing it, whatever ``start`` says. With ``from_snapshot`` a partition
moving to another bridge restarts at the snapshot's position and the engine drops what it
already applied. Without an engine that drops duplicates, **several bridges** must use ``committed`` + ``after-write`` with a group id
that is new for each engine run (e.g. ``ringex-engine-<run id>``): a fresh group starts at the
beginning (what a book rebuilt by replay needs), and partitions moving between bridges resume
from the commits. With :data:`REPLAY`, a partition moving to another bridge is replayed from
its beginning by the new owner: run one bridge, or static assignment, in that mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["OffsetPolicy", "REPLAY", "PER_RUN_GROUP", "from_snapshot"]

log = logging.getLogger("ringex.kafka.offsets")

_STARTS = ("beginning", "committed", "positions")
_COMMITS = ("never", "after-write", "covered")


@dataclass(frozen=True)
class OffsetPolicy:
    start: str = "beginning"
    commit: str = "never"
    positions: Mapping[int, int] = field(default_factory=dict)
    covered: Callable[[], Mapping[int, int] | None] | None = None
    commit_interval: float = 1.0

    def __post_init__(self):
        if self.start not in _STARTS:
            raise ValueError(f"start must be one of {_STARTS}, not {self.start!r}")
        if self.commit not in _COMMITS:
            raise ValueError(f"commit must be one of {_COMMITS}, not {self.commit!r}")
        if self.commit == "covered" and self.covered is None:
            raise ValueError("commit='covered' needs covered=")

    def tracker(self, consumer) -> "OffsetTracker":
        return OffsetTracker(self, consumer)


#: Replay `orders` from the beginning on every start; never commit (the brief's default).
REPLAY = OffsetPolicy()
#: Several bridges in one group whose id is new for each engine run.
PER_RUN_GROUP = OffsetPolicy(start="committed", commit="after-write")


def from_snapshot(positions: Mapping[int, int],
                  covered: Callable[[], Mapping[int, int] | None]) -> OffsetPolicy:
    """Seek to a snapshot's positions; commit only what later snapshots cover."""
    return OffsetPolicy(start="positions", commit="covered", positions=dict(positions),
                        covered=covered)


class OffsetTracker:
    """The policy applied to one consumer: rebalance callbacks and commits."""

    def __init__(self, policy: OffsetPolicy, consumer):
        self.policy = policy
        self.consumer = consumer
        self.written: dict[tuple[str, int], int] = {}  # next offset to read, per partition
        self.assigned: set[tuple[str, int]] = set()
        self.committed: dict[tuple[str, int], int] = {}
        self._next_tick = 0.0

    def on_assign(self, consumer, partitions) -> None:
        from confluent_kafka import OFFSET_BEGINNING

        for tp in partitions:
            known = self.written.get((tp.topic, tp.partition))
            if known is not None:
                tp.offset = known
            elif self.policy.start == "beginning":
                tp.offset = OFFSET_BEGINNING
            elif self.policy.start == "positions":
                tp.offset = int(self.policy.positions.get(tp.partition, OFFSET_BEGINNING))
        log.info("assigned %s", [(tp.topic, tp.partition, tp.offset) for tp in partitions])
        self.assigned.update((tp.topic, tp.partition) for tp in partitions)
        consumer.assign(partitions)

    def on_revoke(self, consumer, partitions) -> None:
        self.assigned.difference_update((p.topic, p.partition) for p in partitions)
        if self.policy.commit == "after-write":
            self._commit([tp for tp in self._offsets() if (tp.topic, tp.partition) in
                          {(p.topic, p.partition) for p in partitions}], asynchronous=False)
        log.info("revoked %s", [(tp.topic, tp.partition) for tp in partitions])

    def written_up_to(self, positions: Mapping[tuple[str, int], int]) -> None:
        """The commands of these messages (``(topic, partition) -> last offset``) are in the ring."""
        for key, offset in positions.items():
            self.written[key] = offset + 1
        if self.policy.commit == "after-write" and positions:
            from confluent_kafka import TopicPartition

            self._commit([TopicPartition(t, p, o + 1) for (t, p), o in positions.items()],
                         asynchronous=True)

    def tick(self, now: float | None = None) -> None:
        """``covered`` policy: commit what the newest snapshot covers, if it moved."""
        if self.policy.commit != "covered":
            return
        now = time.monotonic() if now is None else now
        if now < self._next_tick:
            return
        self._next_tick = now + self.policy.commit_interval
        covered = self.policy.covered() or {}
        from confluent_kafka import TopicPartition

        offsets = []
        for topic, partition in self.assigned:
            offset = covered.get(partition)
            if offset is not None and offset > self.committed.get((topic, partition), -1):
                offsets.append(TopicPartition(topic, partition, int(offset)))
                self.committed[(topic, partition)] = int(offset)
        self._commit(offsets, asynchronous=True)

    def _offsets(self):
        from confluent_kafka import TopicPartition

        return [TopicPartition(t, p, o) for (t, p), o in self.written.items()]

    def _commit(self, offsets, *, asynchronous: bool) -> None:
        if not offsets:
            return
        from confluent_kafka import KafkaException

        try:
            self.consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as exc:  # e.g. a rebalance in progress: the next commit covers it
            log.warning("offset commit failed: %s", exc)
