"""Redis store specifics, against the real server: documented keys, TTLs, decimals, pub/sub."""

from __future__ import annotations

import json
import pathlib
import re
import time

import pytest

from tests.marketdata.marketdata_streams import make_registry, venue_events
from ringex.marketdata.redis_store import RedisMarketData
from ringex.records import EventKind
from ringex.spec.order_status import fold_orders

pytestmark = pytest.mark.redis

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "redis-keys.md"


def _documented_patterns(kind: str) -> list[re.Pattern]:
    """Patterns from the doc's tables: `{prefix}...` in backticks, in rows of ``kind``."""
    patterns = []
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        for pattern in re.findall(r"`\{prefix\}([^`]+)`", cells[0]):
            if (kind == "channel") == (cells[1] == "channel"):
                regex = re.sub(r"\\\{[a-z_]+\\\}", "[^:]+", re.escape(pattern))
                patterns.append(re.compile(regex + "$"))
    return patterns


@pytest.fixture
def store(redis_client, redis_prefix):
    return RedisMarketData(redis_client, make_registry(), prefix=redis_prefix, candles_kept=30,
                           trades_kept=20, order_ttl_s=600)


def test_every_key_is_documented(store, redis_client, redis_prefix):
    import numpy as np

    from ringex.records import EVENT_DTYPE, PairStatus

    store.apply(venue_events(store.registry, seed=4, batches=4))
    status = np.zeros(1, dtype=EVENT_DTYPE)  # so the pair-status key is written too
    status["kind"], status["pair_id"] = EventKind.PAIR_STATUS, 2
    status["pair_status"], status["seq"] = PairStatus.HALTED, store.last_seq() + 1
    store.apply(status)
    store.put_book(2, 10, [(100, 3, 1)], [(101, 1, 1)])
    patterns = _documented_patterns("key")
    assert len(patterns) >= 6
    keys = [key.decode()[len(redis_prefix):] for key in redis_client.scan_iter(redis_prefix + "*")]
    assert len(keys) > 50
    undocumented = sorted(k for k in keys if not any(p.match(k) for p in patterns))
    assert undocumented == []
    kinds = {p.pattern for p in patterns for k in keys if p.match(k)}
    assert len(kinds) == len(patterns), "a documented key pattern is never written"


def test_closed_orders_expire_and_open_orders_do_not(store, redis_client):
    events = venue_events(store.registry, seed=6, batches=4)
    store.apply(events)
    orders = fold_orders(events)
    closed = [o for o in orders.values() if o.closed]
    live = [o for o in orders.values() if not o.closed]
    assert closed and live
    now_ms = time.time() * 1000
    for order in closed[:50]:
        member = f"{order.order_id // 1024}:{order.order_id}"
        expires = redis_client.zscore(store.key("orders", "closed"), member)
        assert now_ms < expires <= now_ms + 600_000 + 5_000
    for order in live[:50]:
        member = f"{order.order_id // 1024}:{order.order_id}"
        assert redis_client.zscore(store.key("orders", "closed"), member) is None


def test_an_expired_order_is_gone(redis_client, redis_prefix):
    registry = make_registry()
    store = RedisMarketData(redis_client, registry, prefix=redis_prefix, order_ttl_s=1)
    events = venue_events(registry, seed=6, batches=2)
    store.apply(events[:-1])
    orders = fold_orders(events[:-1])
    closed = [o for o in orders.values() if o.closed]
    live = [o for o in orders.values() if not o.closed]
    assert store.order(closed[0].order_id) == closed[0]
    time.sleep(1.1)
    assert store.order(closed[0].order_id) is None  # readers honour the expiry at once
    store.apply(events[-1:])  # the next batch deletes the expired records
    bucket = store.key("orders", closed[0].order_id // 1024)
    assert redis_client.hget(bucket, closed[0].order_id) is None
    assert redis_client.zcard(store.key("orders", "closed")) <= 1
    for order in live:
        if order.order_id != int(events[-1]["order_id"]):
            assert store.order(order.order_id) == order


def test_values_carry_exact_decimals_and_integers(store, redis_client):
    events = venue_events(store.registry, seed=8, batches=4)
    store.apply(events)
    odd = store.registry.get("ODD-USDT")  # tick 0.05, lot 0.5
    checked = 0
    for candle in store.candles("ODD-USDT", "1m", limit=100):
        stored = {k.decode(): v.decode() for k, v in
                  redis_client.hgetall(store.key("candle", "ODD-USDT", "1m", candle.start_ms)).items()}
        assert stored["open"] == odd.ticks_to_price(candle.open)
        assert stored["high"] == odd.ticks_to_price(candle.high)
        assert stored["low"] == odd.ticks_to_price(candle.low)
        assert stored["close"] == odd.ticks_to_price(candle.close)
        assert stored["volume"] == odd.lots_to_qty(candle.volume)
        checked += 1
    assert checked > 2
    trade = json.loads(redis_client.lindex(store.key("trades", "ODD-USDT"), 0))
    assert trade["price"] == odd.ticks_to_price(trade["price_ticks"])
    assert trade["qty"] == odd.lots_to_qty(trade["qty_lots"])
    some_order = next(o for o in fold_orders(events).values() if o.pair_id == odd.pair_id)
    stored = json.loads(redis_client.hget(store.key("orders", some_order.order_id // 1024),
                                          some_order.order_id))
    assert stored["quantity"] == odd.lots_to_qty(some_order.quantity)
    assert stored["filled"] == odd.lots_to_qty(some_order.filled_qty)
    assert stored["leaves"] == odd.lots_to_qty(some_order.leaves_qty)
    assert stored["price"] == (odd.ticks_to_price(some_order.price) if some_order.price else "")
    assert stored["status"] == some_order.status.name


def test_live_updates_are_published_once(store, redis_client):
    events = venue_events(store.registry, seed=12, batches=3)
    trades = events[(events["kind"] == EventKind.TRADE) & (events["pair_id"] == 0)]
    account = int(trades["account"][0])
    pubsub = redis_client.pubsub()
    pubsub.subscribe(store.key("ch", "trades", "AAA-USDT"), store.key("ch", "book", "AAA-USDT"),
                     store.key("ch", "orders", account))
    for _ in range(3):
        assert pubsub.get_message(timeout=1.0)["type"] == "subscribe"
    store.apply(events)
    store.apply(events)  # a replay publishes nothing
    store.put_book(0, 5, [(100, 3, 1)], [])
    store.put_book(0, 4, [(100, 3, 1)], [])  # older: neither stored nor published
    received = {"trades": [], "book": [], "orders": []}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is None:
            if received["book"]:
                break
            continue
        channel = message["channel"].decode().rsplit(":", 2)[1]
        received[channel].append(json.loads(message["data"]))
    pubsub.close()
    published = [t["seq"] for batch in received["trades"] for t in batch]
    assert published == trades["seq"].tolist()
    assert [b["seq"] for b in received["book"]] == [5]
    # one message per script call, conflated: the records the batch left, once each
    batches = -(-len(events) // store.max_batch)
    assert len(received["trades"]) == len(received["orders"]) == batches == 1
    records = received["orders"][0]
    mine = {o.order_id for o in fold_orders(events).values() if o.account == account}
    assert sorted(r["order_id"] for r in records) == sorted(mine)
    for record in records:
        stored = redis_client.hget(store.key("orders", record["order_id"] // 1024),
                                   record["order_id"])
        assert record == json.loads(stored)
