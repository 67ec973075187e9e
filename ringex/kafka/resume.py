"""The resume rule: the last committed ``seq`` of each partition of an output topic.

The publisher writes `order-events` and `trades` in Kafka transactions (``publisher.py``). A
publisher that starts, or rebuilds its producer, first calls ``init_transactions`` with its
fixed ``transactional.id``: that aborts whatever its predecessor left open and fences the
predecessor, so nothing more of it can land. Only then does it read, for each partition, the
highest ``seq`` that a ``read_committed`` consumer sees, and skip every event whose ``seq`` is
at or below the value of *the partition that event goes to*. That is exact because:

* events reach the publisher in ``seq`` order and each goes to a partition fixed by its pair
  (:func:`ringex.kafka.partitioning.partition_for`), so the committed content of a partition
  is always a prefix of the events meant for it;
* a ring batch is released only after its transaction committed, so every event not yet
  committed is still in the ring for the next publisher.

How the tail is read: a partition's last offsets may be transaction markers or aborted
messages, which ``read_committed`` hides, so the reader starts ``lookback`` offsets before the
high watermark and widens the window (x8) until it finds a committed message or reaches the
start of the partition. Each window ends at the high watermark seen when the read began
(:func:`ringex.kafka.reading.read_ranges`), so a busy writer cannot keep it reading forever.
Reads use a throw-away consumer (random group id, nothing committed).
"""

from __future__ import annotations

import json
import time

from ringex.errors import RingexError

__all__ = ["read_resume_seqs", "seq_of"]


def seq_of(payload: bytes | None, where: str) -> int:
    """The highest ``seq`` in one output message: a JSON event's, or an event frame's last."""
    from ringex.errors import ValidationError
    from ringex.wire.frames import decode_event_frame, is_event_frame

    if payload is not None and is_event_frame(payload):
        try:
            records = decode_event_frame(payload)
        except ValidationError as exc:
            raise RingexError(f"{where}: the last message is a broken event frame ({exc}); the "
                              "publisher will not guess where to resume") from None
        if records.shape[0] == 0:
            raise RingexError(f"{where}: the last message is an empty event frame")
        return int(records["seq"].max())
    try:
        seq = json.loads(payload)["seq"]
    except (TypeError, ValueError, KeyError) as exc:
        raise RingexError(f"{where}: the last message has no JSON 'seq' ({exc!r}); the "
                          "publisher will not guess where to resume") from None
    if type(seq) is not int or seq < 0:
        raise RingexError(f"{where}: 'seq' is {seq!r}, not a non-negative integer")
    return seq


def read_resume_seqs(bootstrap: str, topic: str, *, timeout: float = 30.0,
                     lookback: int = 64,
                     partitions: tuple[int, ...] | None = None) -> dict[int, int]:
    """``{partition: highest committed seq}`` (0 for a partition with no committed message).

    ``partitions``: only these (an instance of a scale-out reads only its own; another
    instance's partitions are busy, and their ``seq`` is of another space).
    """
    from confluent_kafka import TopicPartition

    from ringex.kafka.reading import partitions_of, read_ranges, reader

    deadline = time.monotonic() + timeout
    consumer = reader(bootstrap, "ringex-resume")
    try:
        listed = partitions_of(consumer, topic, timeout)
        wanted = listed if partitions is None else [p for p in listed if p in partitions]
        seqs = {partition: 0 for partition in wanted}
        bounds: dict[int, tuple[int, int]] = {}
        for partition in wanted:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition),
                timeout=max(0.5, deadline - time.monotonic()))
            if high > low:
                bounds[partition] = (low, high)
        window = max(1, lookback)
        while bounds:
            ranges = {p: (max(low, high - window), high) for p, (low, high) in bounds.items()}
            found: dict[int, int] = {}

            def keep(message) -> None:
                where = f"{topic}/{message.partition()}@{message.offset()}"
                found[message.partition()] = max(found.get(message.partition(), 0),
                                                 seq_of(message.value(), where))

            read_ranges(consumer, topic, ranges, keep, deadline)
            seqs.update(found)
            bounds = {p: b for p, b in bounds.items() if p not in found and ranges[p][0] > b[0]}
            window *= 8
        return seqs
    finally:
        consumer.close()
