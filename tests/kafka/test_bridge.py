"""The bridge against the real broker: good orders in both formats, every kind of bad message.

Forbidden outcomes: a message with no command in the ring, a message with two, a command out
of Kafka order, a bad message missing from the DLQ, a poison message that stops the next good
order from matching.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from tests.kafka.kafka_io import produce, read_topic, wait_until
from ringex import commands as cmd
from ringex.engine import MatchingEngine
from ringex.kafka import PER_RUN_GROUP, KafkaMetrics, run_bridge
from ringex.records import COMMAND_DTYPE, CommandKind, EventKind, Reason, Side
from ringex.ring import Ring
from ringex.wire import client_id_to_int, encode_frame, kafka_order_id

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(60)]

BTC, ETH = b"BTC-USDT", b"ETH-USDT"


def seed_order(client_id, side, price, amount, pair="BTC-USDT", order_type="LIMIT"):
    return json.dumps({"action": "new", "order": {
        "id": client_id, "pair": pair, "side": side, "type": order_type,
        "price": price, "amount": amount}}).encode()


def read_ring(consumer, count: int, timeout: float = 30.0) -> np.ndarray:
    got = []

    def have_all():
        batch = consumer.wait(timeout=0.2)
        if batch is not None:
            got.extend(view.copy() for view in batch.views)
            consumer.release(batch)
        return sum(len(chunk) for chunk in got) >= count

    wait_until(have_all, timeout, f"{count} commands in the ring")
    return np.concatenate(got)


@pytest.fixture
def inbound_ring():
    ring = Ring.create(COMMAND_DTYPE, 1024, consumers=1, producers=2, multi_producer=True,
                       purpose="test-inbound")
    yield ring
    ring.unlink()
    ring.close()


def test_good_and_bad_messages_each_give_exactly_one_outcome(
        kafka_settings, registry, inbound_ring, run_in_thread):
    settings = kafka_settings(orders_partitions=1)
    frame_records = cmd.pack([
        cmd.new(9_000_001, 7, Side.SELL, 300_000, 5, pair=1),
        cmd.new(9_000_002, 7, Side.BUY, 299_000, 5, pair=1),
    ])
    bad_record_frame = cmd.new(9_000_003, 7, Side.BUY, 999, 5, pair=1)  # below ETH's band
    one_megabyte = b'{"action":"new","order":{"id":"' + b"x" * 999_900 + b'"}}'
    messages = [
        (seed_order("c1", "BUY", "65000.00", "0.5"), BTC, None),  # 0
        (json.dumps({"type": "new", "pair": "eth-usdt", "side": "sell", "order_type": "limit",
                     "price": "3000.00", "quantity": "1"}).encode(), ETH, None),  # 1
        (encode_frame(frame_records), ETH, None),  # 2: binary frame, sniffed by its magic
        (b'{"action":"new","order":{', BTC, None),  # 3: bad JSON
        (b'{"action":"new","order":{"id":"\xff\xfe"}}', BTC, None),  # 4: invalid UTF-8
        (seed_order("c5", "BUY", "1.00", "1", pair="DOGE-USDT"), b"DOGE-USDT", None),  # 5
        (seed_order("c6", "BUY", "65000.001", "0.5"), BTC, None),  # 6: off the tick
        (encode_frame(frame_records)[:-9], ETH, None),  # 7: truncated frame
        (one_megabyte, BTC, None),  # 8: a 1 MB message
        (seed_order("c9", "BUY", "65000.00", "0.5"), BTC, [("content-type", b"text/plain")]),
        (seed_order("c10", "SELL", "65000.00", "0.2"), BTC, None),  # 10: good after poison
        (encode_frame(bad_record_frame), ETH,
         [("Content-Type", b"application/x-ringex-frame")]),  # 11: frame, one bad record
    ]
    bad_offsets = {3: "payload", 4: "payload", 5: "order.pair", 6: "order.price", 7: "length",
                   8: "payload", 9: "content-type"}
    produce(settings.bootstrap, settings.orders_topic, messages,
            **{"message.max.bytes": 1_100_000})
    consumer = inbound_ring.consumer(0)
    metrics = KafkaMetrics.create("bridge", registry=CollectorRegistry())
    bridge = run_in_thread(run_bridge, settings, inbound_ring.name, registry, metrics=metrics)
    expected = len(messages) + 1  # the frame at offset 2 carries two records
    commands = read_ring(consumer, expected)
    stats = bridge.stop()
    consumer.close()

    assert len(commands) == expected  # nothing doubled
    assert stats.messages == len(messages) and stats.rejected == len(bad_offsets)
    assert metrics.messages_in._value.get() == len(messages)
    assert metrics.commands_out._value.get() == expected
    assert metrics.dlq._value.get() == len(bad_offsets) + 1
    assert metrics.errors.labels(kind="decode")._value.get() == len(bad_offsets)
    assert commands["source_partition"].tolist() == [0] * expected
    assert commands["source_offset"].tolist() == [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    by_offset = {}
    for record in commands:
        by_offset.setdefault(int(record["source_offset"]), []).append(record)
    for offset, records in by_offset.items():
        if offset in bad_offsets:
            (record,) = records
            assert record["kind"] == 0
            assert record["order_id"] == kafka_order_id(0, offset)
        elif offset == 2:
            assert [int(r["order_id"]) for r in records] == [9_000_001, 9_000_002]
            assert all(r["kind"] == CommandKind.NEW for r in records)
        elif offset != 11:
            (record,) = records
            assert record["kind"] == CommandKind.NEW
            assert record["order_id"] == kafka_order_id(0, offset)
    # The key names the pair of a rejected message when it names a known one.
    assert by_offset[3][0]["pair_id"] == 0 and by_offset[5][0]["pair_id"] == -1
    timestamps = commands["timestamp_ns"]
    assert (timestamps > 0).all() and (timestamps % 1_000_000 == 0).all()
    assert by_offset[0][0]["price"] == 6_500_000 and by_offset[0][0]["quantity"] == 50_000

    # The engine gives each malformed message its REJECTED event with the decoder's reason and,
    # where the message could be read, its sender's client id and account; the good order
    # after all the poison still trades against the first one.
    events = MatchingEngine(registry.pairs).process(commands)
    rejected = {int(e["order_id"]): e for e in events[events["kind"] == EventKind.REJECTED]}
    # the frame's bad record (offset 11) is the matcher's own rejection: below the band
    assert Reason(int(rejected.pop(9_000_003)["reason"])) == Reason.PRICE_OUT_OF_BAND
    assert sorted(rejected) == sorted(kafka_order_id(0, offset) for offset in bad_offsets)
    reasons = {offset: Reason(int(rejected[kafka_order_id(0, offset)]["reason"]))
               for offset in bad_offsets}
    assert reasons == {3: Reason.INVALID_COMMAND, 4: Reason.INVALID_COMMAND,
                       5: Reason.UNKNOWN_PAIR, 6: Reason.INVALID_PRICE,
                       7: Reason.INVALID_COMMAND, 8: Reason.INVALID_COMMAND,
                       9: Reason.INVALID_COMMAND}
    identities = {offset: (int(rejected[kafka_order_id(0, offset)]["account"]),
                           int(rejected[kafka_order_id(0, offset)]["client_order_id"]))
                  for offset in bad_offsets}
    assert identities == {3: (0, 0), 4: (0, 0), 5: (1, client_id_to_int("c5")),
                          6: (1, client_id_to_int("c6")), 7: (0, 0), 8: (1, 0),
                          9: (1, client_id_to_int("c9"))}
    trades = events[events["kind"] == EventKind.TRADE]
    assert trades["order_id"].tolist() == [kafka_order_id(0, 10)]
    assert trades["maker_order_id"].tolist() == [kafka_order_id(0, 0)]

    # Every malformed message, and the frame with a bad record, is in the DLQ, with headers.
    dlq = read_topic(settings.bootstrap, settings.dlq_topic, expect=len(bad_offsets) + 1)
    by_original = {int(m["headers"]["ringex-original-offset"]): m for m in dlq}
    assert sorted(by_original) == sorted([*bad_offsets, 11])
    for offset, field in bad_offsets.items():
        headers = by_original[offset]["headers"]
        assert headers["ringex-error-field"].decode() == field, headers
        assert headers["ringex-error-message"]
        assert headers["ringex-original-topic"].decode() == settings.orders_topic
        assert headers["ringex-original-partition"] == b"0"
        assert by_original[offset]["key"] == messages[offset][1]
    assert by_original[3]["value"] == messages[3][0]
    assert by_original[9]["headers"]["content-type"] == b"text/plain"
    assert by_original[8]["headers"]["ringex-truncated-from"] == str(len(one_megabyte)).encode()
    assert by_original[11]["headers"]["ringex-error-field"] == b"records[0].price"
    assert by_original[11]["headers"]["ringex-error-count"] == b"1"


def both_assigned(admin, group_id: str) -> bool:
    try:
        group = admin.describe_consumer_groups([group_id])[group_id].result(timeout=5)
    except Exception:
        return False
    members = [m for m in group.members if m.assignment.topic_partitions]
    return len(members) == 2 and str(group.state).endswith("STABLE")


def test_two_bridges_share_the_partitions_without_loss_or_duplicate(
        kafka_settings, registry, inbound_ring, run_in_thread, kafka_admin):
    """A second bridge joins the group mid-stream: the rebalance hands each partition over at
    exactly the next unwritten offset (PER_RUN_GROUP: commit after write and on revoke)."""
    settings = kafka_settings(orders_partitions=2)

    def orders(start, count):
        return [(seed_order(f"c{i}", "BUY", "65000.00", "0.001"), BTC, None, i % 2)
                for i in range(start, start + count)]

    produce(settings.bootstrap, settings.orders_topic, orders(0, 200))
    consumer = inbound_ring.consumer(0)
    first = run_in_thread(run_bridge, settings, inbound_ring.name, registry,
                          offsets=PER_RUN_GROUP, batch_size=50)
    got = [read_ring(consumer, 50)]
    second = run_in_thread(run_bridge, settings, inbound_ring.name, registry,
                           offsets=PER_RUN_GROUP, batch_size=50)
    wait_until(lambda: both_assigned(kafka_admin, settings.group_id), 30,
               "the group to give each bridge a partition")
    produce(settings.bootstrap, settings.orders_topic, orders(200, 200))
    total = 400
    got.append(read_ring(consumer, total - len(got[0])))
    stats = [first.stop(), second.stop()]
    consumer.close()
    commands = np.concatenate(got)
    positions = list(zip(commands["source_partition"].tolist(),
                         commands["source_offset"].tolist()))
    assert len(positions) == len(set(positions)) == total  # no duplicate, none lost
    assert sorted(positions) == [(p, o) for p in (0, 1) for o in range(200)]
    for partition in (0, 1):  # each partition's commands reach the ring in Kafka order
        offsets = [o for p, o in positions if p == partition]
        assert offsets == sorted(offsets)
    assert sum(s.messages for s in stats) == total
    assert all(s.messages > 0 for s in stats), stats  # both bridges took a share


def test_a_static_bridge_restarted_on_another_topic_reads_the_new_topic(
        kafka_settings, kafka_topics, registry, inbound_ring, run_in_thread):
    """Static membership (what ``ringex serve`` gives a subscribing bridge) under one group,
    the bridge restarted within its session timeout on a new `orders` topic: it must read the
    new topic. With an id of group + role the coordinator handed it the old topic's partition
    and it read nothing."""
    from dataclasses import replace

    from ringex.kafka.bridge import static_member_id

    first_settings = kafka_settings()
    second_settings = replace(first_settings, orders_topic=kafka_topics(1, prefix="orders"))
    consumer = inbound_ring.consumer(0)
    got = []
    for settings, first_id in ((first_settings, 0), (second_settings, 100)):
        produce(settings.bootstrap, settings.orders_topic,
                [(seed_order(f"c{i}", "BUY", "65000.00", "0.001"), BTC, None, 0)
                 for i in range(first_id, first_id + 20)])
        extra = {"session.timeout.ms": 10000, "group.instance.id": static_member_id(
            settings.group_id, settings.orders_topic, "bridge-0")}
        bridge = run_in_thread(run_bridge, settings, inbound_ring.name, registry,
                               offsets=PER_RUN_GROUP, consumer_extra=extra)
        got.append(read_ring(consumer, 20, timeout=20))
        stats = bridge.stop()
        assert stats.messages == 20
    consumer.close()
    assert [chunk.shape[0] for chunk in got] == [20, 20]
