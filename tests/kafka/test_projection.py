"""The Redis projection's reads of `order-events` against the real broker
(``ringex.recovery.rebuild.Projection``, ``ringex.kafka.catchup.start_offsets``).

Forbidden outcomes: an event past the store's ``last_seq`` missing or doubled in what the store
is handed, an event at or below it handed again, events handed out of ``seq`` order or past
a gap while the gap may still fill, a gap or a doubled seq not counted, and a start found by
reading a partition from its beginning.
"""

from __future__ import annotations

import json
import time
import zlib

import confluent_kafka
import numpy as np
import pytest

from kafka_io import produce, wait_until
from ringex.engine import MatchingEngine
from ringex.errors import RingexError
from ringex.kafka import run_kafka_publisher
from ringex.kafka.catchup import CatchupStats, start_offsets
from ringex.kafka.clients import transactional_producer_config
from ringex.kafka.publisher import transactional_id_for
from ringex.records import EVENT_DTYPE
from ringex.recovery.rebuild import Projection
from ringex.wire.frames import encode_event_frame
from ringex.wire.json_events import events_to_json
from test_publisher import order_flow, outbound_ring, publish_all  # noqa: F401

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]


class ListStore:
    """Keeps what the projection hands over; starts at ``after`` as a store would."""

    def __init__(self, after: int):
        self.after = after
        self.parts: list[np.ndarray] = []

    def last_seq(self) -> int:
        return int(self.parts[-1]["seq"][-1]) if self.parts else self.after

    def apply(self, events: np.ndarray) -> None:
        assert events.dtype == EVENT_DTYPE and events.shape[0]
        self.parts.append(events.copy())

    def events(self) -> np.ndarray:
        got = np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=EVENT_DTYPE)
        assert (np.diff(got["seq"]) > 0).all() and (got["seq"] > self.after).all()
        return got


def read(settings_or_bootstrap, topic, registry, after, **kwargs):
    """Everything past ``after``, as ``ringex rebuild-redis`` reads it; (events, projection)."""
    bootstrap = getattr(settings_or_bootstrap, "bootstrap", settings_or_bootstrap)
    store = ListStore(after)
    projection = Projection(bootstrap, topic, registry, store, **kwargs)
    try:
        projection.run_to_end(timeout=60)
    finally:
        projection.close()
    return store.events(), projection


def follow(bootstrap, topic, registry, after, seconds=3.0, **kwargs):
    """What the live market-data loop hands over within ``seconds`` of polling."""
    store = ListStore(after)
    projection = Projection(bootstrap, topic, registry, store, **kwargs)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            projection.poll(0.1)
    finally:
        projection.close()
    return store.events(), projection


def expect(got, events, after):
    wanted = events[events["seq"] > after]
    assert got["seq"].tolist() == list(range(after + 1, int(events["seq"].max()) + 1))
    assert got.tobytes() == wanted.tobytes()  # exactly, field by field


def zombie_writes(settings, registry, events, frames: bool) -> None:
    """A predecessor killed mid-transaction: its messages (doubling seqs already published)
    stay in the log, aborted when the next publisher starts."""
    zombie = confluent_kafka.Producer(transactional_producer_config(
        settings.bootstrap, transactional_id_for(settings), client_id="test-zombie"))
    zombie.init_transactions(30)
    zombie.begin_transaction()
    for partition in range(3):
        if frames:
            payloads = [encode_event_frame(events[i:i + 7]) for i in range(0, 60, 7)]
        else:
            payloads = events_to_json(events[:60], registry)
        for payload in payloads:
            zombie.produce(settings.events_topic, payload, partition=partition)
    assert zombie.flush(30) == 0


@pytest.mark.parametrize("events_format", ["json", "frame"])
def test_exact_ranges_over_two_publisher_runs_with_an_aborted_transaction_between(
        kafka_settings, registry, outbound_ring, run_in_thread, events_format):
    settings = kafka_settings(output_partitions=3, events_format=events_format)
    engine = MatchingEngine(registry.pairs)
    first = engine.process(order_flow(1, 300, seed=11))
    second = engine.process(order_flow(10_001, 300, seed=12))
    both = np.concatenate([first, second])
    publish_all(run_in_thread, settings, outbound_ring(), registry, first)
    zombie_writes(settings, registry, first, frames=events_format == "frame")
    # Small ring writes: many transactions, so commit markers between the messages.
    ring = outbound_ring()
    publisher = run_in_thread(run_kafka_publisher, settings, ring.name, 0, registry)
    writer = ring.producer()
    for piece in np.array_split(both, 20):  # one transaction each: released before the next
        writer.write(piece)
        wait_until(lambda: ring.consumer_sequence(0) >= ring.cursor or publisher.error, 30,
                   "the publisher to release a piece")
    stats = publisher.stop()
    assert stats.events == len(second) and stats.batches > 5
    n, mid = len(both), len(first)
    topic = settings.events_topic

    for after in (0, 1, n - 1, mid - 5, 17, mid):
        got, projection = read(settings, topic, registry, after)
        expect(got, both, after)
        assert projection.gaps == projection.duplicated == 0
    assert read(settings, topic, registry, n)[0].shape[0] == 0  # nothing past the end
    got, _ = follow(settings.bootstrap, topic, registry, mid - 5)  # the live loop: the same
    expect(got, both, mid - 5)


def holes_topic(seqs, partitions=3, start_partition=0):
    return [(json.dumps({"seq": s, "kind": "ACCEPTED", "pair": "BTC-USDT",
                         "pair_id": 0}).encode(), None, None,
             start_partition + s % partitions) for s in seqs]


