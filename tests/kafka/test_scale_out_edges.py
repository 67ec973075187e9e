"""The Kafka edges of scale-out (docs/deployment.md), against the real broker.

Forbidden outcomes: a statically assigned bridge that reads a partition it does not own; a
message whose pair lives in another partition reaching the engine as an order (its pair's
book would be split over two instances); serve starting with output topics that do not match
`orders`; a standby that takes the lease from a live holder; a lease that is never handed
over when its holder dies.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.kafka.kafka_io import produce, read_topic
from ringex import commands as cmd
from ringex.config import Settings, load_settings
from ringex.errors import ConfigError
from ringex.kafka import REPLAY, run_bridge
from ringex.kafka.bridge import home_partitions
from ringex.kafka.lease import Lease
from ringex.records import COMMAND_DTYPE, CommandKind, Side
from ringex.ring import Ring
from ringex.runtime.kafka_processes import bridge_partitions, check_scale_out
from ringex.wire import encode_frame, kafka_order_id

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(90)]


def _order(pair: str, price: str, amount: str, side: str = "BUY") -> bytes:
    return json.dumps({"action": "new", "order": {"id": 1, "pair": pair, "side": side,
                                                  "type": "LIMIT", "price": price,
                                                  "amount": amount}}).encode()


def _settings(**kafka) -> Settings:
    base = Settings()
    return dataclasses.replace(base, kafka=dataclasses.replace(base.kafka, **kafka))


def test_orders_partitions_setting_parses_and_rejects_nonsense():
    env = {"RINGEX_KAFKA_BOOTSTRAP": "k:9092", "RINGEX_REDIS_URL": "redis://r"}
    assert load_settings(environ={**env, "RINGEX_KAFKA_ORDERS_PARTITIONS": "2, 0"}
                         ).kafka.orders_partitions == (0, 2)
    assert load_settings(environ=env).kafka.orders_partitions == ()
    for bad, words in (("0,0", "distinct"), ("-1", "distinct"), ("a", "list of integers"),
                       ("1.5", "list of integers")):
        with pytest.raises(ConfigError, match=words):
            load_settings(environ={**env, "RINGEX_KAFKA_ORDERS_PARTITIONS": bad})
    with pytest.raises(ConfigError, match="distributed mode"):
        load_settings(environ={"RINGEX_KAFKA_ORDERS_PARTITIONS": "0"})
    with pytest.raises(ConfigError, match="lease_session_ms"):
        load_settings(environ={**env, "RINGEX_KAFKA_LEASE_SESSION_MS": "10"})


def test_serve_refuses_output_topics_that_do_not_match_orders():
    names = {"orders": 2, "orders.dlq": 1, "order-events": 2, "trades": 2}
    check_scale_out(_settings(orders_partitions=(1,)), names)
    check_scale_out(_settings(), {**names, "trades": 3})  # one instance: any count is fine
    with pytest.raises(ConfigError, match=r"'trades' must have as many partitions as "
                                          r"'orders' \(2\), but it has 3"):
        check_scale_out(_settings(orders_partitions=(1,)), {**names, "trades": 3})
    with pytest.raises(ConfigError, match=r"partitions \[2\] do not exist"):
        check_scale_out(_settings(orders_partitions=(0, 2)), names)


def test_bridges_of_an_instance_split_its_partitions():
    assert bridge_partitions(_settings(), 0) is None  # subscribe: the group decides
    two = _settings(orders_partitions=(0, 3, 5), bridges=2)
    assert [bridge_partitions(two, i) for i in range(2)] == [[0, 5], [3]]


def test_a_static_bridge_reads_only_its_partition_and_rejects_misrouted_pairs(
        kafka_settings, registry, run_in_thread):
    settings = kafka_settings(orders_partitions=3)
    homes = home_partitions(registry, 3).tolist()
    assert homes == [2, 0, 2]  # BTC-USDT, ETH-USDT, SOL-USDT: crc32(name) % 3
    eth = registry.get("ETH-USDT")
    mixed_frame = encode_frame(cmd.pack([
        cmd.new(9_000_001, 7, Side.SELL, eth.price_to_ticks("3000.00"), 5, pair=1),
        cmd.new(9_000_002, 7, Side.BUY, 100_000, 5, pair=2)]))  # SOL lives in partition 2
    produce(settings.bootstrap, settings.orders_topic, [
        (_order("ETH-USDT", "3000.00", "1"), b"ETH-USDT", None, 0),  # 0: good
        (_order("BTC-USDT", "65000.00", "0.5"), b"BTC-USDT", None, 0),  # 1: misrouted
        (b'{"action":"new","order":{', b"BTC-USDT", None, 0),  # 2: poison, misrouted key
        (mixed_frame, b"ETH-USDT", None, 0),  # 3: a frame with a SOL record
        (_order("ETH-USDT", "3000.00", "1", "SELL"), b"ETH-USDT", None, 0),  # 4: good
        (_order("BTC-USDT", "65000.00", "0.5"), b"BTC-USDT", None, 2),  # not ours
    ])
    ring = Ring.create(COMMAND_DTYPE, 1024, consumers=1, producers=1, multi_producer=True,
                       purpose="test-static")
    try:
        consumer = ring.consumer(0)
        bridge = run_in_thread(run_bridge, settings, ring.name, registry, offsets=REPLAY,
                               partitions=[0])
        got = []
        deadline = time.monotonic() + 30
        while sum(map(len, got)) < 5 and time.monotonic() < deadline:
            batch = consumer.wait(timeout=0.2)
            if batch is not None:
                got.extend(view.copy() for view in batch.views)
                consumer.release(batch)
        time.sleep(1.0)  # partition 2's message must not follow
        batch = consumer.wait(timeout=0.2)
        assert batch is None, "the bridge read beyond its partition"
        stats = bridge.stop()
        consumer.close()
    finally:
        ring.unlink()
        ring.close()
    commands = np.concatenate(got)
    assert commands["source_partition"].tolist() == [0] * 5
    assert commands["source_offset"].tolist() == [0, 1, 2, 3, 4]
    assert commands["kind"].tolist() == [CommandKind.NEW, 0, 0, 0, CommandKind.NEW]
    # the key names the pair of a rejected message only when that pair lives here, so no
    # event of this instance goes to partition 2 (the frame's key, ETH-USDT, does)
    assert commands["pair_id"].tolist() == [1, -1, -1, 1, 1]
    assert commands["order_id"][1:4].tolist() == [kafka_order_id(0, o) for o in (1, 2, 3)]
    assert stats.messages == 5 and stats.rejected == 3
    dlq = read_topic(settings.bootstrap, settings.dlq_topic, expect=3)
    fields = [m["headers"]["ringex-error-field"] for m in dlq]
    messages = [m["headers"]["ringex-error-message"].decode() for m in dlq]
    assert fields == [b"pair", b"payload", b"records[1].pair"]
    assert "pair BTC-USDT belongs to partition 2 of the orders topic" in messages[0]
    assert "pair SOL-USDT belongs to partition 2" in messages[2]


_HOLDER = """
import sys, time
from ringex.kafka.lease import Lease
lease = Lease(sys.argv[1], sys.argv[2], sys.argv[3], session_ms=int(sys.argv[4]))
assert lease.acquire(timeout=30)
print("held", flush=True)
while True:
    lease.poll(0.2)
