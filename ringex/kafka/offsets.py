"""Where a bridge starts reading `orders`, and whether it commits: one policy object.

Until snapshots exist (issue 5) the engine rebuilds its book by replaying `orders` from the
beginning, so the default, :data:`REPLAY`, starts every partition at its first offset and never
commits. The recovery work swaps the policy, not the bridge:

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
exactly the next unwritten offset.

A partition assigned again to the same process (after a rebalance) always resumes where this
process stopped writing it, whatever ``start`` says, so one bridge never replays into a
running engine. **Several bridges** must use ``committed`` + ``after-write`` with a group id
that is new for each engine run (e.g. ``ringex-engine-<run id>``): a fresh group starts at the
beginning (what a book rebuilt by replay needs), and partitions moving between bridges resume
from the commits. With :data:`REPLAY`, a partition moving to another bridge is replayed from
its beginning by the new owner: run one bridge, or static assignment, in that mode.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["OffsetPolicy", "REPLAY", "PER_RUN_GROUP"]

log = logging.getLogger("ringex.kafka.offsets")

_STARTS = ("beginning", "committed", "positions")
_COMMITS = ("never", "after-write")


@dataclass(frozen=True)
class OffsetPolicy:
    start: str = "beginning"
    commit: str = "never"
    positions: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self):
        if self.start not in _STARTS:
            raise ValueError(f"start must be one of {_STARTS}, not {self.start!r}")
        if self.commit not in _COMMITS:
            raise ValueError(f"commit must be one of {_COMMITS}, not {self.commit!r}")

    def tracker(self, consumer) -> "OffsetTracker":
        return OffsetTracker(self, consumer)


#: Replay `orders` from the beginning on every start; never commit (the brief's default).
REPLAY = OffsetPolicy()
#: Several bridges in one group whose id is new for each engine run.
PER_RUN_GROUP = OffsetPolicy(start="committed", commit="after-write")


class OffsetTracker:
    """The policy applied to one consumer: rebalance callbacks and commits."""

    def __init__(self, policy: OffsetPolicy, consumer):
        self.policy = policy
        self.consumer = consumer
        self.written: dict[tuple[str, int], int] = {}  # next offset to read, per partition

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
        consumer.assign(partitions)

    def on_revoke(self, consumer, partitions) -> None:
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
