"""The Kafka publisher: the outbound ring's events -> `order-events` and `trades`.

One consumer slot of the outbound ring. Per ring batch, one Kafka transaction (which also
takes the batches that arrive within ``kafka.transaction_linger_ms`` of the first):

1. every event goes to `order-events`, every ``TRADE`` also to `trades`, into partition
   ``crc32(pair name) % n`` (:mod:`ringex.kafka.partitioning`). With
   ``kafka.events_format = "json"`` (the default) each is one message keyed by pair name
   (``events_to_json``, ``trades_to_json``); with ``"frame"``, the batch's events of one
   partition travel as event frames (:func:`ringex.wire.frames.encode_event_frame`, at most
   ``frame_events`` records each, no key), so the cost is per batch, not per event;
2. the transaction commits (``acks=all``), and only then is the batch released to the ring.

The producers' ``transactional.id`` values are fixed per deployment
(:func:`transactional_ids_for`), so a restarted publisher's ``init_transactions`` aborts what its
predecessor left open and fences it: a killed publisher's in-flight requests can never land
after its successor read the topic tails.

Two transactional producers take the transactions in turn (``kafka.transactional_producers``,
default 2). Why: the broker answers ``commit_transaction`` once the commit is decided, then
writes the partitions' markers; a transaction that registers its first partition before those
markers are written gets ``CONCURRENT_TRANSACTIONS``, and librdkafka retries only 20 ms later
(hard-coded): at a steady 50K orders/s, 25 to 78 of every 600 to 1,000 transactions paid
20 ms or more. The other producer's id has no transaction in flight, so its next transaction
starts at once. Order and the resume rule still hold: a transaction begins only after the
previous one's commit returned (all its messages acknowledged and its commit decided), so
within every partition the transactions' messages are appended in turn, and a
``read_committed`` consumer, which stops at the first still-open transaction, reads them in
that order.

Resume (:mod:`ringex.kafka.resume`): after ``init_transactions``, the publisher reads the
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

from ringex.config import KafkaSettings
from ringex.errors import RingexError
from ringex.kafka.clients import (describe_error, kafka_section,
                                  transactional_producer_config)
from ringex.kafka.metrics import NO_METRICS, KafkaMetrics
from ringex.kafka.partitioning import partition_for
from ringex.kafka.resume import read_resume_seqs
from ringex.records import EVENT_DTYPE, EventKind
from ringex.wire.frames import encode_event_frame

__all__ = ["run_kafka_publisher", "PublisherStats", "transactional_id_for",
           "transactional_ids_for"]

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


def run_kafka_publisher(kafka: KafkaSettings, outbound_ring_name: str, slot: int, registry, *,
                        should_stop: Callable[[], bool], metrics: KafkaMetrics | None = None,
                        depends_on: Sequence[int] = (), max_batch: int = 4096,
                        linger_ms: float = 2, wait_timeout: float = 0.1,
                        client_id: str = "ringex-publisher",
                        transactional_id: str | None = None) -> PublisherStats:
    """Run until ``should_stop()`` (or the ring is drained/halted); returns what it did.

    ``transactional_id`` defaults to :func:`transactional_id_for` the settings; the producers'
    ids derive from it (:func:`transactional_ids_for`). Two publishers with the same id fence
    each other: give each deployment (each engine instance) its own.
    """
    from ringex.ring import ALERTED, Ring

    kafka = kafka_section(kafka)
    ring = Ring.attach(outbound_ring_name, EVENT_DTYPE)
    consumer = ring.consumer(slot, depends_on)
    output = _Output(kafka, registry, metrics or NO_METRICS, linger_ms, client_id,
                     transactional_ids_for(kafka, transactional_id),
                     max_transaction_events=max(max_batch, min(1 << 16, ring.capacity // 2)))
    try:
        if not output.connect(should_stop):
            return output.stats
        while not should_stop():
            batch = consumer.wait(timeout=wait_timeout, max_batch=max_batch)
            if batch is None:
                if consumer.last_status == ALERTED:
                    break
                continue
            committed = output.publish(consumer, batch, should_stop, max_batch)
            if committed is None:
                break  # stopping before Kafka acknowledged it: the events stay in the ring
            consumer.release(committed)
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


def transactional_ids_for(kafka, base: str | None = None) -> tuple[str, ...]:
    """The ids of the publisher's ``kafka.transactional_producers`` producers, which take the
    transactions in turn: ``base`` (default :func:`transactional_id_for`), then ``base.2``.

    Every id of a deployment is fenced by its successor, so a predecessor's open transaction
    on any of them is aborted before the successor reads the topic tails.
    """
    base = base or transactional_id_for(kafka)
    count = getattr(kafka, "transactional_producers", 2)
    return (base,) + tuple(f"{base}.{n}" for n in range(2, count + 1))


class _Output:
    """The transactional producers, the partition counts and the resume seqs; rebuilt
    together.

    ``producer`` is ``producers[turn]``: the one that runs the next transaction; ``turn``
    moves on after each commit. Single writer: the publisher's one thread owns every field.
    """

    def __init__(self, kafka, registry, metrics: KafkaMetrics, linger_ms: float,
                 client_id: str, transactional_ids: Sequence[str], frame_events: int = 4096,
                 max_transaction_events: int = 1 << 16):
        from ringex.wire.json_events import events_to_json, trades_to_json

        self.kafka = kafka
        self.registry = registry
        self.metrics = metrics
        self.linger_ms = linger_ms
        self.client_id = client_id
        self.transactional_ids = tuple(transactional_ids)
        self.owned = tuple(sorted(getattr(kafka, "orders_partitions", ()) or ()))
        self.events_to_json = events_to_json
        self.trades_to_json = trades_to_json
        self.frames = getattr(kafka, "events_format", "json") == "frame"
        self.compression = getattr(kafka, "events_compression", "lz4")
        self.frame_events = frame_events
        self.linger_s = max(0, getattr(kafka, "transaction_linger_ms", 0)) / 1000
        idle_ms = getattr(kafka, "transaction_idle_ms", 0)
        self.idle_s = idle_ms / 1000 if idle_ms > 0 else self.linger_s
        self.max_events = max_transaction_events
        self.first_seen = 0.0  # monotonic time the open transaction's first batch was read
        self.previous_first_seen = float("-inf")  # the same, of the previous transaction
        self.keys = {pair.pair_id: pair.name.encode() for pair in registry}
        self.stats = PublisherStats()
        self.failures: list[str] = []
        self.producers: list = []
        self.turn = 0
        self.pending = [0, 0]  # events, trades produced in the open transaction

    # --- producer life ------------------------------------------------------------------

    @property
    def producer(self):
        return self.producers[self.turn]

    def connect(self, should_stop) -> bool:
        """Build the producers, fence any predecessor on every id, read the tails; False if
        stopping."""
        from confluent_kafka import KafkaException, Producer

        backoff = 0.5
        while True:
            self.producers = [Producer(transactional_producer_config(
                self.kafka.bootstrap, transactional_id, client_id=self.client_id,
                linger_ms=self.linger_ms, on_delivery=self._on_delivery,
                **{"delivery.report.only.error": True,
                   "compression.type": self.compression}))
                for transactional_id in self.transactional_ids]
            self.turn = 0
            try:
                for producer in self.producers:
                    self._init_transactions(producer, should_stop)
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
            self.producers = []
            if not _sleep(backoff, should_stop):
                return False
            backoff = min(backoff * 2, 10.0)

    @staticmethod
    def _init_transactions(producer, should_stop) -> None:
        from confluent_kafka import KafkaException

        while True:
            try:
                producer.init_transactions(10.0)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable() or err.fatal() or should_stop():
                    raise
                log.warning("init_transactions: %s; retrying", describe_error(err))

    def _read_layout(self) -> None:
        self.partitions = self._output_partitions()
        self.resume = {topic: read_resume_seqs(self.kafka.bootstrap, topic,
                                               partitions=self.owned or None)
                       for topic in self.partitions}
        self.floors = {topic: np.array([seqs.get(p, 0) for p in range(n)], dtype=np.int64)
                       for topic, n in self.partitions.items()
                       for seqs in (self.resume[topic],)}
        self.partition_table = self._partition_table()
        log.info("publisher %s resumes after %s", "+".join(self.transactional_ids),
                 self.resume)

    def _output_partitions(self, timeout: float = 30.0) -> dict[str, int]:
        """Each output topic's partition count, once every partition has a leader.

        Asking for each topic by name, until the leaders are known, gives each producer its
        topic handles with their leaders before its first transaction. Without it, the first
        message to `trades` waited inside that transaction for librdkafka to look the topic
        up (its debug log: the partition got its leader only then), longer when the topic had
        just been created.
        """
        deadline = time.monotonic() + timeout
        while True:
            partitions, leaderless = {}, []
            for producer in self.producers:
                for topic in (self.kafka.events_topic, self.kafka.trades_topic):
                    # naming the topic makes librdkafka create its handle now, with the answer
                    metadata = producer.list_topics(
                        topic, timeout=max(1.0, deadline - time.monotonic()))
                    described = metadata.topics.get(topic)
                    if described is None or described.error is not None \
                            or not described.partitions:
                        raise RingexError(f"output topic {topic!r} is missing; run "
                                          f"ensure_topics first")
                    partitions[topic] = len(described.partitions)
                    leaderless += [f"{topic}[{p}]" for p, part in described.partitions.items()
                                   if part.leader < 0]
            if not leaderless:
                return partitions
            if time.monotonic() >= deadline:
                raise TimeoutError(f"output partitions without a leader: {leaderless}")
            time.sleep(0.05)

    def _partition_table(self) -> np.ndarray:
        """Row ``pair_id``: (events partition, trades partition); the last row is for events
        of no known pair. -1: a pair of another scale-out instance (an error if it occurs)."""
        pair_ids = [pair.pair_id for pair in self.registry]
        table = np.zeros((max(pair_ids, default=-1) + 2, 2), dtype=np.int64)
        topics = (self.kafka.events_topic, self.kafka.trades_topic)
        table[-1] = [self._partition_of(None, topic) for topic in topics]
        for pair_id in range(table.shape[0] - 1):
            key = self.keys.get(pair_id)
            if key is None:
                table[pair_id] = table[-1]
                continue
            for column, topic in enumerate(topics):
                try:
                    table[pair_id, column] = self._partition_of(key, topic)
                except RingexError:
                    table[pair_id, column] = -1
        return table

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

    def publish(self, consumer, batch, should_stop, max_batch: int):
        """Send ``batch`` and what follows it within the transaction linger in one transaction.

        Returns the ``Batch`` range that committed (to release), or None if stopping first.
        After an abort, the same range is sent again (and may grow again).
        """
        from confluent_kafka import KafkaException

        from ringex.ring import Batch

        low, high = batch.low, batch.high
        backoff = 0.5
        while True:
            try:
                self.pending = [0, 0]
                self.first_seen = time.monotonic()
                self.producer.begin_transaction()
                for view in consumer.views(low, high):
                    self._send(view)
                high = self._extend(consumer, low, high, max_batch)
                if not self._commit(should_stop):
                    return None
                self._count_committed()
                # the next transaction goes to the producer whose id has no markers in flight
                self.turn = (self.turn + 1) % len(self.producers)
                return Batch(low, high, None)
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
                        return None
                elif err.retriable() and not err.fatal():
                    log.warning("retriable error outside a commit (%s); retrying", cause)
                    if not self._abort(should_stop):
                        return None
                else:
                    log.error("fatal producer error (%s); rebuilding the producers and "
                              "resuming from the topics' tails in %.1fs", cause, backoff)
                    self.stats.rebuilds += 1
                    self.metrics.error("fatal")
                    self.producers = []
                    if not _sleep(backoff, should_stop) or not self.connect(should_stop):
                        return None
            if not _sleep(backoff, should_stop):
                return None
            backoff = min(backoff * 2, 10.0)

    def _extend(self, consumer, low: int, high: int, max_batch: int) -> int:
        """Add the events that arrive within ``transaction_linger_ms`` of the first one (at
        most ``max_transaction_events`` in all) to the open transaction; the new high.

        Why: a commit costs the broker a transaction marker per partition and a write to its
        transaction log, whatever the transaction holds. One commit per ring batch made the
        broker the busiest process of a 20K orders/s run; a bounded linger caps commits at
        ``1000 / transaction_linger_ms`` per second and adds at most that much latency. When
        no batch comes for ``transaction_idle_ms`` the transaction commits at once, if the
        previous one began at least a linger earlier (so the cap still holds): sparse or
        bursty input does not wait out a linger that nothing will share.
        """
        if self.linger_s <= 0:
            return high
        deadline = self.first_seen + self.linger_s
        # A lull (no batch for transaction_idle_ms) ends the transaction early, but only when
        # the previous one began a whole linger ago: the cap on commits per second holds.
        idle_s = self.idle_s if self.first_seen - self.previous_first_seen >= self.linger_s \
            else self.linger_s
        self.previous_first_seen = self.first_seen
        while high - low + 1 < self.max_events:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = consumer.wait(timeout=min(left, idle_s), after=high,
                                 max_batch=min(max_batch, self.max_events - (high - low + 1)))
            if more is None:
                break
            for view in more.views:
                self._send(view)
            high = more.high
        return high

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
        """Produce one view of a ring batch: the events above each partition's resume seq."""
        if events.shape[0] == 0:
            return
        events_topic, trades_topic = self.kafka.events_topic, self.kafka.trades_topic
        seqs = events["seq"]
        event_parts, trade_parts = self._partitions(events["pair_id"])
        fresh = seqs > self.floors[events_topic][event_parts]
        trades = events["kind"] == _TRADE
        fresh_trades = trades & (seqs > self.floors[trades_topic][trade_parts])
        skipped = int(events.shape[0] - fresh.sum() + trades.sum() - fresh_trades.sum())
        if skipped:
            self.stats.skipped += skipped
            self.metrics.inc("skipped", skipped)
        if self.frames:
            self.pending[0] += self._produce_frames(events_topic, events, fresh, event_parts)
            self.pending[1] += self._produce_frames(trades_topic, events, fresh_trades,
                                                    trade_parts)
        else:
            self.pending[0] += self._produce_json(events_topic, events[fresh],
                                                  event_parts[fresh], self.events_to_json)
            self.pending[1] += self._produce_json(trades_topic, events[fresh_trades],
                                                  trade_parts[fresh_trades], self.trades_to_json)
        self.stats.last_seq = max(self.stats.last_seq, int(seqs[-1]))
        self.producer.poll(0)

    def _partitions(self, pair_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each event's partition of `order-events` and of `trades`, from its pair id."""
        table = self.partition_table
        known = (pair_ids >= 0) & (pair_ids < table.shape[0])
        rows = np.where(known, pair_ids, table.shape[0] - 1)  # the last row: no known pair
        events, trades = table[rows, 0], table[rows, 1]
        if (events < 0).any() or (trades < 0).any():  # raises, naming the pair and partition
            pair_id = int(pair_ids[np.flatnonzero((events < 0) | (trades < 0))[0]])
            for topic in (self.kafka.events_topic, self.kafka.trades_topic):
                self._partition_of(self.keys[pair_id], topic)
        return events, trades

    def _produce_json(self, topic: str, events: np.ndarray, partitions: np.ndarray,
                      encode) -> int:
        if events.shape[0] == 0:
            return 0
        keys = self.keys
        produce = self.producer.produce
        for payload, pair_id, partition in zip(encode(events, self.registry),
                                                events["pair_id"].tolist(),
                                                partitions.tolist()):
            try:
                produce(topic, payload, keys.get(pair_id), partition)
            except BufferError:
                self._produce_when_room(topic, payload, keys.get(pair_id), partition)
        return int(events.shape[0])

    def _produce_frames(self, topic: str, events: np.ndarray, chosen: np.ndarray,
                        partitions: np.ndarray) -> int:
        """One event frame per partition (per ``frame_events`` events), in seq order."""
        if not chosen.any():
            return 0
        events, partitions = events[chosen], partitions[chosen]
        if partitions[0] == partitions[-1] and (partitions == partitions[0]).all():
            groups = [(int(partitions[0]), events)]
        else:
            order = np.argsort(partitions, kind="stable")  # stable: seq order within each
            events, partitions = events[order], partitions[order]
            cuts = np.flatnonzero(np.diff(partitions)) + 1
            groups = [(int(part[0]), group) for part, group in
                      zip(np.split(partitions, cuts), np.split(events, cuts))]
        step = self.frame_events
        for partition, group in groups:
            for low in range(0, group.shape[0], step):
                payload = encode_event_frame(group[low:low + step])
                try:
                    self.producer.produce(topic, payload, None, partition)
                except BufferError:
                    self._produce_when_room(topic, payload, None, partition)
        return int(events.shape[0])

    def _produce_when_room(self, topic: str, payload: bytes, key, partition: int) -> None:
        while True:  # the local queue is full: serve delivery reports, retry
            self.producer.poll(0.05)
            try:
                self.producer.produce(topic, payload, key, partition)
                return
            except BufferError:
                continue

    def _on_delivery(self, err, message) -> None:
        if err is not None and len(self.failures) < 10:  # the cause, for the abort's log line
            self.failures.append(f"{message.topic()}/{message.partition()}: "
                                 f"{describe_error(err)}")

    def close(self) -> None:
        # An open transaction is abandoned on purpose: its batch was not released, and the
        # next publisher's init_transactions aborts it.
        for producer in self.producers:
            producer.flush(1.0)
        self.producers = []


def _sleep(seconds: float, should_stop) -> bool:
    """Sleep in small steps; False as soon as ``should_stop()``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if should_stop():
            return False
        time.sleep(0.05)
    return True