"""


def test_the_lease_stays_with_its_holder_and_moves_on_close_or_death(kafka_bootstrap,
                                                                     kafka_topics):
    topic = kafka_topics(1, prefix="lease")
    group = f"{topic}-group"
    session_ms = 6000
    holder = Lease(kafka_bootstrap, topic, group, session_ms=session_ms)
    standby = None
    try:
        assert holder.acquire(timeout=30)
        standby = Lease(kafka_bootstrap, topic, group, session_ms=session_ms)
        end = time.monotonic() + 4  # a standby joining never takes the lease away
        while time.monotonic() < end:
            assert holder.poll(0.1) and not standby.poll(0.1)
        closed = time.monotonic()
        holder.close()
        assert standby.acquire(timeout=30)
        clean_handover = time.monotonic() - closed
        standby.close()

        process = subprocess.Popen([sys.executable, "-c", _HOLDER, kafka_bootstrap, topic,
                                    group, str(session_ms)], stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout.readline().strip() == "held"
            successor = Lease(kafka_bootstrap, topic, group, session_ms=session_ms)
            end = time.monotonic() + 2
            while time.monotonic() < end:
                assert not successor.poll(0.1)
            killed = time.monotonic()
            os.kill(process.pid, signal.SIGKILL)
            assert successor.acquire(timeout=60)
            death_handover = time.monotonic() - killed
            successor.close()
        finally:
            process.kill()
            process.wait(10)
    finally:
        holder.close()
        if standby is not None:
            standby.close()
    print(json.dumps({"lease_clean_handover_s": round(clean_handover, 2),
                      "lease_kill_handover_s": round(death_handover, 2),
                      "session_ms": session_ms}))
    assert clean_handover < 3.0
    assert session_ms / 1000 * 0.8 <= death_handover < session_ms / 1000 + 6
