"""The real services the integration tests stand on: Kafka (scripts/kafka.sh) and Redis
(scripts/redis.sh). Fixtures and helpers come from tests/support/services.py."""

from __future__ import annotations

import time

import pytest

from tests.support.services import (check_kafka, check_redis, create_topics, delete_topics,
                                     flush_prefix, unique_name)


def _consume(bootstrap: str, topic: str, want: int, timeout: float = 30.0, **conf):
    """Read ``want`` messages from ``topic`` with a fresh group; bounded by ``timeout``."""
    from confluent_kafka import Consumer

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": unique_name("g"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        **conf,
    })
    out = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(out) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append(msg)
    finally:
        consumer.close()
    return out


# --- the fixtures' own checks fail (not skip) when a service is absent ---------------------


def test_check_kafka_reports_a_dead_address():
    reason = check_kafka("127.0.0.1:1", timeout=1.0)
    assert reason  # a reason string, so the fixture can fail loudly with it


def test_check_redis_reports_a_dead_address():
    reason = check_redis("redis://127.0.0.1:1/0", timeout=1.0)
    assert reason


# --- Kafka ---------------------------------------------------------------------------------


@pytest.mark.kafka
def test_idempotent_acks_all_produce_then_consume(kafka_bootstrap, kafka_topics):
    from confluent_kafka import Producer

    topic = kafka_topics(partitions=2)
    producer = Producer({
        "bootstrap.servers": kafka_bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 1,
    })
    delivered, errors = [], []

    def on_delivery(err, msg):
        (errors if err else delivered).append(err or msg)

    sent = [(b"BTC-USDT", b'{"n":%d}' % i) for i in range(10)]
    for i, (key, value) in enumerate(sent):
        producer.produce(topic, key=key, value=value, headers={"i": str(i)}, on_delivery=on_delivery)
    assert producer.flush(30) == 0, "messages still in flight after 30 s"
    assert errors == []
    assert len(delivered) == len(sent)
    # One key -> one partition, offsets 0..9 in order.
    assert len({m.partition() for m in delivered}) == 1
    assert [m.offset() for m in delivered] == list(range(len(sent)))

    got = _consume(kafka_bootstrap, topic, want=len(sent))
    assert [(m.key(), m.value()) for m in got] == sent
    assert [dict(m.headers())["i"] for m in got] == [str(i).encode() for i in range(len(sent))]


@pytest.mark.kafka
def test_transactional_commit_is_seen_by_read_committed_abort_is_not(kafka_bootstrap, kafka_topics):
    from confluent_kafka import Producer

    topic = kafka_topics()
    producer = Producer({
        "bootstrap.servers": kafka_bootstrap,
        "transactional.id": unique_name("tx"),
        "enable.idempotence": True,
        "acks": "all",
    })
    producer.init_transactions(60)  # first use on a fresh broker creates __transaction_state

    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, key=b"k", value=b"committed-%d" % i)
    producer.commit_transaction(30)

    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"aborted")
    producer.flush(30)
    producer.abort_transaction(30)

    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"committed-3")
    producer.commit_transaction(30)

    got = _consume(kafka_bootstrap, topic, want=4, **{"isolation.level": "read_committed"})
    assert [m.value() for m in got] == [b"committed-0", b"committed-1", b"committed-2", b"committed-3"]

    # read_uncommitted sees the aborted record too: the abort really reached the log.
    raw = _consume(kafka_bootstrap, topic, want=5, **{"isolation.level": "read_uncommitted"})
    assert b"aborted" in [m.value() for m in raw]


@pytest.mark.kafka
def test_topic_helpers_create_and_delete(kafka_bootstrap, kafka_admin):
    name = unique_name("helper")
    create_topics(kafka_bootstrap, [name], partitions=3)
    try:
        md = kafka_admin.list_topics(name, timeout=10)
        assert len(md.topics[name].partitions) == 3
    finally:
        delete_topics(kafka_bootstrap, [name])
    deadline = time.monotonic() + 30
    while name in kafka_admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"topic {name} still listed 30 s after its deletion"
        time.sleep(0.2)
    delete_topics(kafka_bootstrap, [name])  # deleting a missing topic is not an error


# --- Redis ---------------------------------------------------------------------------------

# Keep the larger of the stored value and ARGV[1]; return the stored value.
_MAX_LUA = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or (tonumber(ARGV[1]) > tonumber(cur)) then
  redis.call('SET', KEYS[1], ARGV[1])
  return tonumber(ARGV[1])
end
return tonumber(cur)
"""


@pytest.mark.redis
def test_redis_set_get_and_lua(redis_client, redis_prefix):
    key = redis_prefix + "greeting"
    assert redis_client.set(key, b"hello")
    assert redis_client.get(key) == b"hello"

    high = redis_prefix + "high"
    assert [redis_client.eval(_MAX_LUA, 1, high, v) for v in (5, 3, 9, 7)] == [5, 5, 9, 9]
    assert redis_client.get(high) == b"9"

    script = redis_client.register_script(_MAX_LUA)  # EVALSHA path
    assert script(keys=[high], args=[11]) == 11


@pytest.mark.redis
def test_redis_has_aof_persistence(redis_client):
    assert redis_client.config_get("appendonly") == {"appendonly": "yes"}
    assert redis_client.info("persistence")["aof_enabled"] == 1


@pytest.mark.redis
def test_flush_prefix_removes_only_its_keys(redis_client, redis_prefix):
    other = f"test:{unique_name('other')}:"
    try:
        redis_client.mset({redis_prefix + str(i): i for i in range(1200)})
        redis_client.set(other + "keep", 1)
        assert flush_prefix(redis_client, redis_prefix) == 1200
        assert redis_client.get(other + "keep") == b"1"
        assert list(redis_client.scan_iter(match=redis_prefix + "*")) == []
    finally:
        flush_prefix(redis_client, other)
