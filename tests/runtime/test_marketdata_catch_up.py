"""The market-data publisher does not hold the engine back, and loses nothing when it lags
or dies.

`ringex serve` with a tiny outbound ring (1,024 events). In distributed mode the market-data
process reads `order-events` from Redis' ``last_seq`` on and is not a consumer of that ring.
It is stopped (SIGSTOP) while ~3,000 events pass, either right after it is spawned (before it
has attached to anything) or once it has set up, or it is killed (-9) while events pass after
it has applied some, and the supervisor starts another. The engine and the Kafka publisher
must keep going meanwhile. Forbidden outcomes: the engine stalled while market data was
stopped; a Redis state that differs from a full rebuild of the same topic (candles, recent
trades, every order's record: an event lost or applied twice shows there); a restarted
process that does not resume from where Redis stood.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
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
@pytest.mark.parametrize("events_format, stopped", [
    ("json", "at-spawn"), ("frame", "after-setup"), ("json", "killed")])
def test_a_stopped_or_killed_market_data_publisher_catches_up_from_order_events(
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
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all",
                             "enable.idempotence": True})
        orders = list(_orders(2000))

        def published() -> np.ndarray:
            return events_from_payloads(
                [m.value() for m in read_to_end(kafka_bootstrap, topics["events"],
                                                timeout=30)], registry)

        if stopped == "killed":  # some applied first, so a restart must resume, not redo
            for payload in orders[:500]:
                producer.produce(topics["orders"], payload, b"ETH-USDT")
            assert producer.flush(30) == 0
            _wait(lambda: store.last_seq() >= 500, 120, "Redis to apply the first orders",
                  log_path)
            orders = orders[500:]
        os.kill(pid, signal.SIGSTOP)
        for payload in orders:
            producer.produce(topics["orders"], payload, b"ETH-USDT")
        assert producer.flush(30) == 0

        # The engine and the Kafka publisher go on while market data is stopped.
        _wait(lambda: published().shape[0] >= 2000, 120,
              "every command's events in order-events with market data stopped", log_path)
        events = published()
        last = int(events["seq"].max())
        held = store.last_seq()
        assert last > 3 * 1024 and held < last  # the engine ran several rings past it

        if stopped == "killed":
            os.kill(pid, signal.SIGKILL)
            _wait(lambda: log_path.read_text().count("reading " + topics["events"]) >= 2, 60,
                  "a new market-data process", log_path)
            assert f"reading {topics['events']} from seq {held + 1} on" in log_path.read_text()
        else:
            os.kill(pid, signal.SIGCONT)
        _wait(lambda: store.last_seq() == last, 120, f"Redis to reach seq {last}", log_path)

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
