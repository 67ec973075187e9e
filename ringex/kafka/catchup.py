"""Where a reader of `order-events` resumes: per partition, the first committed message
holding a ``seq`` past the one it has applied.

Who uses it: the Redis projection (:class:`ringex.recovery.rebuild.Projection`: the market-data
process, and ``ringex rebuild-redis``), which knows ``after``, the last ``seq`` its store
applied, and must not read each partition from its beginning to find what follows it.

Invariant this module relies on (the publisher, ``publisher.py`` and ``resume.py``, keeps it):
within a partition, committed messages hold ascending ``seq``; a JSON message holds one
event, an event frame many events of that partition, in ``seq`` order.

How a partition's start is found: ``P(o)`` = "the first committed message at or after offset
``o`` holds a ``seq > after``, or there is none before the high watermark". ``P`` is monotone
in ``o`` because ``seq`` ascends with the offset, and the answer is the smallest ``o`` with
``P(o)``. A probe assigns the partition at ``o`` and takes the first message the
``read_committed`` consumer returns: transaction markers and aborted messages are skipped by
the broker, so the message can sit at ``o' > o`` and then ``P`` is known on all of
``[o, o']``. All partitions are probed in the same round (one assignment, one consume loop),
so the search takes ``log2(messages)`` rounds, not that many per partition. The probe
consumer prefetches little (one small fetch per partition), since each round throws its
fetched data away.

Single caller per call: each call owns its throw-away consumer (random group id, nothing
committed, ``read_committed``), closed before it returns.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from ringex.errors import RingexError

__all__ = ["start_offsets", "CatchupStats"]


@dataclass
class CatchupStats:
    """What a search did (filled in as it goes; pass one to watch or test it).

    ``probe_rounds``: binary-search rounds (all partitions probed together per round);
    ``probed``: messages the probes received; ``starts``: the start offset found per
    partition; ``bounds``: ``(low, high)`` watermarks per partition when the search began.
    """

    probe_rounds: int = 0
    probed: int = 0
    starts: dict[int, int] = field(default_factory=dict)
    bounds: dict[int, tuple[int, int]] = field(default_factory=dict)


def start_offsets(bootstrap: str, topic: str, after: int, *,
                  partitions: tuple[int, ...] | None = None, timeout: float = 60.0,
                  stats: CatchupStats | None = None) -> dict[int, int]:
    """``{partition: offset}``: where each partition of ``topic`` (or only ``partitions``: an
    instance of a scale-out owns some) holds its first committed message with a
    ``seq > after``, or its high watermark when it has none.

    Raises :class:`RingexError` for a missing topic or partition, and ``TimeoutError`` when
    the search does not end within ``timeout`` seconds.
    """
    if after < 0:
        raise ValueError(f"after must be >= 0, got {after}")
    stats = stats if stats is not None else CatchupStats()
    deadline = time.monotonic() + timeout
    probe = _consumer(bootstrap, "ringex-catchup-probe", {
        # Each probe round throws its fetched data away: fetch little, prefetch nothing more,
        # and do not back off (librdkafka's default 1 s) because the queue is "full".
        "queued.min.messages": 1,
        "max.partition.fetch.bytes": 1024,
        "fetch.wait.max.ms": 10,
        "fetch.queue.backoff.ms": 1,
    })
    try:
        bounds = _bounds(probe, topic, partitions, deadline)
        stats.bounds = dict(bounds)
        starts = _find_starts(probe, topic, bounds, after, deadline, stats) if after else \
            {p: low for p, (low, _high) in bounds.items()}
    finally:
        probe.close()
    stats.starts = dict(starts)
    return starts


def _consumer(bootstrap: str, client_id: str, extra: dict):
    """A throw-away ``read_committed`` consumer, as ``reading.reader`` makes them, with
    ``extra`` settings."""
    from confluent_kafka import Consumer

    from ringex.kafka.clients import consumer_config

    return Consumer(consumer_config(bootstrap, f"{client_id}-{uuid.uuid4().hex}",
                                    client_id=client_id,
                                    **{"enable.partition.eof": True, **extra}))


def _remaining(deadline: float) -> float:
    return max(0.5, min(30.0, deadline - time.monotonic()))


def _bounds(consumer, topic: str, partitions, deadline: float) -> dict[int, tuple[int, int]]:
    """``{partition: (low, high)}`` watermarks at the start of the read."""
    from confluent_kafka import TopicPartition

    from ringex.kafka.reading import partitions_of

    listed = partitions_of(consumer, topic, _remaining(deadline))
    if partitions is not None:
        unknown = sorted(set(partitions) - set(listed))
        if unknown:
            raise RingexError(f"{topic}: partitions {unknown} do not exist "
                              f"(the topic has {len(listed)})")
        listed = [p for p in listed if p in set(partitions)]
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p),
                                              timeout=_remaining(deadline))
            for p in listed}


def _seq_range(payload, where: str) -> tuple[int, int]:
    """``(lowest, highest)`` seq of one message, either format."""
    from ringex.errors import ValidationError
    from ringex.wire.frames import decode_event_frame, is_event_frame

    if payload is not None and is_event_frame(payload):
        try:
            seqs = decode_event_frame(payload)["seq"]
        except ValidationError as exc:
            raise RingexError(f"{where}: a broken event frame ({exc})") from None
        if seqs.shape[0] == 0:
            raise RingexError(f"{where}: an empty event frame")
        return int(seqs.min()), int(seqs.max())
    try:
        seq = json.loads(payload)["seq"]
    except (TypeError, ValueError, KeyError) as exc:
        raise RingexError(f"{where}: a message with no JSON 'seq' ({exc!r})") from None
    if type(seq) is not int or seq < 0:
        raise RingexError(f"{where}: 'seq' is {seq!r}, not a non-negative integer")
    return seq, seq


def _find_starts(consumer, topic: str, bounds: dict[int, tuple[int, int]], after: int,
                 deadline: float, stats: CatchupStats) -> dict[int, int]:
    """Per partition, the offset of the first committed message holding a ``seq > after``
    (or the high watermark when there is none): the binary search of the module docstring,
    all partitions per round."""
    from confluent_kafka import KafkaError, TopicPartition

    # Invariant per partition: P(hi) holds, and P(o) is false for every o < lo.
    search = {p: [low, high] for p, (low, high) in bounds.items()}
    assigned = False
    try:
        while True:
            targets = {p: (lo + hi) // 2 for p, (lo, hi) in search.items() if lo < hi}
            if not targets:
                return {p: lo for p, (lo, _hi) in search.items()}
            stats.probe_rounds += 1
            # partition -> the first committed message at or after its target, or None
            found: dict[int, object] = {}
            # The first round assigns; later rounds resume and seek (a re-assignment costs
            # 0.1-1 s of fetcher restart per round, a seek does not).
            # A seek discards what was fetched for the old position (librdkafka versions
            # its fetch queue), so no message of an earlier round is taken for this one.
            if not assigned:
                consumer.assign([TopicPartition(topic, p, o) for p, o in targets.items()])
                assigned = True
            else:  # every partition was paused when its probe message came
                consumer.resume([TopicPartition(topic, p) for p in targets])
                for partition, offset in targets.items():
                    consumer.seek(TopicPartition(topic, partition, offset))
            while len(found) < len(targets):
                if time.monotonic() > deadline:
                    missing = sorted(set(targets) - set(found))
                    raise TimeoutError(f"{topic}: the start of partitions {missing} not "
                                       "found in time")
                # Few at a time: consume() waits to fill its count, and librdkafka keeps
                # fetching meanwhile; a probe wants one message per partition.
                messages = consumer.consume(len(targets), timeout=0.1)
                stats.probed += len(messages)
                for message in messages:
                    partition = message.partition()
                    if partition not in targets or partition in found:
                        continue
                    error = message.error()
                    if error is None:
                        if message.offset() >= targets[partition]:
                            found[partition] = message
                    elif error.code() == KafkaError._PARTITION_EOF:
                        found[partition] = None
                    if partition in found:  # stop its fetching while others are pending
                        consumer.pause([TopicPartition(topic, partition)])
                    elif error.fatal():
                        raise RingexError(f"reading {topic}: {error}")
                if not messages:  # only markers / aborted messages up to the watermark
                    pending = [TopicPartition(topic, p) for p in targets if p not in found]
                    for tp in consumer.position(pending):
                        if tp.offset >= search[tp.partition][1]:
                            found[tp.partition] = None
            for partition, target in targets.items():
                message = found[partition]
                bound = search[partition]
                if message is None or message.offset() >= bound[1]:
                    bound[1] = target  # nothing committed in [target, hi): P(target) holds
                    continue
                where = f"{topic}/{partition}@{message.offset()}"
                if _seq_range(message.value(), where)[1] > after:
                    bound[1] = target
                else:  # [target, offset] are markers, aborted, or end at/below after
                    bound[0] = message.offset() + 1
    finally:
        consumer.unassign()
