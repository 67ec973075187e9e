"""The idempotent-resume rule: what the output topics already hold, by partition.

The publisher uses no Kafka transactions (``docs/recovery.md`` explains why): a publisher
that starts (or rebuilds its producer) reads, for each partition of a topic, the ``seq`` of
the last message in it, and then skips every event whose ``seq`` is at or below the value of
*the partition that event goes to*.
This is exact, not a heuristic, because of three facts:

* events reach the publisher in ``seq`` order, and it assigns each to a partition
  deterministically (:func:`ringex.kafka.partitioning.partition_for`);
* within a partition the idempotent producer neither reorders nor duplicates, and with
  ``enable.gapless.guarantee`` a would-be gap is a fatal error rather than a silent hole, so a
  partition's content is always a prefix of the events meant for it;
* the publisher releases a ring batch only after Kafka acknowledged all of it, so every event
  not yet acknowledged is still in the ring for the next publisher.

Reads use a throw-away consumer (random group id, nothing committed). ``lookback`` reads the
last few messages of each partition rather than the last one; 1 suffices without transactions
(with them, the last offset may be a commit marker).
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
                     lookback: int = 1) -> dict[int, int]:
    """``{partition: highest seq in its last lookback messages}`` (0 for an empty partition)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(consumer_config(bootstrap, f"ringex-resume-{uuid.uuid4().hex}",
                                        client_id="ringex-resume"))
    deadline = time.monotonic() + timeout
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        described = metadata.topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            raise RingexError(f"topic {topic!r} does not exist "
                              f"({described.error if described else 'not in metadata'})")
        seqs = {partition: 0 for partition in described.partitions}
        ends: dict[int, int] = {}
        starts = []
        for partition in seqs:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=max(0.5, deadline - time.monotonic()))
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(topic, partition, max(low, high - lookback)))
        if not starts:
            return seqs
        consumer.assign(starts)
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read the tail of {topic} partitions "
                                   f"{sorted(ends)} within {timeout}s")
            message = consumer.poll(0.2)
            if message is None:
                for tp in consumer.position([TopicPartition(topic, p) for p in list(ends)]):
                    if tp.offset >= ends.get(tp.partition, 0):
                        ends.pop(tp.partition, None)
                continue
            if message.error() is not None:
                continue
            partition = message.partition()
            where = f"{topic}/{partition}@{message.offset()}"
            seqs[partition] = max(seqs[partition], seq_of(message.value(), where))
            if message.offset() + 1 >= ends.get(partition, 0):
                ends.pop(partition, None)
        return seqs
    finally:
        consumer.close()
