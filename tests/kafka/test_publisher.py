"""The Kafka publisher against the real broker: content, order, keys, and no duplicate after a
restart that sees already-published events again.

Forbidden outcomes: a missing or doubled ``seq`` in `order-events`, a trade missing from
`trades`, a pair's events out of ``seq`` order, a message keyed or partitioned by anything
but its pair.
"""

from __future__ import annotations

import json
import time
import zlib

import numpy as np
import pytest

from tests.kafka.kafka_io import read_topic, wait_until
from ringex import commands as cmd
from ringex.engine import MatchingEngine
from ringex.kafka import run_kafka_publisher
from ringex.kafka.resume import read_resume_seqs
from ringex.records import EVENT_DTYPE, EventKind, Side
from ringex.ring import Ring
from ringex.wire.frames import decode_event_frame, is_event_frame

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(60)]


def order_flow(first_id: int, count: int, seed: int) -> np.ndarray:
    """Crossing limit orders on BTC-USDT and ETH-USDT around a fixed mid."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        pair = int(rng.integers(0, 2))
        mid = 6_500_000 if pair == 0 else 300_000
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        price = mid + int(rng.integers(-5, 6))
        rows.append(cmd.new(first_id + index, int(rng.integers(1, 6)), side, price,
                            int(rng.integers(1, 50)), pair=pair, ts=(first_id + index) * 10**6))
    return cmd.pack(rows)


@pytest.fixture
def outbound_ring():
    rings = []

    def make(capacity: int = 1 << 12) -> Ring:
        ring = Ring.create(EVENT_DTYPE, capacity, consumers=1, purpose="test-outbound")
        rings.append(ring)
        return ring

    yield make
    for ring in rings:
        ring.unlink()
        ring.close()


def publish_all(run_in_thread, settings, ring, registry, events, timeout=30.0):
    ring.producer().write(events)
    publisher = run_in_thread(run_kafka_publisher, settings, ring.name, 0, registry)
    last = ring.cursor
    wait_until(lambda: ring.consumer_sequence(0) >= last or publisher.error, timeout,
               "the publisher to release every event")
    return publisher.stop()


def check_topics(settings, registry, events):
    names = {pair.pair_id: pair.name for pair in registry}
    published = read_topic(settings.bootstrap, settings.events_topic, expect=len(events))
    seqs = [json.loads(m["value"])["seq"] for m in published]
    assert sorted(seqs) == events["seq"].tolist()  # nothing lost, nothing doubled
    by_seq = {int(e["seq"]): e for e in events}
    last_in_partition: dict[int, int] = {}
    for message, seq in zip(published, seqs):
        body = json.loads(message["value"])
        event = by_seq[seq]
        assert message["key"] == names[int(event["pair_id"])].encode()
        assert body["pair"] == names[int(event["pair_id"])]
        assert body["kind"] == EventKind(int(event["kind"])).name
        assert message["partition"] == zlib.crc32(message["key"]) % 3
        assert seq > last_in_partition.get(message["partition"], 0)  # per-pair order
        last_in_partition[message["partition"]] = seq

    trade_events = events[events["kind"] == EventKind.TRADE]
    trades = read_topic(settings.bootstrap, settings.trades_topic, expect=len(trade_events))
    bodies = sorted((json.loads(m["value"]) for m in trades), key=lambda b: b["seq"])
    assert [b["seq"] for b in bodies] == trade_events["seq"].tolist()
    for body, event in zip(bodies, trade_events):
        pair = registry.get(int(event["pair_id"]))
        assert body["maker_order_id"] == int(event["maker_order_id"])
        assert body["taker_order_id"] == int(event["order_id"])
        assert body["price"] == pair.ticks_to_price(int(event["price"]))
        assert body["amount"] == pair.lots_to_qty(int(event["trade_qty"]))
        assert body["pair"] == pair.name
        assert body["timestamp"] == int(event["timestamp_ns"]) // 10**6
    for message in trades:
        assert message["partition"] == zlib.crc32(message["key"]) % 3


def test_events_and_trades_are_published_once_in_order_across_restarts(
        kafka_settings, registry, outbound_ring, run_in_thread):
    settings = kafka_settings(output_partitions=3)
    engine = MatchingEngine(registry.pairs)
    first = engine.process(order_flow(1, 300, seed=1))
    second = engine.process(order_flow(10_001, 300, seed=2))
    assert (first["kind"] == EventKind.TRADE).sum() > 20

    stats = publish_all(run_in_thread, settings, outbound_ring(), registry, first)
    assert stats.events == len(first) and stats.skipped == 0
    check_topics(settings, registry, first)

    # A restart that sees the first events again (they were published but, after a crash,
    # never released) plus new ones: only the new ones go out.
    both = np.concatenate([first, second])
    stats = publish_all(run_in_thread, settings, outbound_ring(), registry, both)
    n_trades = int((first["kind"] == EventKind.TRADE).sum())
    assert stats.skipped == len(first) + n_trades
    assert stats.events == len(second)
    check_topics(settings, registry, both)


def test_a_crash_mid_batch_resumes_each_partition_from_its_own_tail(
        kafka_settings, registry, outbound_ring, run_in_thread):
    """Only some partitions got a batch's tail: resume by per-partition seq, not a global max."""
    settings = kafka_settings(output_partitions=3)
    events = MatchingEngine(registry.pairs).process(order_flow(1, 200, seed=3))
    btc = events[events["pair_id"] == 0]
    # Pretend the crash happened after BTC's events were acknowledged but none of ETH's:
    publish_all(run_in_thread, settings, outbound_ring(), registry, btc)
    stats = publish_all(run_in_thread, settings, outbound_ring(), registry, events)
    assert stats.events == len(events) - len(btc)
    check_topics(settings, registry, events)


