"""The Kafka sink against the real broker: a 2xx id is the id the bridge derives for the
message, and the bridge decodes the message to the record the gateway validated."""

import dataclasses

import pytest
from confluent_kafka import Consumer

from ringex.config import load_settings
from ringex.kafka.decode import decode_message

from gateway import requests as bodies
from gateway.sinks import KafkaSink

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]

_FIELDS = ("kind", "side", "order_type", "tif", "flags", "stp", "pair_id", "account",
           "client_order_id", "price", "quantity")


def test_kafka_sink_acks_and_the_bridge_agrees(kafka_bootstrap, kafka_topics, registry):
    topic = kafka_topics(partitions=3, prefix="gw-orders")
    settings = load_settings(environ={}, flags={"kafka": {"bootstrap": kafka_bootstrap},
                                                "redis": {"url": "redis://127.0.0.1:1"}})
    settings = dataclasses.replace(settings, kafka=dataclasses.replace(settings.kafka,
                                                                       orders_topic=topic))
    sink = KafkaSink(settings, registry)
    records = [bodies.native_order(
        f'{{"pair":"{pair}","side":"BUY","order_type":"LIMIT","price":"{price}",'
        f'"quantity":"{qty}","client_order_id":"k-{i}"}}'.encode(), registry, 33, 7, 4096)
        for i, (pair, price, qty) in enumerate([("BTC-USDT", "65000.00", "0.5"),
                                                ("ETH-USDT", "3000.00", "1"),
                                                ("SOL-USDT", "150.000", "2.00")])]
    ids = [sink.submit(record)[0] for record in records]
    sink.close()

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"{topic}-check",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    decoded = {}
    try:
        for _ in range(200):
            message = consumer.poll(0.5)
            if message is None or message.error():
                if len(decoded) == 3:
                    break
                continue
            commands, kind = decode_message(
                message.value(), message.headers(), registry, partition=message.partition(),
                offset=message.offset(), timestamp_ns=0, default_account=1)
            assert kind == "json"
            assert message.key().decode() == registry.pairs[int(commands["pair_id"][0])].name
            decoded[int(commands["order_id"][0])] = commands
            if len(decoded) == 3:
                break
    finally:
        consumer.close()
    assert sorted(decoded) == sorted(ids)
    for order_id, record in zip(ids, records):
        for name in _FIELDS:
            assert decoded[order_id][name][0] == record[name][0], name
