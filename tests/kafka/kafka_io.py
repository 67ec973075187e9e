"""Plain helpers of the Kafka-edge tests: produce test input, read a topic back, wait."""

from __future__ import annotations

import time


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
    """Every committed message of ``topic`` (all partitions, to each partition's end; with
    ``expect``, read again until that many are there) as dicts, in partition then offset
    order."""
    from ringex.kafka.reading import read_to_end

    deadline = time.monotonic() + timeout
    while True:
        found = [{"partition": m.partition(), "offset": m.offset(), "key": m.key(),
                  "value": m.value(), "headers": dict(m.headers() or ())}
                 for m in read_to_end(bootstrap, topic, timeout=max(1.0, deadline - time.monotonic()),
                                      client_id="read")]
        if expect is None or len(found) >= expect:
            return found
        assert time.monotonic() < deadline, f"read {len(found)} of {expect} messages of {topic}"
        time.sleep(0.2)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
