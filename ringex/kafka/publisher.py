"""The Kafka publisher: the outbound ring's events -> `order-events` and `trades`.

One consumer slot of the outbound ring. Per ring batch, one Kafka transaction:

1. every event goes to `order-events` (``events_to_json``), every ``TRADE`` also to `trades`
   (``trades_to_json``), keyed by pair name, into partition ``crc32(key) % n``
   (:mod:`ringex.kafka.partitioning`);
2. the transaction commits (``acks=all``), and only then is the batch released to the ring.

The producer's ``transactional.id`` is fixed per deployment (:func:`transactional_id_for`), so
a restarted publisher's ``init_transactions`` aborts what its predecessor left open and fences
it: a killed publisher's in-flight requests can never land after its successor read the topic
tails. Resume (:mod:`ringex.kafka.resume`): after ``init_transactions``, the publisher reads the
last committed ``seq`` of each partition of both topics and skips what is already there.

The three classes of confluent-kafka error, each with one answer:

* **retriable** (``err.retriable()``: broker down, coordinator moving, a timed-out commit):
  call the same operation again after a short wait; nothing is lost or repeated.
* **abort-and-rewind** (``err.txn_requires_abort()``: a message failed inside the transaction,
  e.g. it timed out while the broker was down): ``abort_transaction`` and send the same ring
  batch again in a new transaction (backing off from 0.5 s to 10 s).
* **fatal** (``err.fatal()``: fenced by a newer publisher with the same id, or a producer
  state librdkafka cannot continue from): drop the producer, build a new one (whose
  ``init_transactions`` fences the old), read the tails again and resend the batch.

A message is never dropped: at worst the publisher stalls, loudly, and the ring fills behind it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ringex.errors import RingexError
from ringex.kafka.clients import (describe_error, kafka_section,
                                  transactional_producer_config)
from ringex.kafka.metrics import NO_METRICS, KafkaMetrics
from ringex.kafka.partitioning import partition_for
from ringex.kafka.resume import read_resume_seqs
from ringex.records import EVENT_DTYPE, EventKind

__all__ = ["run_kafka_publisher", "PublisherStats", "transactional_id_for"]

log = logging.getLogger("ringex.kafka.publisher")

_TRADE = int(EventKind.TRADE)


@dataclass
class PublisherStats:
    batches: int = 0
    events: int = 0  # acknowledged into order-events
    trades: int = 0  # acknowledged into trades
    skipped: int = 0  # messages already in Kafka (resume rule)
    aborts: int = 0  # transactions aborted and sent again
    rebuilds: int = 0  # producers rebuilt after a fatal error
    last_seq: int = 0


def run_kafka_publisher(settings, outbound_ring_name: str, slot: int, registry, *,
                        should_stop: Callable[[], bool], metrics: KafkaMetrics | None = None,
                        depends_on: Sequence[int] = (), max_batch: int = 4096,
                        linger_ms: float = 2, wait_timeout: float = 0.1,
                        client_id: str = "ringex-publisher",
                        transactional_id: str | None = None) -> PublisherStats:
    """Run until ``should_stop()`` (or the ring is drained/halted); returns what it did.

    ``transactional_id`` defaults to :func:`transactional_id_for` the settings. Two publishers
    with the same id fence each other: give each deployment (each engine instance) its own.
    """
    from ringex.ring import ALERTED, Ring

    kafka = kafka_section(settings)
    ring = Ring.attach(outbound_ring_name, EVENT_DTYPE)
    consumer = ring.consumer(slot, depends_on)
    output = _Output(kafka, registry, metrics or NO_METRICS, linger_ms, client_id,
                     transactional_id or transactional_id_for(kafka))
    try:
        if not output.connect(should_stop):
            return output.stats
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


def transactional_id_for(kafka) -> str:
    """``ringex-publisher.<group id>.<order-events topic>``: one per deployment and instance.

    The engine's consumer group already names one engine instance (its offsets), and the
    events topic names the output it owns; a restart of the same instance reuses the id and
    so fences its predecessor, while separate instances never fence each other.
    """
    return f"ringex-publisher.{kafka.group_id}.{kafka.events_topic}"


class _Output:
    """The transactional producer, the partition counts and the resume seqs; rebuilt together.

    Single writer: the publisher's one thread owns every field here.
    """

    def __init__(self, kafka, registry, metrics: KafkaMetrics, linger_ms: float,
                 client_id: str, transactional_id: str):
        from ringex.wire.json_events import events_to_json, trades_to_json

        self.kafka = kafka
        self.registry = registry
        self.metrics = metrics
        self.linger_ms = linger_ms
        self.client_id = client_id
        self.transactional_id = transactional_id
        self.owned = tuple(sorted(getattr(kafka, "orders_partitions", ()) or ()))
        self.events_to_json = events_to_json
        self.trades_to_json = trades_to_json
        self.keys = {pair.pair_id: pair.name.encode() for pair in registry}
        self.stats = PublisherStats()
        self.failures: list[str] = []
        self.producer = None
        self.pending = [0, 0]  # events, trades produced in the open transaction

    # --- producer life ------------------------------------------------------------------

    def connect(self, should_stop) -> bool:
        """Build the producer, fence any predecessor, read the tails; False if stopping."""
        from confluent_kafka import KafkaException, Producer

        backoff = 0.5
        while True:
            self.producer = Producer(transactional_producer_config(
                self.kafka.bootstrap, self.transactional_id, client_id=self.client_id,
                linger_ms=self.linger_ms))
            try:
                self._init_transactions(should_stop)
                if should_stop():
                    return False
                self._read_layout()
                return True
            except KafkaException as exc:
                log.error("publisher could not start its transactional producer (%s); "
                          "retrying in %.1fs", describe_error(exc.args[0]), backoff)
            except TimeoutError as exc:
                log.error("publisher could not read the topic tails (%s); retrying in %.1fs",
                          exc, backoff)
            self.producer = None
            if not _sleep(backoff, should_stop):
                return False
            backoff = min(backoff * 2, 10.0)

    def _init_transactions(self, should_stop) -> None:
        from confluent_kafka import KafkaException

        while True:
            try:
                self.producer.init_transactions(10.0)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable() or err.fatal() or should_stop():
                    raise
                log.warning("init_transactions: %s; retrying", describe_error(err))

    def _read_layout(self) -> None:
        metadata = self.producer.list_topics(timeout=30)
        self.partitions = {}
        for topic in (self.kafka.events_topic, self.kafka.trades_topic):
            described = metadata.topics.get(topic)
            if described is None or described.error is not None or not described.partitions:
                raise RingexError(f"output topic {topic!r} is missing; run ensure_topics first")
            self.partitions[topic] = len(described.partitions)
        self.resume = {topic: read_resume_seqs(self.kafka.bootstrap, topic,
                                               partitions=self.owned or None)
                       for topic in self.partitions}
        self.targets = {}  # key -> (events partition, trades partition)
        log.info("publisher %s resumes after %s", self.transactional_id, self.resume)

    def _target(self, key: bytes | None) -> tuple[int, int]:
        target = self.targets.get(key)
        if target is None:
            target = tuple(self._partition_of(key, topic)
                           for topic in (self.kafka.events_topic, self.kafka.trades_topic))
            self.targets[key] = target
        return target

    def _partition_of(self, key: bytes | None, topic: str) -> int:
        """``crc32(key) % n``; with owned `orders` partitions, only those (scale-out)."""
        if not self.owned:
            return partition_for(key, self.partitions[topic])
        if key is None:  # an event of no known pair: this instance's own first partition
            return self.owned[0]
        partition = partition_for(key, self.partitions[topic])
        if partition not in self.owned:
            raise RingexError(
                f"pair {key.decode()} maps to partition {partition} of {topic}, which this "
                f"instance (orders partitions {list(self.owned)}) does not own: key `orders` "
                "by pair with the crc32 partitioner and give every topic the same partition "
                "count")
        return partition

    # --- one ring batch = one transaction -------------------------------------------------

    def publish(self, views: Sequence[np.ndarray], should_stop) -> bool:
        """Send every event of ``views`` in one transaction; True once it committed."""
        from confluent_kafka import KafkaException

        backoff = 0.5
        while True:
            try:
                self.pending = [0, 0]
                self.producer.begin_transaction()
                for view in views:
                    self._send(view)
                if not self._commit(should_stop):
                    return False
                self._count_committed()
                return True
            except KafkaException as exc:
                err = exc.args[0]
                cause = f"{describe_error(err)}; first failed delivery: " \
                        f"{self.failures[0] if self.failures else 'none'}"
                self.failures = []
                if err.txn_requires_abort() and not err.fatal():
                    log.error("transaction aborted (%s); sending the batch again in %.1fs",
                              cause, backoff)
                    self.stats.aborts += 1
                    self.metrics.error("delivery")
                    if not self._abort(should_stop):
                        return False
                elif err.retriable() and not err.fatal():
                    log.warning("retriable error outside a commit (%s); retrying", cause)
                    if not self._abort(should_stop):
                        return False
                else:
                    log.error("fatal producer error (%s); rebuilding the producer and "
                              "resuming from the topics' tails in %.1fs", cause, backoff)
                    self.stats.rebuilds += 1
                    self.metrics.error("fatal")
                    self.producer = None
                    if not _sleep(backoff, should_stop) or not self.connect(should_stop):
                        return False
            if not _sleep(backoff, should_stop):
                return False
            backoff = min(backoff * 2, 10.0)

    def _commit(self, should_stop, stop_grace: float = 5.0) -> bool:
        """Commit, retrying retriable errors; False if stopping before it committed."""
        from confluent_kafka import KafkaException

        stop_deadline = None
        while True:
            try:
                self.producer.commit_transaction(1.0)
                return True
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable() or err.fatal() or err.txn_requires_abort():
                    raise
            if stop_deadline is None and should_stop():
                stop_deadline = time.monotonic() + stop_grace
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                log.warning("stopping with a transaction not yet committed (the batch stays "
                            "in the ring; the next publisher aborts it and resends)")
                return False

    def _abort(self, should_stop) -> bool:
        """Abort the open transaction, retrying retriable errors; fatal ones propagate."""
        from confluent_kafka import KafkaError, KafkaException

        while True:
            try:
                self.producer.abort_transaction(10.0)
                return True
            except KafkaException as exc:
                err = exc.args[0]
                if err.code() == KafkaError._STATE:  # no transaction was open after all
                    return True
                if err.fatal() or not err.retriable():
                    raise
                if should_stop():
                    return False

    def _count_committed(self) -> None:
        events, trades = self.pending
        self.stats.events += events
        self.stats.trades += trades
        self.metrics.inc("events_out", events)
        self.metrics.inc("trades_out", trades)

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
                self._produce(produce, events_topic, payloads[index], key, event_partition)
                self.pending[0] += 1
            else:
                self._skip()
            if kinds[index]:
                trade_payload = next(trade_payloads)
                if seq > trade_seqs[trade_partition]:
                    self._produce(produce, trades_topic, trade_payload, key, trade_partition)
                    self.pending[1] += 1
                else:
                    self._skip()
        self.stats.last_seq = max(self.stats.last_seq, seqs[-1])
        self.producer.poll(0)

    def _skip(self) -> None:
        self.stats.skipped += 1
        self.metrics.inc("skipped")

    def _produce(self, produce, topic: str, payload: bytes, key, partition: int) -> None:
        while True:
            try:
                produce(topic, payload, key, partition, self._on_delivery)
                return
            except BufferError:  # the local queue is full: serve delivery reports, retry
                self.producer.poll(0.05)

    def _on_delivery(self, err, message) -> None:
        if err is not None and len(self.failures) < 10:  # the cause, for the abort's log line
            self.failures.append(f"{message.topic()}/{message.partition()}: "
                                 f"{describe_error(err)}")

    def close(self) -> None:
        if self.producer is not None:
            # An open transaction is abandoned on purpose: its batch was not released, and the
            # next publisher's init_transactions aborts it.
            self.producer.flush(1.0)
            self.producer = None


def _sleep(seconds: float, should_stop) -> bool:
    """Sleep in small steps; False as soon as ``should_stop()``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if should_stop():
            return False
        time.sleep(0.05)
    return True
