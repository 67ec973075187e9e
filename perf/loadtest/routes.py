"""How the flow reaches the exchange: Kafka JSON, Kafka binary frames, or the REST gateway.

A route turns a :class:`~perf.loadtest.flow.Flow` into wire messages once, before anything
is timed (:meth:`prepare`), then sends commands ``[lo, hi)`` of the flow on demand
(:meth:`send`); the mode decides when. Every message carries the pair as its key, and its
partition is ``partition_for(key, n)`` (docs/kafka.md), so one pair stays in one partition.

- ``json``: one native JSON command per message (docs/wire-format.md). NEW orders carry the
  flow's integer ``client_order_id`` and ``account``; cancels and amends name their order by
  ``(account, client_order_id)``, because the order id (``kafka_order_id(partition, offset)``)
  is only known once Kafka has acknowledged the NEW.
- ``frame``: ``COMMAND_DTYPE`` records in binary frames, one frame per pair per send call
  (at most ``frame_records`` records each). Frames keep the producer's order ids
  (``flow.id_base + i + 1``, far above any ``kafka_order_id``); cancels and amends name their
  order by that id.
- ``rest``: ``POST /orders/batch`` (NEW orders only, up to the gateway's batch limit) and
  ``PATCH`` / ``DELETE /orders/{id}`` for amends and cancels, with the ids the gateway
  answered. See :mod:`perf.loadtest.rest`.

Acknowledgement: a Kafka delivery report (per message; a frame acknowledges all its records),
counted into ``counters.acked``.
"""

from __future__ import annotations

import numpy as np

from ringex.kafka.partitioning import partition_for
from ringex.records import CommandKind, OrderType, Side, TimeInForce
from ringex.wire.frames import encode_frame
from ringex.wire.units import registry_units

__all__ = ["JsonRoute", "FrameRoute", "producer_config", "ROUTES"]

_SIDE = {Side.BUY: "buy", Side.SELL: "sell"}
_TIF = {TimeInForce.GTC: "gtc", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}


def producer_config(bootstrap: str, linger_ms: float, **extra) -> dict:
    """An idempotent ``acks=all`` producer sized for a million queued messages; ``linger_ms``
    is the run's ``producer_linger_ms``."""
    config = {
        "bootstrap.servers": bootstrap,
        "client.id": "ringex-loadtest",
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": linger_ms,
        "batch.num.messages": 10_000,
        "batch.size": 1 << 20,
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2 << 20,
        "compression.type": "lz4",
        "log_level": 3,
    }
    config.update(extra)
    return config


class _KafkaRoute:
    name = "kafka"

    def __init__(self, topic: str, partitions: int, registry):
        self.topic = topic
        self.partitions = partitions
        self.registry = registry
        self.keys = [p.name.encode() for p in registry.pairs]
        self.partition_of = [partition_for(key, partitions) for key in self.keys]
        self.producer = None
        self.counters = None
        self.messages = 0

    def open(self, producer, counters) -> None:
        self.producer = producer
        self.counters = counters

    def _produce(self, value: bytes, pair_id: int, acks: int) -> None:
        """Produce one message; a full local queue is waited out (bounded by the caller's
        run time: librdkafka drains it as the broker acknowledges)."""
        producer = self.producer
        counters = self.counters

        def delivered(err, _msg, acks=acks):
            if err is None:
                counters.acked += acks
            else:
                counters.errors += 1

        for _attempt in range(100_000):
            try:
                producer.produce(self.topic, value, self.keys[pair_id],
                                 partition=self.partition_of[pair_id], on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.005)
        else:
            raise TimeoutError("the producer queue stayed full")
        self.messages += 1


