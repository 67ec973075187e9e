"""Plain helpers of the Kafka-edge tests: produce test input, read a topic back, wait."""

from __future__ import annotations

import time
import uuid


def produce(bootstrap: str, topic: str, messages, **config) -> None:
    """``messages``: ``(value, key, headers)`` tuples, produced in order to partition 0 unless
    a fourth item names the partition; waits for every acknowledgement."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5, **config})
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(err)

    for message in messages:
        value, key, headers, *rest = message
        producer.produce(topic, value, key, partition=rest[0] if rest else 0,
                         headers=headers, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0, "test input not acknowledged"
    assert not failures, failures


def read_topic(bootstrap: str, topic: str, *, timeout: float = 30.0, expect: int | None = None):
    """Every message of ``topic`` (all partitions, from the beginning, up to the end offsets
    seen at the start, or ``expect`` messages) as dicts, in partition then offset order."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        deadline = time.monotonic() + timeout
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        total_expected = expect if expect is not None else sum(
            ends[p] - consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0]
            for p in ends)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        found = []
        while len(found) < total_expected:
            assert time.monotonic() < deadline, \
                f"read {len(found)} of {total_expected} messages of {topic}"
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            found.append({"partition": message.partition(), "offset": message.offset(),
                          "key": message.key(), "value": message.value(),
                          "headers": dict(message.headers() or ())})
        found.sort(key=lambda m: (m["partition"], m["offset"]))
        return found
    finally:
        consumer.close()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
