"""The market-data publisher does not hold the engine back, and loses nothing when it lags.

`ringex serve` with a tiny outbound ring (1,024 events): the market-data process is stopped
(SIGSTOP) while ~3,000 events pass, so the engine laps it by several rings; the engine and the
Kafka publisher must keep going (the ring does not wait for market data). It is stopped either
right after it is spawned (before it has attached to anything: the supervisor must have
retired its ring slot already) or once it has set up. After SIGCONT the publisher finds its
slots reused, reads the missing events back from `order-events` (``ringex.kafka.catchup``) and
returns to the ring. Forbidden outcomes: the engine stalled while market data was stopped; a
Redis state that differs from a full rebuild of the same topic (candles, recent trades, every
order's record); the catch-up path never taken.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import redis
from confluent_kafka import Producer

from ringex.config import load_settings
from ringex.kafka.reading import read_to_end
from ringex.marketdata.redis_store import RedisMarketData
from ringex.recovery.rebuild import events_from_payloads, rebuild_redis
from ringex.ring.segment import list_segments

pytestmark = [pytest.mark.kafka, pytest.mark.redis]


def _orders(count: int):
    for i in range(count):
        side = "buy" if (i * 7) % 3 else "sell"
        price = 3000 + (i * 13) % 9 - 4
        order = {"type": "new", "pair": "ETH-USDT", "side": side, "order_type": "limit",
                 "price": f"{price}.25", "quantity": f"{1 + i % 5}.50",
                 "time_in_force": "gtc" if i % 4 else "ioc", "account": 1 + i % 7,
                 "client_order_id": i + 1}
        yield json.dumps(order).encode()


def _wait(predicate, timeout: float, what: str, log_path=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            log = log_path.read_text()[-8000:] if log_path is not None else ""
            pytest.fail(f"timed out waiting for {what}\n--- serve log (tail) ---\n{log}")
        time.sleep(0.2)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stopped", ["at-spawn", "after-setup"])
@pytest.mark.parametrize("events_format", ["json", "frame"])
def test_a_stopped_market_data_publisher_is_lapped_then_catches_up_from_kafka(
        tmp_path, kafka_bootstrap, kafka_topics, redis_url, redis_prefix, events_format,
        stopped):
    topics = {name: kafka_topics(partitions=1, prefix=name) for name in
              ("orders", "dlq", "trades", "events")}
    prefix = f"rgxlag{os.getpid()}{events_format[0]}{stopped.replace('-', '')}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
    env.update(RINGEX_KAFKA_BOOTSTRAP=kafka_bootstrap, RINGEX_REDIS_URL=redis_url,
               RINGEX_REDIS_PREFIX=redis_prefix, RINGEX_KAFKA_ORDERS_TOPIC=topics["orders"],
               RINGEX_KAFKA_DLQ_TOPIC=topics["dlq"], RINGEX_KAFKA_TRADES_TOPIC=topics["trades"],
               RINGEX_KAFKA_EVENTS_TOPIC=topics["events"], RINGEX_KAFKA_PARTITIONS="1",
               RINGEX_KAFKA_EVENTS_FORMAT=events_format,
               RINGEX_KAFKA_GROUP_ID=f"lag-{prefix}", RINGEX_RUNTIME_SEGMENT_PREFIX=prefix,
               RINGEX_ENGINE_OUTBOUND_CAPACITY="1024", RINGEX_RUNTIME_VAR_DIR=str(tmp_path),
               RINGEX_RUNTIME_METRICS_PORT="0", RINGEX_GATEWAY_ENABLED="false")
    settings = load_settings(environ=env)
    registry = settings.registry()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "ringex.cli", "serve"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis.from_url(redis_url)
    store = RedisMarketData(client, registry, prefix=redis_prefix)
    try:
        ready = ("started marketdata (pid" if stopped == "at-spawn"
                 else "market data -> RedisMarketData")
        _wait(lambda: ready in log_path.read_text(), 120, "the market-data process", log_path)
        pid = int(re.search(r"started marketdata \(pid (\d+)\)", log_path.read_text())[1])
        os.kill(pid, signal.SIGSTOP)
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all",
                             "enable.idempotence": True})
        for payload in _orders(2000):
            producer.produce(topics["orders"], payload, b"ETH-USDT")
        assert producer.flush(30) == 0

        def published() -> list:
            return read_to_end(kafka_bootstrap, topics["events"], timeout=30)

        # The engine and the Kafka publisher go on while market data is stopped.
        _wait(lambda: events_from_payloads([m.value() for m in published()],
                                           registry).shape[0] >= 2000, 120,
              "every command's events in order-events with market data stopped", log_path)
        events = events_from_payloads([m.value() for m in published()], registry)
        last = int(events["seq"].max())
        assert last > 3 * 1024 and store.last_seq() < last  # lapped by several rings

        os.kill(pid, signal.SIGCONT)
        _wait(lambda: store.last_seq() == last, 120, f"Redis to reach seq {last}", log_path)
        assert "fell a ring behind" in log_path.read_text()

        # The lagged-and-caught-up projection equals a full rebuild from the topic.
        rebuilt_prefix = redis_prefix + "rebuilt:"
        rebuilt_settings = load_settings(environ={**env, "RINGEX_REDIS_PREFIX": rebuilt_prefix})
        assert rebuild_redis(rebuilt_settings)["last_seq"] == last
        rebuilt = RedisMarketData(client, registry, prefix=rebuilt_prefix)
        for interval in ("1s", "1m"):
            assert store.candles("ETH-USDT", interval, limit=10_000) == \
                rebuilt.candles("ETH-USDT", interval, limit=10_000)
        assert store.trades("ETH-USDT", limit=1000) == rebuilt.trades("ETH-USDT", limit=1000)
        order_ids = sorted(set(events["order_id"].tolist()) - {0})
        assert len(order_ids) >= 2000
        for order_id in order_ids:
            assert store.order(order_id) == rebuilt.order(order_id), order_id
        for key in client.scan_iter(rebuilt_prefix + "*", count=1000):
            client.unlink(key)
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except (NameError, ProcessLookupError):
            pass
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        store.close()
    assert server.returncode == 0, log_path.read_text()[-5000:]
    assert not list_segments(prefix), log_path.read_text()[-5000:]
