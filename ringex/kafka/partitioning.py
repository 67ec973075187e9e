"""Which partition an output message goes to: ``crc32(key) % partitions``.

The publisher picks the partition itself, rather than leaving it to the client's
partitioner, because its resume rule (:mod:`ringex.kafka.resume`) compares each event's
``seq`` with the last ``seq`` of the partition that event belongs to. The function is
librdkafka's ``consistent`` partitioner (its default for keyed messages), so a
confluent-kafka producer keyed by pair name would agree. A message with no key (an event of
no known pair) goes to ``crc32(b"") % n == 0``.
"""

from __future__ import annotations

import zlib

__all__ = ["partition_for"]


def partition_for(key: bytes | None, partitions: int) -> int:
    return zlib.crc32(key or b"") % partitions
