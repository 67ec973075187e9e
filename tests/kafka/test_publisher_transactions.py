"""The publisher's transactions against the real broker: a zombie predecessor is fenced and its
open transaction never becomes visible; the abort-and-rewind and fatal (rebuild) error classes
each end with every event exactly once in `order-events` and `trades` (read_committed).

The fatal error is the real one (``PRODUCER_FENCED`` from a second producer with the same
``transactional.id``). The abortable error is injected once into ``commit_transaction`` after
the batch really reached the broker, so the real ``abort_transaction`` runs on real messages.
"""

from __future__ import annotations

import dataclasses
import json
import time

import confluent_kafka
import numpy as np
import pytest
from confluent_kafka import KafkaError, KafkaException

from tests.kafka.kafka_io import wait_until
from ringex.engine import MatchingEngine
from ringex.kafka import run_kafka_publisher
from ringex.kafka.clients import transactional_producer_config
from ringex.kafka.publisher import transactional_id_for, transactional_ids_for
from ringex.records import EventKind
from ringex.wire.json_events import events_to_json
from tests.kafka.test_publisher import check_topics
from tests.kafka.test_publisher import order_flow, outbound_ring, publish_all  # noqa: F401

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(90)]


def raw_producer(settings, transactional_id=None):
    return confluent_kafka.Producer(transactional_producer_config(
        settings.bootstrap, transactional_id or transactional_id_for(settings),
        client_id="test-zombie"))


def read_uncommitted(settings, topic):
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.bootstrap, "group.id": "uncommitted",
                         "isolation.level": "read_uncommitted", "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, -2) for p in partitions])
        values, ended = [], set()
        deadline = time.monotonic() + 30
        while len(ended) < len(partitions):
            assert time.monotonic() < deadline, f"{topic}: partitions not read to their end"
            for message in consumer.consume(1000, timeout=0.5):
                if message.error() is None:
                    values.append(message.value())
                elif message.error().code() == KafkaError._PARTITION_EOF:
                    ended.add(message.partition())
        return values
    finally:
        consumer.close()


@pytest.mark.parametrize("producer", [0, 1], ids=["first-id", "second-id"])
def test_a_zombie_transaction_is_aborted_and_fenced(kafka_settings, registry, outbound_ring,
                                                    run_in_thread, producer):
    settings = kafka_settings(output_partitions=3)
    events = MatchingEngine(registry.pairs).process(order_flow(1, 200, seed=5))
    # The predecessor was killed mid-transaction, on either of its producers: its messages
    # are in the log, uncommitted.
    zombie = raw_producer(settings, transactional_ids_for(settings)[producer])
    zombie.init_transactions(30)
    zombie.begin_transaction()
    for payload in events_to_json(events[:50], registry):
        zombie.produce(settings.events_topic, payload, partition=0)
    assert zombie.flush(30) == 0

    stats = publish_all(run_in_thread, settings, outbound_ring(), registry, events)
    assert stats.events == len(events) and stats.skipped == 0
    check_topics(settings, registry, events)  # read_committed: each seq exactly once
    assert len(read_uncommitted(settings, settings.events_topic)) >= len(events) + 50

    with pytest.raises(KafkaException) as raised:  # the zombie can no longer commit
        zombie.commit_transaction(30)
    assert raised.value.args[0].fatal() or raised.value.args[0].txn_requires_abort()


def test_a_fenced_publisher_rebuilds_and_resumes_exactly(kafka_settings, registry,
                                                         outbound_ring, run_in_thread):
    settings = kafka_settings(output_partitions=3)
    engine = MatchingEngine(registry.pairs)
    first = engine.process(order_flow(1, 200, seed=6))
    second = engine.process(order_flow(10_001, 200, seed=7))
    ring = outbound_ring()
    writer = ring.producer()
    writer.write(first)
    publisher = run_in_thread(run_kafka_publisher, settings, ring.name, 0, registry)
    wait_until(lambda: ring.consumer_sequence(0) >= ring.cursor or publisher.error, 30,
               "the first batch to be released")

    intruders = [raw_producer(settings, transactional_id)  # a successor fences every id
                 for transactional_id in transactional_ids_for(settings)]
    for intruder in intruders:  # the running publisher's next commit is fatal
        intruder.init_transactions(30)

    writer.write(second)
    wait_until(lambda: ring.consumer_sequence(0) >= ring.cursor or publisher.error, 60,
               "the second batch to be released after a rebuild")
    stats = publisher.stop()
    assert stats.rebuilds >= 1
    assert stats.events == len(first) + len(second)
    check_topics(settings, registry, np.concatenate([first, second]))


