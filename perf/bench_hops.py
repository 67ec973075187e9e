"""Where one order's latency goes, hop by hop, on an idle exchange through real Kafka.

``python -m perf.bench_hops [--orders 150] [--interval-ms 30] [--lingers 0,5]``

For each ``kafka.transaction_linger_ms`` in ``--lingers`` (the first is the baseline, run in
the same process, because this machine is shared and noisy) it starts its own ``ringex serve
--kafka --redis`` (``perf.loadtest.exchange``), then sends one resting JSON limit order every
``--interval-ms`` and, for each, takes three clocks:

* ``sent``: just before ``produce`` of the `orders` message (wall clock, ms resolution is
  enough: the hops are milliseconds);
* ``produced``: the Kafka CreateTime of its ``ACCEPTED`` message in `order-events`, set by the
  publisher's producer when it handed the event to librdkafka;
* ``visible``: when a ``read_committed`` consumer got that message.

``sent → produced`` is the bridge, the engine and the publisher's pickup; ``produced →
visible`` is the publisher's transaction (linger, commit, markers) and the consumer's fetch.
One JSON line per linger, with the machine and versions. The run fails (exit 1) unless every
order got exactly one ``ACCEPTED`` and each exchange stopped cleanly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _percentiles(values_ms: np.ndarray) -> dict:
    return {name: round(float(np.percentile(values_ms, q)), 2)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99))} | {
        "max": round(float(values_ms.max()), 2)}


def _run(bootstrap: str, redis_url: str, linger_ms: int, orders: int, interval_s: float) -> dict:
    from confluent_kafka import Consumer, Producer, TopicPartition

    from perf.loadtest.exchange import start_exchange

    exchange = start_exchange(bootstrap, redis_url, extra_env={
        "RINGEX_KAFKA_EVENTS_FORMAT": "json",
        "RINGEX_KAFKA_TRANSACTION_LINGER_MS": str(linger_ms)})
    accepted: dict[int, tuple[float, float]] = {}
    duplicates = 0
    try:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"hops-{time.time_ns()}",
                             "isolation.level": "read_committed", "fetch.wait.max.ms": 5,
                             "enable.auto.commit": False, "log_level": 3})
        partitions = consumer.list_topics(exchange.topics["events"], timeout=30).topics[
            exchange.topics["events"]].partitions
        consumer.assign([TopicPartition(exchange.topics["events"], p, 0) for p in partitions])
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                             "enable.idempotence": True, "linger.ms": 0, "log_level": 3})
        sent: dict[int, float] = {}
        first_id = 7_000_000
        for index in range(orders):
            client_order_id = first_id + index
            body = json.dumps({"type": "new", "pair": "BTC-USDT", "side": "buy",
                               "order_type": "limit", "price": "60000.00",
                               "quantity": "0.01000", "time_in_force": "gtc", "account": 1,
                               "client_order_id": client_order_id}).encode()
            sent[client_order_id] = time.time()
            producer.produce(exchange.topics["orders"], body, b"BTC-USDT",
                             partition=0)
            producer.poll(0)
            deadline = time.monotonic() + 5
            while client_order_id not in accepted and time.monotonic() < deadline:
                for message in consumer.consume(100, timeout=0.005):
                    if message.error() is not None:
                        continue
                    visible = time.time()
                    event = json.loads(message.value())
                    coid = event.get("client_order_id")
                    if event.get("kind") != "ACCEPTED" or coid not in sent:
                        continue
                    if coid in accepted:
                        duplicates += 1
                        continue
                    accepted[coid] = (message.timestamp()[1] / 1000, visible)
            time.sleep(interval_s)
        producer.flush(10)
        consumer.close()
    finally:
        code = exchange.stop()
    rows = np.array([(accepted[c][0] - sent[c], accepted[c][1] - accepted[c][0],
                      accepted[c][1] - sent[c]) for c in sorted(accepted)]) * 1000
    ok = len(accepted) == orders and duplicates == 0 and code == 0
    return {"transaction_linger_ms": linger_ms, "orders": orders, "accepted": len(accepted),
            "duplicates": duplicates, "exchange_exit": code, "ok": ok,
            "sent_to_produced_ms": _percentiles(rows[:, 0]) if len(rows) else None,
            "produced_to_visible_ms": _percentiles(rows[:, 1]) if len(rows) else None,
            "sent_to_visible_ms": _percentiles(rows[:, 2]) if len(rows) else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--interval-ms", type=float, default=30.0)
    parser.add_argument("--lingers", default="0,5",
                        help="kafka.transaction_linger_ms values; the first is the baseline")
    args = parser.parse_args(argv)
    from perf.loadtest.report import machine

    ok = True
    for linger in (int(x) for x in args.lingers.split(",") if x):
        result = _run(args.bootstrap, args.redis, linger, args.orders, args.interval_ms / 1000)
        ok &= result["ok"]
        print(json.dumps({"bench": "hops", **result, "interval_ms": args.interval_ms,
                          "machine": machine(args.bootstrap, args.redis)}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
