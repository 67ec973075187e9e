"""Order sinks: where a validated command goes, and when it counts as durable.

A sink's :meth:`submit` takes ``COMMAND_DTYPE`` records and returns one id per record only
once the sequencer holds all of them durably; that is what a gateway 2xx promises.

* :class:`EmbeddedSink` publishes into the inbound ring through
  :class:`ringex.runtime.submit.InboundClient` and returns when the journal has the records on
  disk (``wait_durable_position``: one watcher thread per worker polls the journal for all of
  the worker's threads, which mostly wait for the same fsync). NEW orders get
  ``order_id = journal position + 1`` (ids stay unique across restarts on one ``var_dir``);
  the other commands get the same number as a receipt.
* :class:`KafkaSink` produces each record as a native JSON message to ``orders`` (key = the
  pair's name, so one partition per pair) with an idempotent ``acks=all`` producer, and waits
  for its own delivery reports (served by one poller thread per worker). The order id is ``kafka_order_id(partition, offset)``, exactly the
  id the bridge derives for that message.

Both raise :class:`SequencerUnavailable` when the sequencer is down, full or too slow; the
gateway answers 503, and a retry with the same ``client_order_id`` is safe (the matcher
refuses a second live order with it). Both attach lazily and re-attach after a failure, and
must be created in the process that uses them: gunicorn's ``post_fork`` (librdkafka and the
ring's producer slot are per process). The threads of one gthread worker share its sink.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Protocol

import numpy as np

from ringex.errors import RingexError

__all__ = ["SequencerUnavailable", "OrderSink", "EmbeddedSink", "KafkaSink"]

log = logging.getLogger("ringex.gateway")
_REATTACH_INTERVAL_S = 1.0
_REPORT_POLL_S = 0.05  # the Kafka poller's longest sleep; a report wakes it at once


class SequencerUnavailable(RingexError):
    """The commands may or may not be in the sequencer; the client should retry."""


class OrderSink(Protocol):
    def submit(self, commands: np.ndarray) -> list[int]:
        """Durably sequence ``commands``; one id per record (the order id for NEW)."""

    def health(self) -> dict[str, object]:
        """``{"ok": bool, ...details}``: is the sequencer reachable from this worker."""

    def close(self) -> None:
        ...


class EmbeddedSink:
    def __init__(self, var_dir: str, timeout_s: float):
        self.var_dir = var_dir
        self.timeout_s = timeout_s
        self.client = None
        self._next_attempt = 0.0
        self._last_error = ""
        self._attach_lock = threading.Lock()

    def _client(self):
        client = self.client
        if client is not None:
            return client
        with self._attach_lock:
            return self.client or self._attach()

    def _attach(self):
        now = time.monotonic()
        if now < self._next_attempt:
            raise SequencerUnavailable(f"not attached to the inbound ring: {self._last_error}")
        self._next_attempt = now + _REATTACH_INTERVAL_S
        from ringex.runtime.submit import InboundClient

        try:
            self.client = InboundClient(self.var_dir, timeout=self.timeout_s)
        except (OSError, RingexError, RuntimeError, ValueError) as exc:
            self._last_error = str(exc)
            raise SequencerUnavailable(f"cannot attach to the inbound ring: {exc}") from None
        return self.client

    def submit(self, commands: np.ndarray) -> list[int]:
        client = self._client()
        try:
            positions = client.submit(commands, wait_durable=False)
            client.wait_durable_position(int(positions[-1]), self.timeout_s)
        except TimeoutError as exc:
            raise SequencerUnavailable(f"not durable within {self.timeout_s:g}s: {exc}") from None
        except RingexError as exc:  # the ring was halted: the exchange is stopping
            self._drop(str(exc))
            raise SequencerUnavailable(str(exc)) from None
        return (positions + 1).tolist()

    def _drop(self, reason: str) -> None:
        self._last_error = reason
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - best effort on a dead ring
                pass

    def health(self) -> dict[str, object]:
        try:
            client = self._client()
        except SequencerUnavailable as exc:
            return {"ok": False, "sequencer": "embedded journal", "detail": str(exc)}
        ring = client.ring
        consumers = {peer.slot: peer.alive for peer in ring.peers() if peer.role == "consumer"}
        journal_alive = consumers.get(client.journal_slot, False)
        engine_alive = consumers.get(client.engine_slot, False)
        lag = ring.cursor - ring.consumer_sequence(client.journal_slot)
        ok = journal_alive and engine_alive and lag < ring.capacity
        health = {"ok": ok, "sequencer": "embedded journal", "rings_attached": True,
                  "journal_alive": journal_alive, "engine_alive": engine_alive,
                  "journal_lag": int(lag), "ring_capacity": int(ring.capacity)}
        if not engine_alive:
            health["detail"] = "engine starting"
        return health

    def close(self) -> None:
        self._drop("closed")


class KafkaSink:
    """One idempotent producer per worker process. Its delivery reports are served by one
    poller thread; a request waits on its own event until all of its messages are
    acknowledged, so the threads of a worker never wait for each other's messages (as they
    did when every request called ``flush``, which waits for the whole queue)."""

    def __init__(self, settings, registry, *, producer_factory=None):
        from ringex.kafka.clients import kafka_section, producer_config

        section = kafka_section(settings.kafka)
        self.topic = section.orders_topic
        self.registry = registry
        self.timeout_s = settings.gateway.sequencer_timeout_ms / 1000.0
        self._config = producer_config(section.bootstrap, client_id=f"ringex-gateway-{os.getpid()}",
                                       linger_ms=1, **{"queue.buffering.max.messages": 200_000})
        self._factory = producer_factory
        self.producer = None
        self._fatal = ""
        self._lock = threading.Lock()

    def _producer(self):
        producer = self.producer
        if producer is not None:
            return producer
        with self._lock:
            if self.producer is None:
                if self._factory is not None:
                    self.producer = self._factory(self._config)
                else:
                    from confluent_kafka import Producer

                    self.producer = Producer(self._config)
                threading.Thread(target=self._serve_reports, args=(self.producer,),
                                 name="kafka-reports", daemon=True).start()
            return self.producer

    def _serve_reports(self, producer) -> None:
        """Run delivery callbacks until this producer is replaced or closed."""
        while self.producer is producer:
            producer.poll(_REPORT_POLL_S)

    def submit(self, commands: np.ndarray) -> list[int]:
        from ringex.wire.ids import kafka_order_id
        from gateway.native_json import command_json

        producer = self._producer()
        count = len(commands)
        positions: list[tuple[int, int] | None] = [None] * count
        errors: list[str] = []
        done = threading.Event()
        outstanding = [count]  # callbacks run on the poller thread only

        def reporter(index: int):
            def on_delivery(err, message) -> None:
                if err is not None:
                    errors.append(str(err))
                    if err.fatal():
                        self._fatal = str(err)
                else:
                    positions[index] = (message.partition(), message.offset())
                outstanding[0] -= 1
                if outstanding[0] == 0 or err is not None:
                    done.set()
            return on_delivery

        try:
            for index in range(count):
                record = commands[index]
                producer.produce(self.topic, command_json(record, self.registry),
                                 key=self.registry.pairs[int(record["pair_id"])].name
                                 if int(record["pair_id"]) >= 0 else b"",
                                 headers=[("content-type", b"application/json")],
                                 on_delivery=reporter(index))
        except BufferError:
            raise SequencerUnavailable("the Kafka producer queue is full") from None
        except Exception as exc:  # KafkaException: a fatal producer state
            self._reset(str(exc))
            raise SequencerUnavailable(f"Kafka produce failed: {exc}") from None
        if not done.wait(self.timeout_s):
            raise SequencerUnavailable(f"Kafka did not acknowledge within {self.timeout_s:g}s")
        if errors:
            if self._fatal:
                self._reset(self._fatal)
            raise SequencerUnavailable(f"Kafka refused the message: {errors[0]}")
        return [kafka_order_id(*position) for position in positions]

    def _reset(self, reason: str) -> None:
        log.warning("rebuilding the Kafka producer: %s", reason)
        self.producer = None
        self._fatal = ""

    def health(self) -> dict[str, object]:
        try:
            metadata = self._producer().list_topics(self.topic, timeout=2.0)
            topic = metadata.topics.get(self.topic)
            ok = topic is not None and topic.error is None and len(topic.partitions) > 0
            return {"ok": ok, "sequencer": "kafka", "topic": self.topic,
                    "partitions": len(topic.partitions) if topic is not None else 0}
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return {"ok": False, "sequencer": "kafka", "detail": str(exc)}

    def close(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            producer.flush(self.timeout_s)
