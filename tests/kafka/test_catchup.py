"""Catch-up reads of `order-events` against the real broker (``ringex.kafka.catchup``).

Forbidden outcomes: a seq of ``(after, upto]`` missing or doubled in the result, a seq
outside it, chunks out of order or larger than ``chunk``, a hole in the topic that does not
raise, and a start found by reading a partition from its beginning.
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
from ringex.kafka.catchup import CatchupStats, read_events_between
from ringex.kafka.clients import transactional_producer_config
from ringex.kafka.publisher import transactional_id_for
from ringex.records import EVENT_DTYPE
from ringex.wire.frames import encode_event_frame
from ringex.wire.json_events import events_to_json
from test_publisher import order_flow, outbound_ring, publish_all  # noqa: F401

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]


def read(settings_or_bootstrap, topic, registry, after, upto, **kwargs):
    bootstrap = getattr(settings_or_bootstrap, "bootstrap", settings_or_bootstrap)
    chunks = list(read_events_between(bootstrap, topic, registry, after, upto, **kwargs))
    chunk = kwargs.get("chunk", 65536)
    assert all(0 < len(c) <= chunk and c.dtype == EVENT_DTYPE for c in chunks)
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=EVENT_DTYPE)


def expect(got, events, after, upto):
    wanted = events[(events["seq"] > after) & (events["seq"] <= upto)]
    assert got["seq"].tolist() == list(range(after + 1, upto + 1))
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

    for after, upto in [(0, n), (0, 1), (n - 1, n), (mid - 5, mid + 5), (17, n - 23),
                        (mid, n), (0, mid)]:
        expect(read(settings, topic, registry, after, upto), both, after, upto)
    # Tiny chunks: many yields, each at most `chunk` events, still in order.
    stats_small = CatchupStats()
    got = read(settings, topic, registry, 3, n - 3, chunk=5, stats=stats_small)
    expect(got, both, 3, n - 3)
    assert stats_small.events == n - 6
    for after, upto in [(5, 5), (n, n), (40, 3)]:  # nothing to read, nothing yielded
        assert read(settings, topic, registry, after, upto).shape[0] == 0
    with pytest.raises(RingexError, match=f"seq {n + 1} is missing"):
        read(settings, topic, registry, n - 10, n + 1)  # upto not in the topic: never partial


def holes_topic(seqs, partitions=3, start_partition=0):
    return [(json.dumps({"seq": s, "kind": "ACCEPTED", "pair": "BTC-USDT",
                         "pair_id": 0}).encode(), None, None,
             start_partition + s % partitions) for s in seqs]


def test_a_missing_seq_raises_naming_it(kafka_bootstrap, kafka_topics, registry):
    topic = kafka_topics(3, prefix="events")
    produce(kafka_bootstrap, topic, holes_topic([s for s in range(1, 101)
                                                               if s != 37]))
    with pytest.raises(RingexError, match="seq 37 is missing"):
        read(kafka_bootstrap, topic, registry, 0, 100)
    with pytest.raises(RingexError, match="seq 37 is missing"):
        read(kafka_bootstrap, topic, registry, 36, 37)
    assert read(kafka_bootstrap, topic, registry, 0, 36)["seq"].tolist() == list(range(1, 37))
    assert read(kafka_bootstrap, topic, registry, 37, 100)["seq"].tolist() == \
        list(range(38, 101))

    truncated = kafka_topics(3, prefix="events")  # as if retention deleted seq 1..9
    produce(kafka_bootstrap, truncated, holes_topic(range(10, 60)))
    with pytest.raises(RingexError, match="seq 1 is missing"):
        read(kafka_bootstrap, truncated, registry, 0, 59)
    with pytest.raises(RingexError, match="seq 9 is missing"):
        read(kafka_bootstrap, truncated, registry, 8, 20)
    assert read(kafka_bootstrap, truncated, registry, 9, 20)["seq"].tolist() == \
        list(range(10, 21))

    empty = kafka_topics(3, prefix="events")
    with pytest.raises(RingexError, match="seq 1 is missing"):
        read(kafka_bootstrap, empty, registry, 0, 5)


def test_a_doubled_seq_raises(kafka_bootstrap, kafka_topics, registry):
    topic = kafka_topics(3, prefix="events")
    messages = holes_topic(range(1, 31))
    # Seq 12 again in partition 1, where it still ascends: only the merge can see it.
    messages.insert(12, (json.dumps({"seq": 12}).encode(), None, None, 1))
    produce(kafka_bootstrap, topic, messages)
    with pytest.raises(RingexError, match="seq 12 appears more than once"):
        read(kafka_bootstrap, topic, registry, 0, 30)


def test_partitions_read_one_instances_seq_space(kafka_bootstrap, kafka_topics, registry):
    """Partitions 0-1 hold instance A's seqs 1..200, 2-3 instance B's 1..300."""
    topic = kafka_topics(4, prefix="events")
    produce(kafka_bootstrap, topic,
            holes_topic(range(1, 201), partitions=2)
            + holes_topic(range(1, 301), partitions=2, start_partition=2))
    assert read(kafka_bootstrap, topic, registry, 0, 200, partitions=(0, 1))["seq"].tolist() \
        == list(range(1, 201))
    assert read(kafka_bootstrap, topic, registry, 150, 300,
                partitions=(3, 2), chunk=16)["seq"].tolist() == list(range(151, 301))
    with pytest.raises(RingexError, match="seq 201 is missing"):
        read(kafka_bootstrap, topic, registry, 190, 250, partitions=(0, 1))
    with pytest.raises(RingexError, match="appears more than once"):  # two seq spaces
        read(kafka_bootstrap, topic, registry, 0, 200)
    with pytest.raises(RingexError, match=r"partitions \[7\] do not exist"):
        read(kafka_bootstrap, topic, registry, 0, 200, partitions=(0, 7))


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
        got = read(kafka_bootstrap, topic, registry, after, after + 100, stats=stats)
        elapsed = time.monotonic() - started
        assert got["seq"].tolist() == list(range(after + 1, after + 101))
        # Right after the committed message of seq `after` (a marker or the aborted block
        # may follow it: reading from there returns seq after + 1 all the same).
        assert stats.starts == {0: offset_of(after) + 1}
        assert stats.probe_rounds <= 17  # log2(52,100 offsets) rounds, one message each
        assert stats.probed <= 2 * stats.probe_rounds  # about one message a probe
        assert stats.read <= 10_001  # one consume call's worth at most, not the 50K
        assert elapsed < 10
    # The very end and past it.
    assert read(kafka_bootstrap, topic, registry, 49_999, 50_000)["seq"].tolist() == [50_000]
    assert read(kafka_bootstrap, topic, registry, 49_990, 50_000, chunk=3).shape[0] == 10
    with pytest.raises(RingexError, match="seq 50001 is missing"):
        read(kafka_bootstrap, topic, registry, 50_000, 50_001)
