"""Read every committed message of a topic, up to the end of each partition.

The output topics are written in transactions, so a partition's last offsets can be commit
markers or aborted messages that a ``read_committed`` consumer never returns. "Read until the
offset before the high watermark" would then wait forever; the end of a partition is instead
the broker's end-of-partition signal (``enable.partition.eof``), which for ``read_committed``
comes at the last stable offset. Every reader of a whole topic (Redis rebuild, tests,
tools) uses :func:`read_to_end`.
"""

from __future__ import annotations

import time
import uuid

from ringex.errors import RingexError
from ringex.kafka.clients import consumer_config

__all__ = ["read_to_end"]


def read_to_end(bootstrap: str, topic: str, *, timeout: float = 60.0,
                client_id: str = "ringex-reader", batch: int = 10_000) -> list:
    """Every committed message of ``topic``, partition by partition in offset order.

    Raises ``TimeoutError`` naming the partitions not read to their end within ``timeout``.
    """
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(consumer_config(bootstrap, f"{client_id}-{uuid.uuid4().hex}",
                                        client_id=client_id, **{"enable.partition.eof": True}))
    try:
        described = consumer.list_topics(topic, timeout=min(30.0, timeout)).topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            raise RingexError(f"topic {topic!r} is missing "
                              f"({described.error if described else 'not in metadata'})")
        partitions = sorted(described.partitions)
        consumer.assign([TopicPartition(topic, p, -2) for p in partitions])  # -2: beginning
        open_partitions = set(partitions)
        by_partition: dict[int, list] = {p: [] for p in partitions}
        deadline = time.monotonic() + timeout
        while open_partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(open_partitions)} not read "
                                   f"to their end within {timeout}s")
            for message in consumer.consume(batch, timeout=0.2):
                error = message.error()
                if error is None:
                    by_partition[message.partition()].append(message)
                elif error.code() == KafkaError._PARTITION_EOF:
                    open_partitions.discard(message.partition())
                elif error.fatal():
                    raise RingexError(f"reading {topic}: {error}")
        return [message for p in partitions for message in by_partition[p]]
    finally:
        consumer.close()
