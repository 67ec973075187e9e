"""The REST gateway end to end in distributed mode: `ringex serve --kafka --redis` with its
gunicorn gateway on loopback, a real broker and a real Redis.

Two accounts trade through `POST /orders`. A 202 means Kafka acknowledged the order
(`acks=all`), so the order ids are Kafka positions. Then, with every wait bounded:
- `GET /orders/{id}` shows the fills with exact decimal strings;
- `GET /book`, `GET /trades` and `GET /candles` reflect the trade;
- the other account gets 404 on GET, DELETE and PATCH of an order that is not its own, sends
  nothing to Kafka by trying, and the order stays as it was;
- the Kafka `trades` topic holds the trade, and `orders` holds exactly the two orders.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer

from ringex.ring.segment import list_segments
from ringex.wire.ids import kafka_order_id
from tests.support.exchange import free_port, gateway_request, until

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.timeout(120)]

ALICE_KEY, ALICE = "alice-dist-key", 101
BOB_KEY, BOB = "bob-dist-key", 202
BUDGET_S = 60.0


def _read_topic(bootstrap, topic, expected, deadline):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages = []
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            messages.extend(m for m in consumer.consume(100, timeout=0.3) if m.error() is None)
        # a short grace period: anything beyond what is expected would show here
        end = min(deadline, time.monotonic() + 1.0)
        while time.monotonic() < end:
            messages.extend(m for m in consumer.consume(100, timeout=0.2) if m.error() is None)
    finally:
        consumer.close()
    return messages


def test_gateway_distributed_end_to_end(tmp_path, kafka_bootstrap, kafka_topics, redis_url,
                                        redis_prefix):
    started = time.monotonic()
    deadline = started + BUDGET_S
    topics = {name: kafka_topics(partitions=1, prefix=f"gw-{name}")
              for name in ("orders", "dlq", "trades", "events")}
    segment_prefix = f"rgxgwd{os.getpid()}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
    env.update(RINGEX_KAFKA_BOOTSTRAP=kafka_bootstrap, RINGEX_REDIS_URL=redis_url,
               RINGEX_REDIS_PREFIX=redis_prefix, RINGEX_KAFKA_ORDERS_TOPIC=topics["orders"],
               RINGEX_KAFKA_DLQ_TOPIC=topics["dlq"], RINGEX_KAFKA_TRADES_TOPIC=topics["trades"],
               RINGEX_KAFKA_EVENTS_TOPIC=topics["events"], RINGEX_KAFKA_PARTITIONS="1",
               RINGEX_KAFKA_GROUP_ID=f"gw-e2e-{segment_prefix}",
               RINGEX_RUNTIME_SEGMENT_PREFIX=segment_prefix,
               RINGEX_RUNTIME_VAR_DIR=str(tmp_path), RINGEX_RUNTIME_METRICS_PORT="0",
               RINGEX_GATEWAY_BIND=f"127.0.0.1:{port}", RINGEX_GATEWAY_WORKERS="2",
               RINGEX_GATEWAY_API_KEYS=f"{ALICE_KEY}:{ALICE},{BOB_KEY}:{BOB}")
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "ringex.cli", "serve"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail() -> str:
        return log_path.read_text(errors="replace")[-4000:]

    try:
        def healthy():
            assert server.poll() is None, f"ringex serve exited:\n{log_tail()}"
            try:
                status, health = gateway_request(port, "GET", "/health")
            except OSError:
                return None
            return health if status == 200 and health["mode"] == "distributed" else None

        health = until(healthy, deadline, "a healthy distributed gateway")
        assert health["sequencer"]["sequencer"] == "kafka"

        # Alice rests a sell; Bob's buy takes part of it.
        status, sell = gateway_request(port, "POST", "/orders", {
            "pair": "BTC-USDT", "side": "SELL", "order_type": "LIMIT", "price": "65000.50",
            "quantity": "0.50000", "client_order_id": "alice-1"}, ALICE_KEY)
        assert status == 202, sell
        status, buy = gateway_request(port, "POST", "/orders", {
            "pair": "BTC/USDT", "side": "buy", "order_type": "limit", "price": "65001.00",
            "quantity": "0.2", "client_order_id": "bob-1"}, BOB_KEY)
        assert status == 202, buy
        # The ids are Kafka positions: partition 0, offsets 0 and 1 of a fresh topic.
        assert (sell["order_id"], buy["order_id"]) == (kafka_order_id(0, 0),
                                                       kafka_order_id(0, 1))
        sell_id, buy_id = sell["order_id"], buy["order_id"]

        def order_of(key, order_id, status_name):
            code, order = gateway_request(port, "GET", f"/orders/{order_id}", key=key)
            return order if code == 200 and order.get("status") == status_name else None

        taker = until(lambda: order_of(BOB_KEY, buy_id, "FILLED"), deadline, "Bob's fill")
        assert (taker["filled_quantity"], taker["leaves_quantity"], taker["quantity"]) == \
            ("0.20000", "0.00000", "0.20000")
        assert taker["side"] == "BUY" and taker["price"] == "65001.00"
        maker = until(lambda: order_of(ALICE_KEY, sell_id, "PARTIALLY_FILLED"), deadline,
                       "Alice's partial fill")
        assert (maker["filled_quantity"], maker["leaves_quantity"], maker["price"]) == \
            ("0.20000", "0.30000", "65000.50")

        def book_shows_rest():
            code, book = gateway_request(port, "GET", "/book/BTC-USDT?depth=5")
            return book if code == 200 and book["asks"] == [["65000.50", "0.30000", 1]] else None

        book = until(book_shows_rest, deadline, "the book")
        assert book["bids"] == []

        code, trades = gateway_request(port, "GET", "/trades/BTC-USDT?limit=10")
        assert code == 200
        assert [(t["price"], t["quantity"], t["taker_side"], t["taker_order_id"],
                 t["maker_order_id"]) for t in trades["trades"]] == \
            [("65000.50", "0.20000", "BUY", buy_id, sell_id)]
        code, candles = gateway_request(port, "GET", "/candles/BTC%2FUSDT?interval=1m")
        assert code == 200 and len(candles["candles"]) == 1
        candle = candles["candles"][0]
        assert {k: candle[k] for k in ("open", "high", "low", "close", "volume", "trades")} == \
            {"open": "65000.50", "high": "65000.50", "low": "65000.50", "close": "65000.50",
             "volume": "0.20000", "trades": 1}

        # Bob may not see, cancel or amend Alice's order: 404, and nothing is sent.
        for method, body in (("GET", None), ("DELETE", None),
                             ("PATCH", {"price": "65000.50", "quantity": "0.10000"})):
            code, problem = gateway_request(port, method, f"/orders/{sell_id}", body, BOB_KEY)
            assert code == 404 and problem["field"] == "order_id", (method, problem)
        code, listing = gateway_request(port, "GET", "/orders?pair=BTC-USDT", key=BOB_KEY)
        assert code == 200 and [o["order_id"] for o in listing["orders"]] == [buy_id]

        trade_messages = _read_topic(kafka_bootstrap, topics["trades"], 1, deadline)
        assert len(trade_messages) == 1
        trade = json.loads(trade_messages[0].value())
        assert (trade["price"], trade["quantity"], trade["maker_order_id"],
                trade["taker_order_id"], trade["maker_account"], trade["taker_account"]) == \
            ("65000.50", "0.20000", sell_id, buy_id, ALICE, BOB)
        assert trade_messages[0].key() == b"BTC-USDT"
        order_messages = _read_topic(kafka_bootstrap, topics["orders"], 2, deadline)
        assert [json.loads(m.value())["type"] for m in order_messages] == ["new", "new"]

        untouched = order_of(ALICE_KEY, sell_id, "PARTIALLY_FILLED")
        assert untouched is not None and untouched["leaves_quantity"] == "0.30000"
        assert untouched["seq"] == maker["seq"]
        assert time.monotonic() - started < BUDGET_S
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
    assert server.returncode == 0, log_tail()
    assert not list_segments(segment_prefix), log_tail()
