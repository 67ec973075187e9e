"""Read committed messages of a topic up to where each partition ended when the read began.

The output topics are written in transactions, so a partition's last offsets can be commit
markers or aborted messages that a ``read_committed`` consumer never returns, and while a
publisher is busy its next transaction is always open. "Read until the message before the
high watermark" would wait forever on a marker, and "read until end-of-partition" never ends
while commits keep coming. So a read captures each partition's high watermark when it starts
and stops a partition at whichever comes first: the broker's end-of-partition signal (for
``read_committed``, the last stable offset), or the consumer's position reaching the captured
mark (the position moves past markers and aborted messages). Every reader of a whole topic
(Redis rebuild, tests, tools) uses :func:`read_to_end`; the publisher's resume rule uses
:func:`read_ranges`.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable

from ringex.errors import RingexError
from ringex.kafka.clients import consumer_config

__all__ = ["read_to_end", "read_ranges", "reader", "partitions_of"]


def reader(bootstrap: str, client_id: str):
    """A throw-away ``read_committed`` consumer (random group, nothing committed, EOF on)."""
    from confluent_kafka import Consumer

    return Consumer(consumer_config(bootstrap, f"{client_id}-{uuid.uuid4().hex}",
                                    client_id=client_id, **{"enable.partition.eof": True}))


def partitions_of(consumer, topic: str, timeout: float) -> list[int]:
    described = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if described is None or described.error is not None or not described.partitions:
        raise RingexError(f"topic {topic!r} is missing "
                          f"({described.error if described else 'not in metadata'})")
    return sorted(described.partitions)


def read_ranges(consumer, topic: str, ranges: dict[int, tuple[int, int]],
                on_message: Callable, deadline: float) -> None:
    """Read each partition ``p`` from ``ranges[p][0]`` until it reaches ``ranges[p][1]`` (or
    its end-of-partition signal); call ``on_message`` for every committed message.

    Raises ``TimeoutError`` naming the partitions not finished by ``deadline`` (monotonic).
    """
    from confluent_kafka import KafkaError, TopicPartition

    open_partitions = {p for p, (start, end) in ranges.items() if end > start}
    if not open_partitions:
        return
    consumer.assign([TopicPartition(topic, p, ranges[p][0]) for p in open_partitions])
    try:
        while open_partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(open_partitions)} not read "
                                   "to their end in time")
            messages = consumer.consume(10_000, timeout=0.1)
            for message in messages:
                error = message.error()
                partition = message.partition()
                if error is None:
                    if partition in open_partitions:
                        on_message(message)
                        if message.offset() + 1 >= ranges[partition][1]:
                            open_partitions.discard(partition)
                elif error.code() == KafkaError._PARTITION_EOF:
                    open_partitions.discard(partition)
                elif error.fatal():
                    raise RingexError(f"reading {topic}: {error}")
            if open_partitions and not messages:
                for tp in consumer.position([TopicPartition(topic, p)
                                             for p in open_partitions]):
                    if tp.offset >= ranges[tp.partition][1]:
                        open_partitions.discard(tp.partition)
    finally:
        consumer.unassign()


def read_to_end(bootstrap: str, topic: str, *, timeout: float = 60.0,
                client_id: str = "ringex-reader") -> list:
    """Every committed message of ``topic`` up to the high watermarks at call time,
    partition by partition in offset order."""
    from confluent_kafka import TopicPartition

    deadline = time.monotonic() + timeout
    consumer = reader(bootstrap, client_id)
    try:
        partitions = partitions_of(consumer, topic, min(30.0, timeout))
        ranges = {p: consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                    timeout=min(30.0, timeout))
                  for p in partitions}
        by_partition: dict[int, list] = {p: [] for p in partitions}
        read_ranges(consumer, topic, ranges,
                    lambda message: by_partition[message.partition()].append(message), deadline)
        return [message for p in partitions for message in by_partition[p]]
    finally:
        consumer.close()