def read_committed_frames(bootstrap: str, topic: str, records: int, timeout: float = 30.0):
    """The frames of ``topic`` once they hold at least ``records`` records (or at the
    timeout: ``services.read_committed`` says why a read waits)."""
    def enough(messages):
        return sum(len(decode_event_frame(m.value())) for m in messages
                   if is_event_frame(m.value())) >= records

    return read_topic(bootstrap, topic, timeout=timeout, enough=enough)


def check_frame_topics(settings, registry, events, *, frame_events: int = 4096):
    """Event frames: every event once, byte for byte, in its pair's partition, in seq order;
    `trades` the TRADE events alone; a frame never crosses partitions."""
    for topic, wanted in ((settings.events_topic, events),
                          (settings.trades_topic, events[events["kind"] == EventKind.TRADE])):
        messages = read_committed_frames(settings.bootstrap, topic, len(wanted))
        assert all(is_event_frame(m["value"]) and m["key"] is None for m in messages)
        got = []
        for message in messages:
            records = decode_event_frame(message["value"])
            assert 0 < len(records) <= frame_events
            names = [registry.get(int(p)).name.encode() for p in records["pair_id"]]
            assert {zlib.crc32(name) % 3 for name in names} == {message["partition"]}
            got.append(records)
        got = np.concatenate(got)
        for partition in range(3):  # seq order within each partition
            in_partition = got[[zlib.crc32(registry.get(int(p)).name.encode()) % 3 == partition
                                for p in got["pair_id"]]]
            assert (np.diff(in_partition["seq"]) > 0).all()
        got = got[np.argsort(got["seq"], kind="stable")]
        assert got.tobytes() == wanted.tobytes()  # nothing lost or doubled, byte for byte


def test_event_frames_are_published_once_per_partition_across_restarts(
        kafka_settings, registry, outbound_ring, run_in_thread):
    settings = kafka_settings(output_partitions=3, events_format="frame")
    engine = MatchingEngine(registry.pairs)
    first = engine.process(order_flow(1, 300, seed=1))
    second = engine.process(order_flow(10_001, 300, seed=2))
    stats = publish_all(run_in_thread, settings, outbound_ring(), registry, first)
    assert stats.events == len(first) and stats.skipped == 0
    check_frame_topics(settings, registry, first)

    # The restart sees the first events again: per event, not per frame, only the new go out,
    # even though this ring cuts its batches differently.
    both = np.concatenate([first, second])
    stats = publish_all(run_in_thread, settings, outbound_ring(), registry, both)
    assert stats.skipped == len(first) + int((first["kind"] == EventKind.TRADE).sum())
    assert stats.events == len(second)
    check_frame_topics(settings, registry, both)
    assert read_resume_seqs(settings.bootstrap, settings.events_topic) == {
        partition: int(both["seq"][[zlib.crc32(registry.get(int(p)).name.encode()) % 3
                                    == partition for p in both["pair_id"]]].max(initial=0))
        for partition in range(3)}


