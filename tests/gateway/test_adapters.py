"""The adapters on their own: Kafka messages the bridge decodes back to the same record, the
Kafka sink's ids and failures (fake producer), token buckets (in process and in Redis), API
key parsing, the account index files."""

import time

import numpy as np
import pytest

from ringex.config import ConfigError, load_settings
from ringex.wire.ids import kafka_order_id
from ringex.wire.json_commands import decode_command

from gateway import requests as bodies
from gateway.account_orders import FileAccountOrders
from gateway.auth import Accounts, parse_api_keys
from gateway.native_json import command_json
from gateway.ratelimit import LocalTokenBuckets, RedisTokenBuckets
from gateway.sinks import KafkaSink, SequencerUnavailable

pytestmark = pytest.mark.timeout(60)

_FIELDS = ("kind", "side", "order_type", "tif", "flags", "stp", "pair_id", "account",
           "order_id", "client_order_id", "price", "quantity")


@pytest.mark.parametrize("record_of", [
    lambda r: bodies.native_order(
        b'{"pair":"SOL-USDT","side":"sell","order_type":"limit","price":"150.125",'
        b'"quantity":"3.50","post_only":true,"client_order_id":"x-1","stp":"decrement"}',
        r, 9, 5, 4096),
    lambda r: bodies.native_order(
        b'{"pair":"BTC-USDT","side":"BUY","order_type":"MARKET","quantity":"0.1",'
        b'"time_in_force":"FOK"}', r, 9, 5, 4096),
    lambda r: bodies.amend_order(b'{"price":"65000.00","quantity":"1"}', r, 9, 5, 4096,
                                 pair_name="BTC-USDT", order_id=77),
    lambda r: bodies.cancel_order(r, 9, 5, pair_name="ETH-USDT", order_id=78),
    lambda r: bodies.cancel_all(r, 9, 5, None),
    lambda r: bodies.cancel_all(r, 9, 5, "eth/usdt"),
])
def test_kafka_message_decodes_to_the_same_record(registry, record_of):
    record = record_of(registry)
    decoded = decode_command(command_json(record[0], registry), registry, order_id=1,
                             timestamp_ns=5, default_account=1)
    for name in _FIELDS:
        assert decoded[name][0] == record[name][0], name


class _Message:
    def __init__(self, partition, offset):
        self._position = (partition, offset)

    def partition(self):
        return self._position[0]

    def offset(self):
        return self._position[1]


class FakeProducer:
    def __init__(self, config, fail=None, deliver=True):
        self.config = config
        self.pending = []
        self.sent = []
        self.fail = fail
        self.deliver = deliver
        self.delivered = 0

    def produce(self, topic, value, key, headers, on_delivery):
        self.sent.append((topic, key, value))
        self.pending.append(on_delivery)

    def poll(self, timeout):
        """Like librdkafka: serve the delivery reports that are due, else wait."""
        if not self.deliver or not self.pending:
            time.sleep(timeout)
            return 0
        pending, self.pending = self.pending, []
        for callback in pending:
            callback(self.fail, None if self.fail else _Message(2, 40 + self.delivered))
            self.delivered += 1
        return len(pending)

    def flush(self, timeout):
        if not self.deliver:
            return len(self.pending)
        self.poll(0)
        return 0


class _Error:
    def __str__(self):
        return "broker refused"

    def fatal(self):
        return False


def _kafka_settings():
    return load_settings(environ={}, flags={"kafka": {"bootstrap": "127.0.0.1:1"},
                                            "redis": {"url": "redis://127.0.0.1:1"},
                                            "gateway": {"sequencer_timeout_ms": 200}})


def test_kafka_sink_ids_are_the_bridges(registry):
    producers = []
    sink = KafkaSink(_kafka_settings(), registry,
                     producer_factory=lambda c: producers.append(FakeProducer(c)) or producers[-1])
    records = np.concatenate([
        bodies.native_order(b'{"pair":"ETH-USDT","side":"BUY","order_type":"LIMIT",'
                            b'"price":"3000.00","quantity":"1"}', registry, 9, 5, 4096)] * 2)
    assert sink.submit(records) == [kafka_order_id(2, 40), kafka_order_id(2, 41)]
    producer = producers[0]
    assert producer.config["acks"] == "all" and producer.config["enable.idempotence"] is True
    assert [(topic, key) for topic, key, _ in producer.sent] == [("orders", "ETH-USDT")] * 2


def test_kafka_sink_failures_are_unavailable(registry):
    record = bodies.cancel_all(registry, 9, 5, None)
    refused = KafkaSink(_kafka_settings(), registry,
                        producer_factory=lambda c: FakeProducer(c, fail=_Error()))
    with pytest.raises(SequencerUnavailable, match="refused"):
        refused.submit(record)
    silent = KafkaSink(_kafka_settings(), registry,
                       producer_factory=lambda c: FakeProducer(c, deliver=False))
    with pytest.raises(SequencerUnavailable, match="acknowledge"):
        silent.submit(record)


def test_api_keys_parse_and_reject():
    assert parse_api_keys(" a:1, b-2:22 ,") == {"a": 1, "b-2": 22}
    for bad in ("a", "a:0", "a:x", "a:1,a:2", ":1", "a b:1"):
        with pytest.raises(ConfigError):
            parse_api_keys(bad)


def test_local_bucket_refills_at_the_rate():
    now = [0.0]
    buckets = LocalTokenBuckets(10, 2, clock=lambda: now[0])
    assert [buckets.acquire("k") for _ in range(2)] == [0.0, 0.0]
    assert buckets.acquire("k") == pytest.approx(0.1)
    now[0] = 0.1
    assert buckets.acquire("k") == 0.0


@pytest.mark.redis
def test_redis_bucket_is_shared_and_keys_come_from_redis(redis_client, redis_prefix):
    first = RedisTokenBuckets(redis_client, 1, 3, redis_prefix)
    second = RedisTokenBuckets(redis_client, 1, 3, redis_prefix)  # another worker
    waits = [first.acquire("k"), second.acquire("k"), first.acquire("k"), second.acquire("k")]
    assert waits[:3] == [0.0, 0.0, 0.0] and 0 < waits[3] <= 1.0
    assert first.acquire("other") == 0.0
    redis_client.hset(f"{redis_prefix}api-keys", "from-redis", "42")
    accounts = Accounts({"static": 1}, redis_client, f"{redis_prefix}api-keys")
    assert accounts.account_of("from-redis") == 42
    assert accounts.account_of("static") == 1 and accounts.account_of("nope") is None


def test_file_account_index_keeps_order_across_writers(tmp_path):
    one, two = FileAccountOrders(tmp_path), FileAccountOrders(tmp_path)
    one.record(5, [1, 2])
    two.record(5, [3])
    one.record(6, [9])
    assert one.recent(5, 10) == [3, 2, 1] and two.recent(5, 2) == [3, 2]
    assert one.recent(7, 10) == []
    one.close()
    two.close()
