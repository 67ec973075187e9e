"""One gateway over several engine instances (``gateway.instances``, ``gateway/routing.py``).

Two instances on the real Redis, each a real matcher writing a real ``RedisMarketData``
under its own prefix, over a 3-partition ``orders`` topic: instance A owns partitions 0 and 1
(ETH-USDT), instance B partition 2 (BTC-USDT, SOL-USDT). A sink stands in for Kafka: it
sends each command to its pair's partition and numbers orders as the bridge does
(``kafka_order_id(partition, offset)``). Each instance's seq space starts at 1, as two real
instances' do. Checked through the app: every read endpoint answers each pair from its
owner's prefix, order reads find orders of both instances, and owner checks hold when two
instances hold orders with the same (producer-chosen) id for different accounts.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from falcon import testing

from ringex import commands as C
from ringex.config import GatewaySettings, load_settings, parse_gateway_instances
from ringex.engine import MatchingEngine
from ringex.errors import ConfigError, RingexError
from ringex.kafka.partitioning import partition_for
from ringex.records import CommandKind, OrderStatus, Side
from ringex.wire.ids import kafka_order_id

from gateway.account_orders import MemoryAccountOrders
from gateway.app import create_app
from gateway.auth import Accounts
from gateway.dependencies import Dependencies
from gateway.market_reader import SingleStoreReader
from gateway.routing import RoutedMarketData

PARTITIONS = 3
ALICE_KEY, ALICE = "alice-key", 11
BOB_KEY, BOB = "bob-key", 22
CAROL_KEY, CAROL = "carol-key", 33
ALICE_H, BOB_H, CAROL_H = ({"X-API-Key": k} for k in (ALICE_KEY, BOB_KEY, CAROL_KEY))
# An id two frame producers chose, one on each instance. It decodes to partition 2 (instance
# B) at an offset no bridge has reached, so the id's hint is right for Bob's and wrong for
# Alice's: the router must look past the instance it names.
PRODUCER_ID = kafka_order_id(2, 10**9)


# -- the setting ----------------------------------------------------------------------------
def test_the_setting_parses_in_order_and_validates():
    assert parse_gateway_instances(" 0,2 = ex:a: ; 1=ex:b:;", 3) == \
        (((0, 2), "ex:a:"), ((1,), "ex:b:"))
    for text, words in (("0=ex:a:;1=ex:a:", "appears twice"),
                        ("0,1=ex:a:;1=ex:b:", "owned by both"),
                        ("0=ex:a:", "no instance owns partition(s) [1]"),
                        ("0=ex:a:;2=ex:b:", "not below kafka.partitions"),
                        ("0=;1=ex:b:", "non-empty prefix"),
                        ("ex:a:", "non-empty prefix"),
                        ("x=ex:a:;1=ex:b:", "not a partition number"),
                        ("-1=ex:a:", "not a partition number"),
                        (" ; ", "names no instance")):
        with pytest.raises(ConfigError, match="gateway.instances") as raised:
            parse_gateway_instances(text, 2)
        assert words in str(raised.value), (text, raised.value)


def test_settings_validate_the_setting_and_need_the_distributed_mode():
    distributed = {"RINGEX_KAFKA_BOOTSTRAP": "k:9092", "RINGEX_REDIS_URL": "redis://r/0",
                   "RINGEX_KAFKA_PARTITIONS": "2"}
    settings = load_settings(environ={**distributed,
                                      "RINGEX_GATEWAY_INSTANCES": "0=ex:a:;1=ex:b:"})
    assert settings.gateway.instances == "0=ex:a:;1=ex:b:"
    with pytest.raises(ConfigError, match="no instance owns partition"):
        load_settings(environ={**distributed, "RINGEX_GATEWAY_INSTANCES": "0=ex:a:"})
    with pytest.raises(ConfigError, match="gateway.instances needs the distributed mode"):
        load_settings(environ={"RINGEX_GATEWAY_INSTANCES": "0=ex:a:;1=ex:b:"})
    assert load_settings(environ=distributed).gateway.instances == ""  # default: one prefix


def test_the_cli_flag_reaches_the_setting():
    from ringex.cli import build_parser, settings_from_args

    args = build_parser().parse_args(["gateway", "--kafka", "k:9092", "--redis", "redis://r/0",
                                      "--instances", "0=ex:a:;1=ex:b:"])
    settings = settings_from_args(args, environ={"RINGEX_KAFKA_PARTITIONS": "2"})
    assert settings.gateway.instances == "0=ex:a:;1=ex:b:"


# -- pure routing (no store is read) -----------------------------------------------------------
def test_the_router_refuses_a_partition_map_with_holes_or_overlaps(registry):
    with pytest.raises(ValueError, match="have no instance"):
        RoutedMarketData([((0,), None, "a")], registry, 2)
    with pytest.raises(ValueError, match="duplicate"):
        RoutedMarketData([((0, 1), None, "a"), ((1,), None, "b")], registry, 2)
    router = RoutedMarketData([((0, 1), None, "a"), ((2,), None, "b")], registry, PARTITIONS)
    assert [router.instance_of_pair(p.name) for p in registry] == \
        [0 if partition_for(p.name.encode(), PARTITIONS) < 2 else 1 for p in registry]
    assert router.instance_of_pair("NOPE-USDT") is None
    assert router.instance_of_order(kafka_order_id(2, 5)) == 1
    assert router.instance_of_order(kafka_order_id(1, 0)) == 0
    assert router.instance_of_order(kafka_order_id(7, 0)) is None  # beyond the topic
    with pytest.raises(RingexError, match="read-only"):
        router.apply(np.zeros(0))


# -- two instances on the real Redis -----------------------------------------------------------
@dataclasses.dataclass
class Instance:
    partitions: tuple[int, ...]
    engine: MatchingEngine
    store: object  # RedisMarketData


class ScaleOutSink:
    """Kafka stand-in: each command goes to its pair's partition (``crc32(name) % 3``, a
    command of no pair to partition 0, as ``KafkaSink`` keys it) and gets the id the bridge
    would derive; the instance owning that partition matches it and writes its prefix."""

    def __init__(self, instances: list[Instance], registry):
        self.instances = instances
        self.registry = registry
        self.offsets = [0] * PARTITIONS

    def instance_of(self, partition: int) -> Instance:
        return next(i for i in self.instances if partition in i.partitions)

    def submit(self, commands: np.ndarray) -> list[int]:
        ids = []
        for index in range(len(commands)):
            record = commands[index:index + 1].copy()
            pair_id = int(record["pair_id"][0])
            name = self.registry.pairs[pair_id].name.encode() if pair_id >= 0 else b""
            partition = partition_for(name, PARTITIONS)
            order_id = kafka_order_id(partition, self.offsets[partition])
            self.offsets[partition] += 1
            if record["kind"][0] == CommandKind.NEW:
                record["order_id"] = order_id
            self.run(self.instance_of(partition), record)
            ids.append(order_id)
        return ids

    def run(self, instance: Instance, records: np.ndarray) -> np.ndarray:
        events = instance.engine.process(records)
        instance.store.apply(events)
        for pair in self.registry:
            if partition_for(pair.name.encode(), PARTITIONS) in instance.partitions:
                bids, asks = instance.engine.depth(pair.pair_id, 50)
                instance.store.put_book(pair.pair_id, int(events["seq"][-1]), bids, asks)
        return events

    def health(self) -> dict:
        return {"ok": True, "sequencer": "scale-out stand-in"}

    def close(self) -> None:
        pass


@pytest.fixture
def scale_out(registry, redis_client, redis_prefix):
    from ringex.marketdata.redis_store import RedisMarketData

    layout = parse_gateway_instances(f"0,1={redis_prefix}a:;2={redis_prefix}b:", PARTITIONS)
    instances = [Instance(owned, MatchingEngine(registry.pairs, order_capacity=4096),
                          RedisMarketData(redis_client, registry, prefix=prefix,
                                          order_ttl_s=3600))
                 for owned, prefix in layout]
    router = RoutedMarketData([(i.partitions, i.store, prefix)
                               for i, (_, prefix) in zip(instances, layout)],
                              registry, PARTITIONS)
    sink = ScaleOutSink(instances, registry)
    dependencies = Dependencies(
        order_sink=sink, market_data=router, registry=registry,
        accounts=Accounts({ALICE_KEY: ALICE, BOB_KEY: BOB, CAROL_KEY: CAROL}),
        rate_limiter=None, settings=GatewaySettings(), account_orders=MemoryAccountOrders(),
        mode="distributed")
    yield testing.TestClient(create_app(dependencies)), sink, router


def _order(client, headers, pair, side, price, quantity):
    response = client.simulate_post("/orders", headers=headers, json={
        "pair": pair, "side": side, "order_type": "LIMIT", "price": price,
        "quantity": quantity})
    assert response.status_code == 202, response.json
    return response.json["order_id"]


@pytest.mark.redis
def test_every_read_answers_each_pair_from_its_instance(scale_out, registry):
    client, sink, router = scale_out
    a, b = sink.instances
    assert [router.instance_of_pair(n) for n in ("ETH-USDT", "BTC-USDT", "SOL-USDT")] == \
        [0, 1, 1]
    # ETH trades on instance A, BTC on instance B; SOL (B) rests one bid
    eth_sell = _order(client, ALICE_H, "ETH-USDT", "SELL", "3000.00", "1.0000")
    eth_buy = _order(client, BOB_H, "ETH-USDT", "BUY", "3000.00", "0.4000")
    btc_sell = _order(client, BOB_H, "BTC-USDT", "SELL", "65000.00", "0.50000")
    btc_buy = _order(client, ALICE_H, "BTC-USDT", "BUY", "65000.00", "0.20000")
    sol_bid = _order(client, ALICE_H, "SOL-USDT", "BUY", "150.00", "2.00")
    assert [o >> 40 for o in (eth_sell, eth_buy, btc_sell, btc_buy, sol_bid)] == [0, 0, 2, 2, 2]
    # both instances are at seq 1.. of their own, and each wrote only its own prefix
    seqs = client.simulate_get("/health").json["market_data"]["instances"]
    assert [(s["partitions"], s["last_seq"] > 0) for s in seqs] == [([0, 1], True), ([2], True)]
    assert a.store.book("BTC-USDT") == (0, [], []) and b.store.book("ETH-USDT") == (0, [], [])
    assert a.store.order(btc_sell) is None and b.store.order(eth_sell) is None

    eth = client.simulate_get("/book/ETH-USDT").json
    assert (eth["bids"], eth["asks"]) == ([], [["3000.00", "0.6000", 1]])
    btc = client.simulate_get("/book/BTC-USDT").json
    assert (btc["bids"], btc["asks"]) == ([], [["65000.00", "0.30000", 1]])
    sol = client.simulate_get("/book/SOL/USDT").json
    assert (sol["bids"], sol["asks"]) == ([["150.000", "2.00", 1]], [])
    assert eth["seq"] == a.store.book("ETH-USDT").seq and btc["seq"] == b.store.book("BTC-USDT").seq

    for pair, price, volume, taker, maker in (("ETH-USDT", "3000.00", "0.4000", eth_buy, eth_sell),
                                              ("BTC-USDT", "65000.00", "0.20000", btc_buy,
                                               btc_sell)):
        trades = client.simulate_get(f"/trades/{pair}").json["trades"]
        assert [(t["price"], t["quantity"], t["taker_order_id"], t["maker_order_id"])
                for t in trades] == [(price, volume, taker, maker)], pair
        candles = client.simulate_get(f"/candles/{pair}?interval=1m").json["candles"]
        assert [(c["close"], c["volume"], c["trades"]) for c in candles] == [(price, volume, 1)]
    assert client.simulate_get("/trades/SOL-USDT").json["trades"] == []
    assert client.simulate_get("/book/NOPE-USDT").status_code == 404
    assert client.simulate_get("/candles/BTC-USDT?interval=7m").status_code == 400
    statuses = {p["name"]: p["status"] for p in client.simulate_get("/pairs").json["pairs"]}
    assert statuses == {"BTC-USDT": "TRADING", "ETH-USDT": "TRADING", "SOL-USDT": "TRADING"}

    # orders of both instances, each only for its owner
    for headers, order_id, status in ((ALICE_H, eth_sell, "PARTIALLY_FILLED"),
                                      (BOB_H, eth_buy, "FILLED"),
                                      (BOB_H, btc_sell, "PARTIALLY_FILLED"),
                                      (ALICE_H, btc_buy, "FILLED"), (ALICE_H, sol_bid, "NEW")):
        got = client.simulate_get(f"/orders/{order_id}", headers=headers)
        assert got.status_code == 200 and got.json["status"] == status, (order_id, got.json)
        assert client.simulate_get(f"/orders/{order_id}", headers=CAROL_H).status_code == 404
    listing = client.simulate_get("/orders", headers=ALICE_H).json["orders"]
    assert [o["order_id"] for o in listing] == [sol_bid, btc_buy, eth_sell]  # newest first
    listing = client.simulate_get("/orders?pair=ETH-USDT", headers=BOB_H).json["orders"]
    assert [o["order_id"] for o in listing] == [eth_buy]

    # a cancel goes to the order's own partition and instance
    assert client.simulate_delete(f"/orders/{sol_bid}", headers=BOB_H).status_code == 404
    assert client.simulate_delete(f"/orders/{sol_bid}", headers=ALICE_H).status_code == 202
    assert client.simulate_get(f"/orders/{sol_bid}", headers=ALICE_H).json["status"] == \
        "CANCELED"
    assert sink.offsets == [2, 0, 4]


@pytest.mark.redis
def test_one_producer_id_on_two_instances_is_each_accounts_own_order(scale_out, registry):
    """Frame producers choose their ids; two instances may each hold one with the same id.
    Each account sees, cancels and amends only its own; a third account gets 404 and causes
    no command."""
    client, sink, router = scale_out
    a, b = sink.instances
    eth, btc = registry.get("ETH-USDT"), registry.get("BTC-USDT")
    sink.run(a, C.pack([C.new(PRODUCER_ID, ALICE, Side.SELL, eth.price_to_ticks("3100.00"),
                              eth.min_qty_lots * 10, pair=eth.pair_id)]))
    sink.run(b, C.pack([C.new(PRODUCER_ID, BOB, Side.BUY, btc.price_to_ticks("64000.00"),
                              btc.min_qty_lots * 10, pair=btc.pair_id)]))
    assert router.instance_of_order(PRODUCER_ID) == 1
    assert router.order(PRODUCER_ID).account == BOB  # the instance the id names comes first
    assert router.owned_order(PRODUCER_ID, ALICE)[0].pair_id == eth.pair_id
    assert router.owned_order(PRODUCER_ID, BOB)[0].pair_id == btc.pair_id
    assert router.owned_order(PRODUCER_ID, CAROL) == (None, True)
    assert router.owned_order(PRODUCER_ID + 1, ALICE) == (None, False)

    alice = client.simulate_get(f"/orders/{PRODUCER_ID}", headers=ALICE_H).json
    bob = client.simulate_get(f"/orders/{PRODUCER_ID}", headers=BOB_H).json
    assert (alice["pair"], alice["side"], bob["pair"], bob["side"]) == \
        ("ETH-USDT", "SELL", "BTC-USDT", "BUY")
    before = list(sink.offsets)
    for method in ("simulate_get", "simulate_delete"):
        assert getattr(client, method)(f"/orders/{PRODUCER_ID}",
                                       headers=CAROL_H).status_code == 404
    assert client.simulate_patch(f"/orders/{PRODUCER_ID}", headers=CAROL_H,
                                 json={"quantity": "0.1"}).status_code == 404
    assert sink.offsets == before  # nothing was sent for Carol
    # Bob's cancel goes to BTC's partition, so only his order is canceled
    assert client.simulate_delete(f"/orders/{PRODUCER_ID}", headers=BOB_H).status_code == 202
    assert sink.offsets == [before[0], before[1], before[2] + 1]
    assert b.store.order(PRODUCER_ID).status == OrderStatus.CANCELED
    assert a.store.order(PRODUCER_ID).status == OrderStatus.NEW
    assert client.simulate_get(f"/orders/{PRODUCER_ID}", headers=ALICE_H).json["status"] == "NEW"


@pytest.mark.redis
def test_the_wiring_builds_a_router_only_when_instances_are_set(registry, redis_client,
                                                               redis_prefix):
    from ringex.marketdata.redis_store import RedisMarketData

    from gateway.wiring import _market_data

    environ = {"RINGEX_KAFKA_BOOTSTRAP": "k:9092", "RINGEX_REDIS_URL": "redis://r/0",
               "RINGEX_KAFKA_PARTITIONS": "3", "RINGEX_REDIS_PREFIX": f"{redis_prefix}gw:"}
    single = _market_data(load_settings(environ=environ), redis_client, registry,
                          RedisMarketData)
    assert isinstance(single, SingleStoreReader)
    assert isinstance(single.store, RedisMarketData)
    assert single.store.prefix == f"{redis_prefix}gw:"
    routed = _market_data(load_settings(environ={
        **environ, "RINGEX_GATEWAY_INSTANCES": f"2={redis_prefix}b:;0,1={redis_prefix}a:"}),
        redis_client, registry, RedisMarketData)
    assert isinstance(routed, RoutedMarketData)
    assert [(s.prefix, owned) for s, owned in zip(routed.stores, routed.owned)] == \
        [(f"{redis_prefix}b:", (2,)), (f"{redis_prefix}a:", (0, 1))]
    assert routed.instance_of_pair("BTC-USDT") == 0 and routed.instance_of_pair("ETH-USDT") == 1