def test_a_transaction_takes_the_batches_arriving_within_its_linger(
        kafka_settings, registry, outbound_ring, run_in_thread):
    """Twenty writes 5 ms apart, a 200 ms linger: fewer transactions than writes, and still
    every event exactly once (a ring batch is released only with its transaction)."""
    settings = kafka_settings(output_partitions=3, events_format="frame",
                              transaction_linger_ms=200)
    events = MatchingEngine(registry.pairs).process(order_flow(1, 400, seed=5))
    ring = outbound_ring()
    publisher = run_in_thread(run_kafka_publisher, settings, ring.name, 0, registry)
    producer = ring.producer()
    for chunk in np.array_split(events, 20):
        producer.write(chunk)
        time.sleep(0.005)
    wait_until(lambda: ring.consumer_sequence(0) >= ring.cursor or publisher.error, 30,
               "the publisher to release every event")
    stats = publisher.stop()
    assert stats.events == len(events)
    assert stats.batches < 10
    check_frame_topics(settings, registry, events)


def test_a_lull_commits_before_the_linger_but_not_twice_within_one(
        kafka_settings, registry, outbound_ring, run_in_thread):
    """Linger 3 s, idle 50 ms: a lone batch is released long before the linger; a second
    batch right after it waits out the linger, so commits stay within 1 per linger."""
    settings = kafka_settings(output_partitions=3, events_format="frame",
                              transaction_linger_ms=3_000, transaction_idle_ms=50)
    events = MatchingEngine(registry.pairs).process(order_flow(1, 300, seed=6))
    warm, first, second = np.array_split(events, 3)
    ring = outbound_ring()
    publisher = run_in_thread(run_kafka_publisher, settings, ring.name, 0, registry)
    producer = ring.producer()
    producer.write(warm)  # released once the publisher has connected and read the tails
    wait_until(lambda: ring.consumer_sequence(0) >= ring.cursor or publisher.error, 60,
               "the warm-up batch to be released")
    time.sleep(3.2)  # a whole linger since that transaction began

    started = time.monotonic()
    producer.write(first)
    wait_until(lambda: ring.consumer_sequence(0) >= ring.cursor or publisher.error, 30,
               "the first batch to be released")
    lone = time.monotonic() - started
    started = time.monotonic()
    producer.write(second)
    wait_until(lambda: ring.consumer_sequence(0) >= ring.cursor or publisher.error, 30,
               "the second batch to be released")
    follower = time.monotonic() - started
    stats = publisher.stop()
    assert lone < 1.5, lone
    assert follower > 2.0, follower
    assert stats.events == len(events)
    check_frame_topics(settings, registry, events)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("events_format", ["json", "frame"])
def test_publisher_throughput_into_the_real_broker(kafka_settings, registry, outbound_ring,
                                                   run_in_thread, events_format):
    """Prints events/s (docs/kafka.md quotes it); asserts only a floor that catches a
    per-message flush."""
    settings = kafka_settings(output_partitions=3, events_format=events_format)
    events = MatchingEngine(registry.pairs).process(order_flow(1, 40_000, seed=4))
    ring = outbound_ring(1 << 17)
    started = time.perf_counter()
    stats = publish_all(run_in_thread, settings, ring, registry, events, timeout=80)
    elapsed = time.perf_counter() - started
    rate = (stats.events + stats.trades) / elapsed
    print(json.dumps({"bench": "kafka_publisher", "format": events_format,
                      "events": stats.events,
                      "trades": stats.trades, "seconds": round(elapsed, 2),
                      "messages_per_s": round(rate), "events_per_s":
                      round(stats.events / elapsed)}))
    assert stats.events == len(events)
    assert rate > 5_000
