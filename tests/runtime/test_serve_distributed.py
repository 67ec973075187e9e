"""`ringex serve --kafka --redis`: the live exchange against a real broker and a real Redis.

Orders are produced to `orders` in both wire formats (the Go design's JSON, and a binary
frame), plus a poison message. Then:
- `trades` and `order-events` must equal, message for message, what the reference matcher
  produces from the `orders` topic as the bridge decodes it;
- every `orders` message has an outcome, and the poison one is in `orders.dlq`;
- Redis candles must equal the plain-Python OHLCV fold of the trades, and the book and order
  status must match the reference;
- SIGTERM stops everything cleanly.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from ringex.commands import new, pack
from ringex.config import load_settings
from ringex.kafka.decode import records_of_message
from ringex.marketdata.interface import interval_ms
from ringex.marketdata.redis_store import RedisMarketData
from ringex.records import EventKind, Side
from ringex.ring.segment import list_segments
from ringex.spec.matcher import ReferenceMatcher
from ringex.spec.ohlcv import fold_candles
from ringex.wire.frames import encode_frame
from ringex.wire.json_events import events_to_json, trades_to_json

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def _read_all(bootstrap, topic, expected, timeout=90.0):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    messages = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=0.5):
            if message.error() is None:
                messages.append(message)
    # a short grace period to catch duplicates beyond the expected count
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        messages.extend(m for m in consumer.consume(500, timeout=0.3) if m.error() is None)
    consumer.close()
    return sorted(messages, key=lambda m: (m.partition(), m.offset()))


def _orders(registry):
    rng = np.random.default_rng(23)
    messages = []
    for i in range(300):
        side = "buy" if rng.random() < 0.5 else "SELL"
        offset = int(rng.integers(-3, 10))
        price = 3000 + (-offset if side == "buy" else offset)
        order = {"id": i + 1, "pair": "ETH/USDT", "side": side, "type": "LIMIT",
                 "price": f"{price}.25", "amount": f"{int(rng.integers(1, 30))}.5"}
        messages.append((b"ETH-USDT", json.dumps({"action": "new", "order": order}).encode()))
        if i == 100:
            messages.append((b"ETH-USDT", b'{"action":"new","order":{"pair":"ETH-USDT",'))
        if i % 50 == 49:
            eth = registry.get("ETH-USDT")
            frame = pack([new(10**15 + i * 10 + k, 9, Side.BUY if k % 2 else Side.SELL,
                              eth.price_to_ticks("3000.25"), eth.qty_to_lots("2"), pair=1)
                          for k in range(5)])
            messages.append((b"ETH-USDT", encode_frame(frame)))
    return messages


@pytest.mark.timeout(300)
def test_serve_distributed_end_to_end(tmp_path, kafka_bootstrap, kafka_topics, redis_url,
                                      redis_prefix):
    topics = {name: kafka_topics(partitions=1, prefix=name.replace(".", "-"))
              for name in ("orders", "dlq", "trades", "events")}
    prefix = f"rgxdist{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
    env.update(RINGEX_KAFKA_BOOTSTRAP=kafka_bootstrap, RINGEX_REDIS_URL=redis_url,
               RINGEX_REDIS_PREFIX=redis_prefix, RINGEX_KAFKA_ORDERS_TOPIC=topics["orders"],
               RINGEX_KAFKA_DLQ_TOPIC=topics["dlq"], RINGEX_KAFKA_TRADES_TOPIC=topics["trades"],
               RINGEX_KAFKA_EVENTS_TOPIC=topics["events"], RINGEX_KAFKA_PARTITIONS="1",
               RINGEX_KAFKA_GROUP_ID=f"e2e-{prefix}", RINGEX_RUNTIME_SEGMENT_PREFIX=prefix,
               RINGEX_RUNTIME_VAR_DIR=str(tmp_path), RINGEX_RUNTIME_METRICS_PORT="0",
               RINGEX_GATEWAY_ENABLED="false")
    settings = load_settings(environ=env)
    registry = settings.registry()

    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True,
                         "acks": "all"})
    for key, value in _orders(registry):
        producer.produce(topics["orders"], value=value, key=key)
    assert producer.flush(30) == 0

    server = subprocess.Popen([sys.executable, "-m", "ringex.cli", "serve"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # the orders topic as the bridge decodes it, run through the reference matcher
        commands = []
        dlq_expected = 0
        for message in _read_all(kafka_bootstrap, topics["orders"], 10**9, timeout=5):
            records, error = records_of_message(
                message, registry, default_account=settings.runtime.default_account)
            dlq_expected += error is not None
            commands.append(records)
        commands = np.concatenate(commands)
        reference = ReferenceMatcher(registry.pairs)
        expected = reference.process(commands)
        expected_trades = expected[expected["kind"] == EventKind.TRADE]
        assert dlq_expected == 1 and len(expected_trades) > 20
        assert (expected["reason"] == 1).sum() == 1  # the poison message: INVALID_COMMAND

        events = _read_all(kafka_bootstrap, topics["events"], len(expected))
        assert [m.value() for m in events] == events_to_json(expected, registry)
        assert all(m.key() == b"ETH-USDT" for m in events if b'"pair":"ETH-USDT"' in m.value())
        trades = _read_all(kafka_bootstrap, topics["trades"], len(expected_trades))
        assert [m.value() for m in trades] == trades_to_json(expected_trades, registry)
        dlq = _read_all(kafka_bootstrap, topics["dlq"], 1, timeout=30)
        assert len(dlq) == 1 and dict(dlq[0].headers() or [])

        store = RedisMarketData(redis.Redis.from_url(redis_url), registry, prefix=redis_prefix)
        deadline = time.monotonic() + 90
        while store.last_seq() < int(expected["seq"][-1]):
            assert time.monotonic() < deadline, f"Redis stuck at seq {store.last_seq()}"
            time.sleep(0.1)
        for interval in ("1s", "1m", "1h"):
            folded = fold_candles(expected_trades, interval_ms(interval))
            got = {(c.pair_id, c.start_ms): c
                   for c in store.candles("ETH-USDT", interval, limit=10_000)}
            assert got == folded
        some_order = int(expected_trades[-1]["maker_order_id"])
        state = store.order(some_order)
        assert state is not None and state.leaves_qty == int(expected_trades[-1]["maker_leaves_qty"])
        bids, asks = reference.depth(1, 10)
        deadline = time.monotonic() + 30
        while True:
            book = store.book("ETH-USDT", depth=10)
            if book is not None and book.seq == int(expected["seq"][-1]):
                break
            assert time.monotonic() < deadline, f"book stuck at {book}"
            time.sleep(0.1)
        assert [tuple(x) for x in book.bids] == bids and [tuple(x) for x in book.asks] == asks
        store.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output[-5000:]
    assert not list_segments(prefix), output[-5000:]
