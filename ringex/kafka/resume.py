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
end and widens the window (x8) until it finds a committed message or reaches the start of the
partition. The end of a partition is the broker's end-of-partition signal (for
``read_committed``, the last stable offset), never a watermark arithmetic that markers would
throw off. Reads use a throw-away consumer (random group id, nothing committed).
"""

from __future__ import annotations

import json
import time
import uuid

from ringex.errors import RingexError
from ringex.kafka.clients import consumer_config

__all__ = ["read_resume_seqs", "seq_of"]


def seq_of(payload: bytes | None, where: str) -> int:
    try:
        seq = json.loads(payload)["seq"]
    except (TypeError, ValueError, KeyError) as exc:
        raise RingexError(f"{where}: the last message has no JSON 'seq' ({exc!r}); the "
                          "publisher will not guess where to resume") from None
    if type(seq) is not int or seq < 0:
        raise RingexError(f"{where}: 'seq' is {seq!r}, not a non-negative integer")
    return seq


def read_resume_seqs(bootstrap: str, topic: str, *, timeout: float = 30.0,
                     lookback: int = 64) -> dict[int, int]:
    """``{partition: highest committed seq}`` (0 for a partition with no committed message)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(consumer_config(bootstrap, f"ringex-resume-{uuid.uuid4().hex}",
                                        client_id="ringex-resume", **{
                                            "enable.partition.eof": True}))
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"could not read the tail of {topic} within {timeout}s")
        return left

    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        described = metadata.topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            raise RingexError(f"topic {topic!r} does not exist "
                              f"({described.error if described else 'not in metadata'})")
        seqs = {partition: 0 for partition in described.partitions}
        bounds: dict[int, tuple[int, int]] = {}
        for partition in seqs:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=max(0.5, remaining()))
            if high > low:
                bounds[partition] = (low, high)
        window = max(1, lookback)
        while bounds:
            starts = {p: max(low, high - window) for p, (low, high) in bounds.items()}
            found = _read_windows(consumer, topic, starts, remaining)
            for partition, seq in found.items():
                seqs[partition] = seq
            bounds = {p: b for p, b in bounds.items()
                      if p not in found and starts[p] > b[0]}
            window *= 8
        return seqs
    finally:
        consumer.close()


def _read_windows(consumer, topic: str, starts: dict[int, int], remaining) -> dict[int, int]:
    """Read each partition from its start to its end; the highest committed seq seen."""
    from confluent_kafka import KafkaError, TopicPartition

    consumer.assign([TopicPartition(topic, p, offset) for p, offset in starts.items()])
    open_partitions = set(starts)
    found: dict[int, int] = {}
    try:
        while open_partitions:
            message = consumer.poll(min(0.2, remaining()))
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    open_partitions.discard(message.partition())
                elif error.fatal():
                    raise RingexError(f"reading the tail of {topic}: {error}")
                continue
            partition = message.partition()
            where = f"{topic}/{partition}@{message.offset()}"
            found[partition] = max(found.get(partition, 0), seq_of(message.value(), where))
    finally:
        consumer.unassign()
    return found