class JsonRoute(_KafkaRoute):
    name = "json"

    def prepare(self, flow) -> None:
        units = registry_units(self.registry).by_id
        records = flow.records
        coids = flow.client_order_ids()
        payloads = []
        kinds = records["kind"].tolist()
        pairs = records["pair_id"].tolist()
        sides = records["side"].tolist()
        types = records["order_type"].tolist()
        tifs = records["tif"].tolist()
        prices = records["price"].tolist()
        quantities = records["quantity"].tolist()
        accounts = records["account"].tolist()
        targets = flow.target.tolist()
        names = [p.name for p in self.registry.pairs]
        for i, kind in enumerate(kinds):
            pair = units[pairs[i]]
            name = names[pairs[i]]
            if kind == CommandKind.NEW:
                if types[i] == OrderType.MARKET:
                    body = (f'{{"type":"new","pair":"{name}","side":"{_SIDE[sides[i]]}",'
                            f'"order_type":"market",'
                            f'"quantity":"{pair.quantity.format(quantities[i])}",')
                else:
                    body = (f'{{"type":"new","pair":"{name}","side":"{_SIDE[sides[i]]}",'
                            f'"order_type":"limit","price":"{pair.price.format(prices[i])}",'
                            f'"quantity":"{pair.quantity.format(quantities[i])}",'
                            f'"time_in_force":"{_TIF[tifs[i]]}",')
                body += f'"client_order_id":{coids[i]},"account":{accounts[i]}}}'
            elif kind == CommandKind.CANCEL:
                body = (f'{{"type":"cancel","pair":"{name}","client_order_id":'
                        f'{coids[targets[i]]},"account":{accounts[i]}}}')
            else:
                body = (f'{{"type":"amend","pair":"{name}","client_order_id":'
                        f'{coids[targets[i]]},"account":{accounts[i]},'
                        f'"price":"{pair.price.format(prices[i])}",'
                        f'"quantity":"{pair.quantity.format(quantities[i])}"}}')
            payloads.append(body.encode())
        self.payloads = payloads
        self.pairs = pairs

    def send(self, lo: int, hi: int) -> None:
        # The hot loop of the JSON route: one produce per order and one shared callback (a
        # closure per message cost more than the produce call itself).
        payloads, pairs, keys, partition_of = self.payloads, self.pairs, self.keys, \
            self.partition_of
        produce, topic, delivered = self.producer.produce, self.topic, self._delivered_one
        for i in range(lo, hi):
            pair_id = pairs[i]
            try:
                produce(topic, payloads[i], keys[pair_id], partition_of[pair_id], delivered)
                self.messages += 1
            except BufferError:
                self._produce(payloads[i], pair_id, 1)
        self.counters.sent += hi - lo
        self.producer.poll(0)

    def _delivered_one(self, err, _msg) -> None:
        if err is None:
            self.counters.acked += 1
        else:
            self.counters.errors += 1


class FrameRoute(_KafkaRoute):
    name = "frame"

    def __init__(self, topic: str, partitions: int, registry, frame_records: int = 1000):
        super().__init__(topic, partitions, registry)
        self.frame_records = frame_records

    def prepare(self, flow) -> None:
        records = flow.records.copy()
        new = records["kind"] == CommandKind.NEW
        ids = flow.frame_order_ids()
        coids = flow.client_order_ids()
        records["order_id"] = np.where(new, ids, 0)
        records["client_order_id"] = np.where(new, coids, 0)
        ops = np.flatnonzero(~new)
        records["order_id"][ops] = ids[flow.target[ops]]
        self.records = records
        self.pair_ids = sorted(set(records["pair_id"].tolist()))

    def send(self, lo: int, hi: int) -> None:
        chunk = self.records[lo:hi]
        for pair_id in self.pair_ids:
            mine = chunk[chunk["pair_id"] == pair_id]
            for start in range(0, mine.shape[0], self.frame_records):
                part = mine[start:start + self.frame_records]
                self._produce(encode_frame(part), pair_id, part.shape[0])
        self.counters.sent += hi - lo
        self.producer.poll(0)


ROUTES = {"json": JsonRoute, "frame": FrameRoute}
