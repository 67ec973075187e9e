"""Catch-up reads: the events with ``after < seq <= upto`` read back from `order-events`.

Who uses it: a projection (the Redis market-data publisher) that fell so far behind that the
outbound ring no longer holds the events it needs. It knows ``after`` (the last ``seq`` it
applied) and ``upto`` (every event at or below it is committed in Kafka), and reads the rest
from the system of record instead of the ring.

Invariants this module relies on (the publisher, ``publisher.py`` and ``resume.py``, keeps
them):

* within a partition, committed messages hold ascending ``seq``; a JSON message holds one
  event, an event frame many events of that partition, in ``seq`` order;
* the events of the seq space being read are spread over the partitions read (all of them,
  or an instance's own ``partitions`` in a scale-out) and, together, have no gap;
* a message is committed whole, so a message holding any ``seq <= upto`` is committed when
  ``upto`` is.

How a partition's start is found without reading it from the beginning: ``P(o)`` = "the
first committed message at or after offset ``o`` holds a ``seq > after``, or there is none
before the high watermark". ``P`` is monotone in ``o`` because ``seq`` ascends with the
offset, and the answer is the smallest ``o`` with ``P(o)``. A probe assigns the partition at
``o`` and takes the first message the ``read_committed`` consumer returns: transaction
markers and aborted messages are skipped by the broker, so the message can sit at ``o' > o``
and then ``P`` is known on all of ``[o, o']``. All partitions are probed in the same round
(one assignment, one consume loop), so the search takes ``log2(messages)`` rounds, not that
many per partition. Probes use their own consumer that prefetches little (one small fetch per
partition), since each round throws its fetched data away.

Then each partition is read from its start until a message holds a ``seq > upto``, the
broker signals its end (for ``read_committed``: the last stable offset) or its position
reaches the high watermark captured when the read began (``reading.py``'s rule, so a busy
writer cannot keep the read going). Messages are decoded per consume batch
(:func:`ringex.kafka.event_payloads.events_from_payloads`), cut to ``(after, upto]`` and merged by
``seq``: an event is released once every partition still being read has read past it, so the
merge holds only what the partitions read ahead of the slowest one (librdkafka interleaves
the partitions of one consumer, so that is about one consume batch; nothing pauses a
partition that runs far ahead, see docs/kafka.md).

Exactness: every released event must carry the next ``seq`` expected; a missing one (for
example, retention deleted the start of a partition) or a doubled one raises
:class:`~ringex.errors.RingexError` naming it, and the end of the read checks that ``upto``
itself arrived. Nothing is yielded past an error, and no partial answer ends silently.

Single reader: each call owns its two throw-away consumers (random group id, nothing
committed, ``read_committed``), created when the generator starts and closed when it ends or
is closed.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ringex.errors import RingexError
from ringex.records import EVENT_DTYPE

__all__ = ["read_events_between", "CatchupStats"]

@dataclass
class CatchupStats:
    """What a read did (filled in as it goes; pass one to watch or test it).

    ``probe_rounds``: binary-search rounds (all partitions probed together per round);
    ``probed``: messages the probes received; ``read``: messages the range read received;
    ``starts``: the start offset found per partition; ``events``: events yielded.
    """

    probe_rounds: int = 0
    probed: int = 0
    read: int = 0
    events: int = 0
    starts: dict[int, int] = field(default_factory=dict)


def read_events_between(bootstrap: str, topic: str, registry, after: int, upto: int, *,
                        partitions: tuple[int, ...] | None = None, timeout: float = 60.0,
                        chunk: int = 65536,
                        stats: CatchupStats | None = None) -> Iterator[np.ndarray]:
    """Yield ``EVENT_DTYPE`` arrays, in ascending ``seq``, that together hold exactly the
    events with ``after < seq <= upto`` of ``topic``, each once; none when ``after >= upto``.

    ``partitions``: read only these (an instance of a scale-out owns some; its seq space is
    contiguous within them). Each array holds at most ``chunk`` events. Raises
    :class:`RingexError` naming the first missing (or doubled) ``seq``, and ``TimeoutError``
    when the whole read does not end within ``timeout`` seconds.
    """
    if after < 0:
        raise ValueError(f"after must be >= 0, got {after}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if after >= upto:
        return
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
        starts = _find_starts(probe, topic, bounds, after, deadline, stats)
    finally:
        probe.close()
    stats.starts = dict(starts)
    ranges = {p: (starts[p], bounds[p][1]) for p in bounds if starts[p] < bounds[p][1]}
    consumer = _consumer(bootstrap, "ringex-catchup", {})
    try:
        yield from _read_merged(consumer, topic, registry, ranges, after, upto, chunk,
                                deadline, stats)
    finally:
        consumer.close()


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
    return {p: _watermarks(consumer, TopicPartition(topic, p), deadline) for p in listed}


def _watermarks(consumer, partition, deadline: float) -> tuple[int, int]:
    """One partition's watermarks; a retriable broker error (a fresh topic's leader still
    being elected: NOT_LEADER_FOR_PARTITION) is asked again until ``deadline``."""
    from confluent_kafka import KafkaException

    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=_remaining(deadline))
        except KafkaException as exc:
            if not exc.args[0].retriable() or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


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


def _read_merged(consumer, topic: str, registry, ranges: dict[int, tuple[int, int]],
                 after: int, upto: int, chunk: int, deadline: float,
                 stats: CatchupStats) -> Iterator[np.ndarray]:
    """Read each partition over ``ranges[p] = (start, high)``; merge and release by seq."""
    from confluent_kafka import KafkaError, TopicPartition

    from ringex.kafka.event_payloads import events_from_payloads

    expected = after + 1  # the next seq to release
    open_partitions = set(ranges)
    next_offset = {p: start for p, (start, _high) in ranges.items()}
    read_to = {p: after for p in ranges}  # highest seq read per partition
    buffers: dict[int, list[np.ndarray]] = {p: [] for p in ranges}

    def release(ready_to: int) -> Iterator[np.ndarray]:
        nonlocal expected
        parts = []
        for p, held in buffers.items():
            if not held:
                continue
            events = held[0] if len(held) == 1 else np.concatenate(held)
            cut = int(np.searchsorted(events["seq"], ready_to, side="right"))
            if cut:
                parts.append(events[:cut])
            buffers[p] = [events[cut:]] if cut < events.shape[0] else []
        if parts:
            events = parts[0] if len(parts) == 1 else np.concatenate(parts)
            if len(parts) > 1:
                events = events[np.argsort(events["seq"], kind="stable")]
        else:
            events = np.zeros(0, dtype=EVENT_DTYPE)
        count = events.shape[0]
        last = expected + count - 1
        seqs = events["seq"]
        if count and (seqs[0] != expected or seqs[-1] != last
                      or not (np.diff(seqs) == 1).all()):
            wrong = int(np.flatnonzero(seqs != np.arange(expected, last + 1))[0])
            got = int(seqs[wrong])
            want = expected + wrong
            if got > want:
                raise RingexError(f"{topic}: seq {want} is missing (the next one read is "
                                  f"{got}); the topic lacks events of ({after}, {upto}] "
                                  "(truncated by retention?)")
            raise RingexError(f"{topic}: seq {got} appears more than once")
        if last < ready_to:
            raise RingexError(f"{topic}: seq {last + 1} is missing (every partition read "
                              f"is past {ready_to}); the topic lacks events of "
                              f"({after}, {upto}] (truncated by retention?)")
        for start in range(0, count, chunk):
            piece = events[start:start + chunk]
            expected += piece.shape[0]
            stats.events += piece.shape[0]
            yield piece

    if not open_partitions:
        yield from release(upto)
        return
    consumer.assign([TopicPartition(topic, p, start) for p, (start, _h) in ranges.items()])
    try:
        while open_partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(open_partitions)} not read "
                                   f"to seq {upto} in time")
            messages = consumer.consume(10_000, timeout=0.1)
            stats.read += len(messages)
            payloads: dict[int, list] = {}
            for message in messages:
                error = message.error()
                partition = message.partition()
                if partition not in open_partitions:
                    continue
                if error is None:
                    offset = message.offset()
                    if offset < next_offset[partition]:
                        continue  # never taken twice, whatever the client redelivers
                    next_offset[partition] = offset + 1
                    payloads.setdefault(partition, []).append(message.value())
                    if offset + 1 >= ranges[partition][1]:
                        open_partitions.discard(partition)
                elif error.code() == KafkaError._PARTITION_EOF:
                    open_partitions.discard(partition)
                elif error.fatal():
                    raise RingexError(f"reading {topic}: {error}")
            for partition, values in payloads.items():
                end = _first_past(values, upto, f"{topic}/{partition}")
                if end < len(values):
                    # The rest of the partition is past upto: do not decode it (JSON costs
                    # ~45 us an event here), and stop reading it.
                    values = values[:end]
                    open_partitions.discard(partition)
                events = events_from_payloads(values, registry)
                seqs = events["seq"]
                if not seqs.shape[0]:
                    continue
                if seqs[0] <= read_to[partition] and read_to[partition] > after \
                        or not (np.diff(seqs) > 0).all():
                    raise RingexError(f"{topic}/{partition}: seq does not ascend before "
                                      f"offset {next_offset[partition]}; not an "
                                      "`order-events` partition as the publisher writes it")
                read_to[partition] = int(seqs[-1])
                if read_to[partition] > upto:
                    open_partitions.discard(partition)  # every later message is past upto
                keep = (seqs > after) & (seqs <= upto)
                kept = events[keep]
                if kept.shape[0]:
                    buffers[partition].append(kept)
            if open_partitions and not messages:
                for tp in consumer.position([TopicPartition(topic, p)
                                             for p in open_partitions]):
                    if tp.offset >= ranges[tp.partition][1]:
                        open_partitions.discard(tp.partition)
            ready_to = min((read_to[p] for p in open_partitions), default=upto)
            yield from release(min(ready_to, upto))
        yield from release(upto)
    finally:
        consumer.unassign()


def _first_past(values: list, upto: int, where: str) -> int:
    """Index of the first payload of ``values`` (one partition, offset order, so ascending
    seq) whose lowest seq is past ``upto``; ``len(values)`` when none is. Bisects, so it
    parses O(log n) messages."""
    if _seq_range(values[-1], where)[0] <= upto:
        return len(values)
    lo, hi = 0, len(values) - 1  # values[hi] is past upto
    while lo < hi:
        mid = (lo + hi) // 2
        if _seq_range(values[mid], where)[0] > upto:
            hi = mid
        else:
            lo = mid + 1
    return lo
