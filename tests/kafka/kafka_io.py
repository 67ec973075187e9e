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


def read_topic(bootstrap: str, topic: str, *, timeout: float = 30.0, expect: int | None = None,
               enough=None):
    """Every committed message of ``topic`` (all partitions, to each partition's end) as dicts,
    in partition then offset order. With ``expect``, read again until that many are there
    (and fail if they never are); with ``enough``, until ``enough(messages)`` holds on the
    raw messages, then return the last read either way (``services.read_committed``)."""
    from tests.support.services import read_committed

    if expect is not None:
        enough = lambda ms: len(ms) >= expect  # noqa: E731
    messages = read_committed(bootstrap, topic, timeout=timeout, client_id="read",
                              enough=enough)
    assert expect is None or len(messages) >= expect, \
        f"read {len(messages)} of {expect} messages of {topic}"
    return [{"partition": m.partition(), "offset": m.offset(), "key": m.key(),
             "value": m.value(), "headers": dict(m.headers() or ())} for m in messages]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