def test_an_abortable_error_aborts_and_resends_the_batch(kafka_settings, registry,
                                                         outbound_ring, run_in_thread,
                                                         monkeypatch):
    settings = kafka_settings(output_partitions=3)
    events = MatchingEngine(registry.pairs).process(order_flow(1, 200, seed=8))
    n_trades = int((events["kind"] == EventKind.TRADE).sum())
    injected = []

    class FailsOneCommit(confluent_kafka.Producer):
        def commit_transaction(self, *args):
            if not injected:
                assert self.flush(30) == 0  # the batch is really in the log, uncommitted
                injected.append(True)
                raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT, "injected",
                                                txn_requires_abort=True))
            return super().commit_transaction(*args)

    monkeypatch.setattr(confluent_kafka, "Producer", FailsOneCommit)
    stats = publish_all(run_in_thread, settings, outbound_ring(), registry, events)
    assert injected and stats.aborts == 1 and stats.rebuilds == 0
    assert stats.events == len(events) and stats.trades == n_trades
    check_topics(settings, registry, events)
    # The aborted first attempt is in the log, hidden from read_committed readers.
    seqs = [json.loads(v)["seq"] for v in read_uncommitted(settings, settings.events_topic)]
    assert len(seqs) == 2 * len(events) and sorted(set(seqs)) == events["seq"].tolist()


def test_the_tail_is_read_while_a_writer_keeps_committing(kafka_settings):
    """A busy publisher always has a transaction open, so the end-of-partition signal never
    comes; the read stops at the high watermark it saw first (the kill soak timed out here)."""
    import threading

    from ringex.kafka.resume import read_resume_seqs

    settings = kafka_settings(output_partitions=3)
    stop = threading.Event()
    written = [0]

    def write() -> None:
        producer = raw_producer(settings)
        producer.init_transactions(30)
        seq = 0
        while not stop.is_set() and seq < 2_000_000:
            producer.begin_transaction()
            for _ in range(500):
                seq += 1
                producer.produce(settings.events_topic, b'{"seq":%d}' % seq, partition=seq % 3)
            producer.commit_transaction(30)
            written[0] = seq

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        wait_until(lambda: written[0] >= 5_000, 30, "the writer to commit")
        for _ in range(3):
            floor = written[0]
            started = time.monotonic()
            seqs = read_resume_seqs(settings.bootstrap, settings.events_topic, timeout=20)
            assert time.monotonic() - started < 10
            assert min(seqs.values()) >= floor - 3  # each partition at or past the floor
    finally:
        stop.set()
        writer.join(30)


@pytest.mark.parametrize("producers", [2, 1])
def test_the_producers_take_the_transactions_in_turn(kafka_settings, registry, outbound_ring,
                                                     run_in_thread, monkeypatch, producers):
    """With two producers, consecutive transactions alternate (so none starts while its id's
    previous commit markers are still being written); the output is the same either way."""
    settings = dataclasses.replace(kafka_settings(output_partitions=3),
                                   transactional_producers=producers)
    engine = MatchingEngine(registry.pairs)
    batches = [engine.process(order_flow(1 + 10_000 * n, 60, seed=20 + n)) for n in range(6)]
    committed_by = []

    class RecordsCommits(confluent_kafka.Producer):
        def commit_transaction(self, *args):
            super().commit_transaction(*args)
            committed_by.append(id(self))

    monkeypatch.setattr(confluent_kafka, "Producer", RecordsCommits)
    ring = outbound_ring()
    writer = ring.producer()
    publisher = run_in_thread(run_kafka_publisher, settings, ring.name, 0, registry)
    for batch in batches:  # one ring batch (linger 0: one transaction) at a time
        writer.write(batch)
        wait_until(lambda: ring.consumer_sequence(0) >= ring.cursor or publisher.error, 30,
                   "the batch to be released")
    stats = publisher.stop()
    assert stats.rebuilds == 0 and stats.aborts == 0
    assert len(committed_by) == len(batches)
    assert len(set(committed_by)) == producers
    assert all(a != b for a, b in zip(committed_by, committed_by[1:])) or producers == 1
    check_topics(settings, registry, np.concatenate(batches))
