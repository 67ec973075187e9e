"""The Kafka publisher: the outbound ring's events -> `order-events` and `trades`.

One consumer slot of the outbound ring. Per ring batch:

1. every event goes to `order-events` (``events_to_json``), every ``TRADE`` also to `trades`
   (``trades_to_json``), keyed by pair name, into partition ``crc32(key) % n``
   (:mod:`ringex.kafka.partitioning`);
2. the producer is idempotent (``acks=all``, ``max.in.flight`` 5, gapless), so per-pair order
   holds;
3. the batch is released to the ring only once Kafka acknowledged every message of it.

Resume (:mod:`ringex.kafka.resume`): on start, and after every producer rebuild, the publisher
reads the last ``seq`` of each partition of both topics and skips what is already there.

Errors: librdkafka retries retriable errors without a deadline (``message.timeout.ms=0``), so a
failed delivery report means a permanent or fatal error. Either way, once nothing is in flight
the producer is dropped and rebuilt, the topic tails are read again, and the same batch is
sent again (backing off from 0.5 s to 10 s): a message is never dropped, at worst the
publisher stalls, loudly, and the ring fills behind it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ringex.errors import RingexError
from ringex.kafka.clients import describe_error, kafka_section, producer_config
from ringex.kafka.metrics import NO_METRICS, KafkaMetrics
from ringex.kafka.partitioning import partition_for
from ringex.kafka.resume import read_resume_seqs
from ringex.records import EVENT_DTYPE, EventKind

__all__ = ["run_kafka_publisher", "PublisherStats"]

log = logging.getLogger("ringex.kafka.publisher")

_TRADE = int(EventKind.TRADE)


@dataclass
class PublisherStats:
    batches: int = 0
    events: int = 0  # acknowledged into order-events
    trades: int = 0  # acknowledged into trades
    skipped: int = 0  # messages already in Kafka (resume rule)
    rebuilds: int = 0
    last_seq: int = 0


def run_kafka_publisher(settings, outbound_ring_name: str, slot: int, registry, *,
                        should_stop: Callable[[], bool], metrics: KafkaMetrics | None = None,
                        depends_on: Sequence[int] = (), max_batch: int = 4096,
                        linger_ms: float = 2, wait_timeout: float = 0.1,
                        client_id: str = "ringex-publisher") -> PublisherStats:
    """Run until ``should_stop()`` (or the ring is drained/halted); returns what it did."""
    from ringex.ring import ALERTED, Ring

    kafka = kafka_section(settings)
    ring = Ring.attach(outbound_ring_name, EVENT_DTYPE)
    consumer = ring.consumer(slot, depends_on)
    output = _Output(kafka, registry, metrics or NO_METRICS, linger_ms, client_id)
    try:
        while not should_stop():
            batch = consumer.wait(timeout=wait_timeout, max_batch=max_batch)
            if batch is None:
                if consumer.last_status == ALERTED:
                    break
                continue
            if not output.publish(batch.views, should_stop):
                break  # stopping before Kafka acknowledged it: the batch stays in the ring
            consumer.release(batch)
            output.stats.batches += 1
            output.metrics.inc("batches")
    finally:
        try:
            output.close()
        finally:
            consumer.close()
            ring.close()
    log.info("kafka publisher stopped: %s", output.stats)
    return output.stats


class _Output:
    """The producer, the partition counts and the resume seqs; rebuilt together."""

    def __init__(self, kafka, registry, metrics: KafkaMetrics, linger_ms: float,
                 client_id: str):
        from ringex.wire.json_events import events_to_json, trades_to_json

        self.kafka = kafka
        self.registry = registry
        self.metrics = metrics
        self.linger_ms = linger_ms
        self.client_id = client_id
        self.events_to_json = events_to_json
        self.trades_to_json = trades_to_json
        self.keys = {pair.pair_id: pair.name.encode() for pair in registry}
        self.stats = PublisherStats()
        self.failures: list[str] = []
        self.outstanding = 0
        self.producer = None
        self._connect()

    def _connect(self) -> None:
        from confluent_kafka import Producer

        self.producer = Producer(producer_config(self.kafka.bootstrap, client_id=self.client_id,
                                                 linger_ms=self.linger_ms))
        metadata = self.producer.list_topics(timeout=30)
        self.partitions = {}
        for topic in (self.kafka.events_topic, self.kafka.trades_topic):
            described = metadata.topics.get(topic)
            if described is None or described.error is not None or not described.partitions:
                raise RingexError(f"output topic {topic!r} is missing; run ensure_topics first")
            self.partitions[topic] = len(described.partitions)
        self.resume = {topic: read_resume_seqs(self.kafka.bootstrap, topic)
                       for topic in self.partitions}
        self.targets = {}  # key -> (events partition, trades partition)
        log.info("publisher resumes after %s", self.resume)

    def _target(self, key: bytes | None) -> tuple[int, int]:
        target = self.targets.get(key)
        if target is None:
            target = (partition_for(key, self.partitions[self.kafka.events_topic]),
                      partition_for(key, self.partitions[self.kafka.trades_topic]))
            self.targets[key] = target
        return target

    def publish(self, views: Sequence[np.ndarray], should_stop) -> bool:
        """Send every event of ``views``; True once Kafka acknowledged them all."""
        backoff = 0.5
        while True:
            for view in views:
                self._send(view)
            if not self._settle(should_stop):
                return False
            if not self.failures:
                return True
            log.error("%d deliveries failed (first: %s); rebuilding the producer and resuming "
                      "from the topics' tails in %.1fs", len(self.failures), self.failures[0],
                      backoff)
            self.failures = []
            self.stats.rebuilds += 1
            self.metrics.error("fatal")
            deadline = time.monotonic() + backoff
            while time.monotonic() < deadline:
                if should_stop():
                    return False
                time.sleep(0.05)
            backoff = min(backoff * 2, 10.0)
            self.producer = None
            self._connect()

    def _send(self, events: np.ndarray) -> None:
        if events.shape[0] == 0:
            return
        events_topic, trades_topic = self.kafka.events_topic, self.kafka.trades_topic
        event_seqs, trade_seqs = self.resume[events_topic], self.resume[trades_topic]
        payloads = self.events_to_json(events, self.registry)
        is_trade = events["kind"] == _TRADE
        trade_payloads = iter(self.trades_to_json(events[is_trade], self.registry)
                              if is_trade.any() else ())
        seqs = events["seq"].tolist()
        kinds = is_trade.tolist()
        pair_ids = events["pair_id"].tolist()
        produce = self.producer.produce
        for index, seq in enumerate(seqs):
            key = self.keys.get(pair_ids[index])
            event_partition, trade_partition = self._target(key)
            if seq > event_seqs[event_partition]:
                self._produce(produce, events_topic, payloads[index], key, event_partition, seq)
            else:
                self._skip()
            if kinds[index]:
                trade_payload = next(trade_payloads)
                if seq > trade_seqs[trade_partition]:
                    self._produce(produce, trades_topic, trade_payload, key, trade_partition,
                                  seq)
                else:
                    self._skip()
        self.stats.last_seq = max(self.stats.last_seq, seqs[-1])
        self.producer.poll(0)

    def _skip(self) -> None:
        self.stats.skipped += 1
        self.metrics.inc("skipped")

    def _produce(self, produce, topic: str, payload: bytes, key, partition: int, seq: int):
        while True:
            try:
                produce(topic, payload, key, partition, self._delivered)
                break
            except BufferError:  # the local queue is full: serve delivery reports, retry
                self.producer.poll(0.05)
        self.outstanding += 1

    def _delivered(self, err, message) -> None:
        self.outstanding -= 1
        if err is not None:
            self.failures.append(f"{message.topic()}/{message.partition()}: "
                                 f"{describe_error(err)}")
            self.metrics.error("delivery")
            return
        if message.topic() == self.kafka.events_topic:
            self.stats.events += 1
            self.metrics.inc("events_out")
        else:
            self.stats.trades += 1
            self.metrics.inc("trades_out")

    def _settle(self, should_stop, stop_grace: float = 5.0) -> bool:
        """Wait for every delivery report; False if stopping with messages still in flight."""
        stop_deadline = None
        while self.outstanding > 0:
            self.producer.flush(0.2)
            if stop_deadline is None and should_stop():
                stop_deadline = time.monotonic() + stop_grace
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                return self.outstanding == 0
        return True

    def close(self) -> None:
        if self.producer is not None:
            left = self.producer.flush(5.0)
            if left:
                log.warning("%d messages still in flight at shutdown (their batch was not "
                            "released; the next publisher resends what Kafka lacks)", left)
            self.producer = None
