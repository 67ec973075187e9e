"""Fixtures of the Kafka-edge tests: per-test topics, settings, a thread runner.

Every test gets its own uniquely named topics (``services.kafka_topics``, deleted after the
test), so tests never see each other's messages. The bridge and the publisher run in threads
of the test process with a bounded stop; each creates and destroys its own Kafka clients, so
nothing librdkafka is left alive when the test ends.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from ringex.config import KafkaSettings
from ringex.pairs import default_pairs


@pytest.fixture
def registry():
    return default_pairs()


@pytest.fixture
def kafka_settings(kafka_bootstrap, kafka_topics):
    def make(orders_partitions: int = 1, output_partitions: int = 3,
             events_format: str = "json", transaction_linger_ms: int = 0,
             transaction_idle_ms: int = 0) -> KafkaSettings:
        return KafkaSettings(
            bootstrap=kafka_bootstrap,
            orders_topic=kafka_topics(orders_partitions, prefix="orders"),
            dlq_topic=kafka_topics(1, prefix="dlq"),
            trades_topic=kafka_topics(output_partitions, prefix="trades"),
            events_topic=kafka_topics(output_partitions, prefix="events"),
            group_id=f"test-{uuid.uuid4().hex[:10]}",
            events_format=events_format,
            transaction_linger_ms=transaction_linger_ms,
            transaction_idle_ms=transaction_idle_ms,
        )

    return make


class Running:
    """A loop function running in a thread until :meth:`stop`."""

    def __init__(self, target, *args, **kwargs):
        self.stop_event = threading.Event()
        self.result = None
        self.error: BaseException | None = None

        def body():
            try:
                self.result = target(*args, should_stop=self.stop_event.is_set, **kwargs)
            except BaseException as exc:  # reported by stop()
                self.error = exc

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 20.0):
        self.stop_event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the loop did not stop in time"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def run_in_thread():
    started: list[Running] = []

    def start(target, *args, **kwargs) -> Running:
        running = Running(target, *args, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop_event.set()
    for running in started:
        running.thread.join(20)

