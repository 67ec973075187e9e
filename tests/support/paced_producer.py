"""A thread that produces generated messages to a Kafka topic at a steady rate, for the tests
that keep orders flowing while they kill or restart processes (``recovery_harness.OrderLoad``,
``PairLoad`` of tests/runtime/test_scale_out.py).

A subclass says what to send (:meth:`PacedProducer.message`) and what to remember of an
acknowledged message (:meth:`PacedProducer.acknowledged`). The producer is idempotent with
``acks=all`` and never times a message out, so :meth:`PacedProducer.finish` can require every
message sent to be acknowledged.
"""

from __future__ import annotations

import threading
import time

import numpy as np

TICK_S = 0.02  # messages go out in bursts of rate * TICK_S, one burst per tick


class PacedProducer(threading.Thread):
    """Produces ``message(1)``, ``message(2)``, ... at about ``rate`` messages/s until
    stopped; counts what it sent and what the broker acknowledged."""

    finish_timeout = 120.0  # seconds :meth:`finish` waits for the last acknowledgements

    def __init__(self, bootstrap: str, topic: str, *, rate: int, seed: int):
        super().__init__(daemon=True)
        from confluent_kafka import Producer

        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                                  "enable.idempotence": True, "linger.ms": 5,
                                  "message.timeout.ms": 0})
        self.topic, self.rate = topic, rate
        self.rng = np.random.default_rng(seed)
        self.stop_event = threading.Event()
        self.sent = self.acked = 0
        self.failures: list[str] = []

    def message(self, i: int) -> tuple[bytes, int, bytes, object]:
        """``(key, partition, value, tag)`` of the ``i``-th message; the tag is handed to
        :meth:`acknowledged` once the broker has the message."""
        raise NotImplementedError

    def acknowledged(self, message, tag) -> None:
        """Called (on this thread) for every acknowledged message."""

    def _delivered(self, err, message, tag) -> None:
        if err is not None:
            self.failures.append(str(err))
            return
        self.acked += 1
        self.acknowledged(message, tag)

    def run(self) -> None:
        i = 0
        per_tick = max(1, int(self.rate * TICK_S))
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            for _ in range(per_tick):
                i += 1
                key, partition, value, tag = self.message(i)
                while True:
                    try:
                        self.producer.produce(
                            self.topic, value, key, partition=partition,
                            on_delivery=lambda err, msg, tag=tag: self._delivered(err, msg, tag))
                        break
                    except BufferError:
                        self.producer.poll(0.05)
                self.sent += 1
            self.producer.poll(0)
            next_at += TICK_S
            time.sleep(max(0.0, next_at - time.monotonic()))

    def finish(self, timeout: float | None = None) -> None:
        """Stops, then requires every message sent to be acknowledged within ``timeout``
        seconds (default :attr:`finish_timeout`)."""
        self.stop_event.set()
        self.join(30)
        timeout = self.finish_timeout if timeout is None else timeout
        assert self.producer.flush(timeout) == 0, "orders not acknowledged"
        assert not self.failures, self.failures[:5]
        assert self.acked == self.sent