def test_a_gap_holds_what_follows_it_live_and_is_counted_by_a_rebuild(
        kafka_bootstrap, kafka_topics, registry):
    topic = kafka_topics(3, prefix="events")
    produce(kafka_bootstrap, topic, holes_topic([s for s in range(1, 101) if s != 37]))
    got, projection = follow(kafka_bootstrap, topic, registry, 0)
    assert got["seq"].tolist() == list(range(1, 37))  # 38.. wait for 37: never out of order
    assert projection.held["seq"].tolist() == list(range(38, 101))
    got, projection = follow(kafka_bootstrap, topic, registry, 0, gap_timeout=0.5)
    assert got["seq"].tolist() == [s for s in range(1, 101) if s != 37]  # logged, skipped
    assert projection.skipped == 1
    got, projection = read(kafka_bootstrap, topic, registry, 0)
    assert got["seq"].tolist() == [s for s in range(1, 101) if s != 37]
    assert projection.gaps == 1 and projection.skipped == 1
    got, projection = read(kafka_bootstrap, topic, registry, 37)
    assert got["seq"].tolist() == list(range(38, 101)) and projection.gaps == 0

    truncated = kafka_topics(3, prefix="events")  # as if retention deleted seq 1..9
    produce(kafka_bootstrap, truncated, holes_topic(range(10, 60)))
    assert follow(kafka_bootstrap, truncated, registry, 0, seconds=1.5)[0].shape[0] == 0
    got, projection = read(kafka_bootstrap, truncated, registry, 0)
    assert got["seq"].tolist() == list(range(10, 60)) and projection.gaps == 1
    got, projection = read(kafka_bootstrap, truncated, registry, 9)
    assert got["seq"].tolist() == list(range(10, 60)) and projection.gaps == 0

    empty = kafka_topics(3, prefix="events")
    assert read(kafka_bootstrap, empty, registry, 0)[0].shape[0] == 0


def test_a_doubled_seq_is_handed_over_once_and_counted(kafka_bootstrap, kafka_topics,
                                                        registry):
    topic = kafka_topics(3, prefix="events")
    messages = holes_topic(range(1, 31))
    # Seq 12 again in partition 1, where it still ascends: only the merge can see it.
    messages.insert(12, (json.dumps({"seq": 12}).encode(), None, None, 1))
    produce(kafka_bootstrap, topic, messages)
    got, projection = read(kafka_bootstrap, topic, registry, 0)
    assert got["seq"].tolist() == list(range(1, 31)) and projection.duplicated == 1


def test_partitions_read_one_instances_seq_space(kafka_bootstrap, kafka_topics, registry):
    """Partitions 0-1 hold instance A's seqs 1..200, 2-3 instance B's 1..300."""
    topic = kafka_topics(4, prefix="events")
    produce(kafka_bootstrap, topic,
            holes_topic(range(1, 201), partitions=2)
            + holes_topic(range(1, 301), partitions=2, start_partition=2))
    got, projection = read(kafka_bootstrap, topic, registry, 0, partitions=(0, 1))
    assert got["seq"].tolist() == list(range(1, 201)) and projection.duplicated == 0
    got, _ = read(kafka_bootstrap, topic, registry, 150, partitions=(3, 2))
    assert got["seq"].tolist() == list(range(151, 301))
    got, _ = read(kafka_bootstrap, topic, registry, 0)  # two seq spaces: each seq once
    assert got["seq"].tolist() == list(range(1, 301))
    with pytest.raises(RingexError, match=r"partitions \[7\] do not exist"):
        read(kafka_bootstrap, topic, registry, 0, partitions=(0, 7))


def test_the_start_is_found_by_bisection_across_markers_and_aborted_messages(
        kafka_bootstrap, kafka_topics, registry):
    """One partition of 50K committed messages in transactions of 500 (a marker after each),
    with an aborted transaction of 2,000 bogus messages in the middle: a read of 100 events
    there probes a few dozen messages and reads a small part of the partition."""
    topic = kafka_topics(1, prefix="events")
    producer = confluent_kafka.Producer(transactional_producer_config(
        kafka_bootstrap, f"test-catchup-{topic}", client_id="test-catchup"))
    producer.init_transactions(30)
    seq = 0
    for batch in range(100):
        if batch == 60:
            producer.begin_transaction()
            for _ in range(2000):  # would double seq 1 if it were read
                producer.produce(topic, b'{"seq":1}', partition=0)
            assert producer.flush(30) == 0
            producer.abort_transaction(30)
        producer.begin_transaction()
        for _ in range(500):
            seq += 1
            producer.produce(topic, b'{"seq":%d}' % seq, partition=0)
        producer.commit_transaction(30)
    assert seq == 50_000

    def offset_of(s: int) -> int:  # 501 offsets a transaction; 2,001 more from batch 60
        batch = (s - 1) // 500
        return (s - 1) + batch + (2001 if batch >= 60 else 0)

    for after in (29_999, 30_000, 30_001, 29_500):  # at, around and across the aborted block
        stats = CatchupStats()
        started = time.monotonic()
        starts = start_offsets(kafka_bootstrap, topic, after, stats=stats)
        elapsed = time.monotonic() - started
        # Right after the committed message of seq `after` (a marker or the aborted block
        # may follow it: reading from there returns seq after + 1 all the same).
        assert starts == stats.starts == {0: offset_of(after) + 1}
        assert stats.probe_rounds <= 17  # log2(52,100 offsets) rounds, one message each
        assert stats.probed <= 2 * stats.probe_rounds  # about one message a probe
        assert elapsed < 10
    # The very end, past it, and a read from there.
    assert start_offsets(kafka_bootstrap, topic, 50_000) == {0: offset_of(50_000) + 1}
    got, projection = read(kafka_bootstrap, topic, registry, 49_990)
    assert got["seq"].tolist() == list(range(49_991, 50_001))
    assert projection.read <= 10  # from its start, not the whole partition
