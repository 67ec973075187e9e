"""The Redis projection of `order-events`: the market-data process and ``ringex rebuild-redis``.

`order-events` holds every event (trades included, with the maker's fields), so it alone
rebuilds candles, recent trades and order status. :class:`Projection` reads it from the
store's ``last_seq`` on, turns the messages back into ``EVENT_DTYPE`` records (JSON exactly,
decimals through the pair registry; event frames as they are), merges the partitions by
``seq`` and applies them to :class:`RedisMarketData`. The distributed market-data process runs
it for ever (``ringex/runtime/marketdata_process.py``); ``rebuild-redis`` runs it up to the
high watermark seen at its start. The store ignores every ``seq`` at or below its
``last_seq``, so either may run twice, or both at once, and nothing is counted twice.
``--flush`` deletes the prefix's keys first (a full rebuild, e.g. after Redis lost data: a
Redis that lost its tail has a ``last_seq`` behind the events it kept, so without ``--flush``
the missing events are simply applied).

L2 books are not events: they come back with the engine's next book snapshot.
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

import numpy as np

from ringex.records import (EVENT_DTYPE, EventKind, OrderFlag, OrderStatus, OrderType,
                            PairStatus, Reason, Side, TimeInForce)

__all__ = ["events_from_json", "events_from_payloads", "Projection", "rebuild_redis"]

log = logging.getLogger("ringex.recovery.rebuild")

_ENUMS = {"kind": EventKind, "reason": Reason, "side": Side, "order_type": OrderType,
          "tif": TimeInForce, "order_status": OrderStatus, "pair_status": PairStatus}
_PRICES = ("price",)
_QUANTITIES = ("quantity", "filled_qty", "leaves_qty", "trade_qty", "maker_quantity",
               "maker_filled_qty", "maker_leaves_qty")
_INTEGERS = ("seq", "command_index", "timestamp_ns", "pair_id", "order_id", "client_order_id",
             "account", "maker_order_id", "maker_account")


def events_from_json(payloads, registry) -> np.ndarray:
    """``order-events`` messages -> ``EVENT_DTYPE`` records (the inverse of events_to_json).

    Column by column (a structured row written field by field cost ~45 us per event), and
    decimals through each pair's integer scale: the encoder writes exactly the step's
    fractional digits, so ``int(digits) / multiplier`` is exact; anything else takes the
    ``Decimal`` path, which raises on a value that is not a whole number of steps.
    """
    import msgspec

    from ringex.wire.units import registry_units

    decode = msgspec.json.decode
    units = registry_units(registry).by_id
    n = len(payloads)
    columns = {name: [0] * n for name in (*_INTEGERS, *_ENUMS, *_PRICES, *_QUANTITIES,
                                          "flags")}
    enum_values = {name: {member.name: int(member) for member in enum_type}
                   for name, enum_type in _ENUMS.items()}
    for index, payload in enumerate(payloads):
        message = decode(payload)
        for name in _INTEGERS:
            value = message.get(name)
            if value is not None:
                columns[name][index] = int(value)
        for name, values in enum_values.items():
            value = message.get(name)
            if value is not None:
                columns[name][index] = values[value]
        if message.get("post_only"):
            columns["flags"][index] = int(OrderFlag.POST_ONLY)
        if columns["kind"][index] == EventKind.MASS_CANCELED:
            columns["trade_qty"][index] = int(message.get("canceled_count", 0))
        pair_id = columns["pair_id"][index]
        pair_units = units[pair_id] if 0 <= pair_id < len(units) else None
        if pair_units is None:
            continue
        for name in _PRICES:
            text = message.get(name)
            if text is not None:
                columns[name][index] = _units(text, pair_units.price, pair_units.pair.tick_size,
                                              name)
        for name in _QUANTITIES:
            text = message.get(name)
            if text is not None:
                columns[name][index] = _units(text, pair_units.quantity,
                                              pair_units.pair.lot_size, name)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    for name, values in columns.items():
        events[name] = values
    return events


def _units(text: str, scale, step, name: str) -> int:
    """``text`` as a whole number of steps: the fast exact path, else :func:`_steps`."""
    whole, dot, fraction = text.partition(".")
    if (dot and len(fraction) == scale.places and fraction.isdigit()) or \
            (not dot and scale.places == 0):
        try:
            units, remainder = divmod(int(whole + fraction), scale.multiplier)
        except ValueError:
            return _steps(text, step, name)
        if not remainder:
            return units
    return _steps(text, step, name)


def events_from_payloads(payloads, registry) -> np.ndarray:
    """``order-events`` messages of either format (``kafka.events_format``) -> records.

    Event frames are taken as they are; JSON events go through :func:`events_from_json`. The
    result is in message order; the caller sorts by ``seq``.
    """
    from ringex.wire.frames import decode_event_frame, is_event_frame

    parts, texts = [], []
    for payload in payloads:
        if is_event_frame(payload):
            if texts:
                parts.append(events_from_json(texts, registry))
                texts = []
            parts.append(decode_event_frame(payload))
        else:
            texts.append(payload)
    if texts:
        parts.append(events_from_json(texts, registry))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=EVENT_DTYPE)


def _steps(text: str, step, name: str) -> int:
    """An exact decimal string as a whole number of ``step`` (zero allowed, unlike orders)."""
    value = Decimal(text) / Decimal(step)
    if value != value.to_integral_value():
        raise ValueError(f"{name} {text!r} is not a multiple of {step}")
    return int(value)


class Projection:
    """`order-events` applied to a market-data store in ``seq`` order, from the store's own
    ``last_seq`` on: the one projector behind the Redis market-data process (which calls
    :meth:`poll` for ever) and ``ringex rebuild-redis`` (:meth:`run_to_end`).

    A ``read_committed`` consumer (random group, nothing committed: the position is the
    store's ``last_seq``) is assigned each partition at its first message past that seq
    (:func:`ringex.kafka.catchup.start_offsets`). The events of one seq space are spread over
    the partitions with no gap, each partition in ascending seq, but partitions arrive at
    their own pace (the broker writes a transaction's markers partition by partition), so
    events are applied only as one unbroken run from the last applied seq; the rest waits
    in ``held`` until the missing seqs come. A seq read twice is dropped (``duplicated``).
    A gap that lasts ``gap_timeout`` seconds while events past it wait (retention deleted
    them, or they were never written) is logged and skipped, so the projection goes on; a
    full ``rebuild-redis --flush`` is the repair. Single owner: the caller's thread.
    """

    def __init__(self, bootstrap: str, topic: str, registry, store, *,
                 partitions: tuple[int, ...] | None = None, timeout: float = 60.0,
                 gap_timeout: float = 30.0, client_id: str = "ringex-projection",
                 consumer_extra: dict | None = None):
        import uuid

        from confluent_kafka import Consumer, TopicPartition

        from ringex.kafka.catchup import CatchupStats, start_offsets
        from ringex.kafka.clients import consumer_config

        self.topic = topic
        self.registry = registry
        self.store = store
        self.gap_timeout = gap_timeout
        self.applied = store.last_seq()  # the last seq handed to the store (or held by it)
        self.search = CatchupStats()
        starts = start_offsets(bootstrap, topic, self.applied, partitions=partitions,
                               timeout=timeout, stats=self.search)
        self.bounds = dict(self.search.bounds)  # (low, high) watermarks when it began
        self.positions = dict(starts)  # next offset to read, per partition
        self.eof: set[int] = set()  # partitions whose last read ended at their end
        self.held = np.zeros(0, dtype=EVENT_DTYPE)  # read, ascending seq, past a gap
        self.gap_since: float | None = None
        self.read = self.events = self.handed = self.duplicated = self.gaps = self.skipped = 0
        self.consumer = Consumer(consumer_config(
            bootstrap, f"{client_id}-{uuid.uuid4().hex}", client_id=client_id,
            **{"enable.partition.eof": True, **(consumer_extra or {})}))
        self.consumer.assign([TopicPartition(topic, p, o) for p, o in starts.items()])

    def poll(self, timeout: float, max_messages: int = 10_000) -> int:
        """Read what is there (waiting up to ``timeout`` for the first message) and apply
        the unbroken run it completes; the number of events handed to the store."""
        from confluent_kafka import KafkaError

        from ringex.errors import RingexError
        from ringex.kafka.bridge import take_available

        payloads = []
        for message in take_available(self.consumer, max_messages, timeout):
            error = message.error()
            if error is None:
                self.positions[message.partition()] = message.offset() + 1
                self.eof.discard(message.partition())
                payloads.append(message.value())
            elif error.code() == KafkaError._PARTITION_EOF:
                self.eof.add(message.partition())
            elif error.fatal():
                raise RingexError(f"reading {self.topic}: {error}")
        self.read += len(payloads)
        applied = self._take(events_from_payloads(payloads, self.registry)) if payloads else 0
        return applied + self._skip_old_gap()

    def run_to_end(self, timeout: float = 600.0) -> None:
        """Read every partition up to the high watermark seen when this projection began,
        then apply what waits past gaps too (counted in ``gaps``): the rebuild."""
        deadline = time.monotonic() + timeout
        while any(self.positions[p] < high and p not in self.eof
                  for p, (_low, high) in self.bounds.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.topic}: not read to its end in {timeout} s")
            self.poll(0.1)
        if self.held.shape[0]:
            self._skip_gap()

    def _take(self, events: np.ndarray) -> int:
        self.events += int(events.shape[0])
        if self.held.shape[0]:
            events = np.concatenate((self.held, events))
        events = events[np.argsort(events["seq"], kind="stable")]
        seqs = events["seq"]
        fresh = seqs > self.applied  # at or below: a message straddling the start, or a replay
        repeated = np.zeros(seqs.shape[0], dtype=bool)
        repeated[1:] = seqs[1:] == seqs[:-1]
        self.duplicated += int((fresh & repeated).sum())
        events = events[fresh & ~repeated]
        # the unbroken run: seq - index is constant (applied + 1) along it
        run = int(np.searchsorted(events["seq"] - np.arange(events.shape[0]),
                                  self.applied + 1, side="right"))
        self.held = events[run:]
        if not self.held.shape[0]:
            self.gap_since = None
        elif self.gap_since is None:
            self.gap_since = time.monotonic()
        return self._apply(events[:run])

    def _apply(self, events: np.ndarray) -> int:
        if events.shape[0]:
            self.store.apply(events)
            self.applied = int(events["seq"][-1])
            self.handed += int(events.shape[0])
        return int(events.shape[0])

    def _skip_old_gap(self) -> int:
        if self.gap_since is None or time.monotonic() - self.gap_since < self.gap_timeout:
            return 0
        return self._skip_gap()

    def _skip_gap(self) -> int:
        """Apply what waits past a gap: the gap's seqs are never applied after this."""
        missing = int(self.held["seq"][0]) - self.applied - 1
        log.error("%s: seq %d..%d missing (events past them waited %s); applying past them: "
                  "`ringex rebuild-redis --flush` repairs the projection if they come", self.topic,
                  self.applied + 1, self.applied + missing,
                  "until the end of the read" if self.gap_since is None else
                  f"{time.monotonic() - self.gap_since:.0f} s")
        self.gaps += int((np.diff(np.concatenate(([self.applied], self.held["seq"]))) > 1).sum())
        self.skipped += int(self.held["seq"][-1]) - self.applied - self.held.shape[0]
        held, self.held, self.gap_since = self.held, np.zeros(0, dtype=EVENT_DTYPE), None
        return self._apply(held)

    def close(self) -> None:
        self.consumer.close()


def rebuild_redis(settings, *, flush: bool = False) -> dict:
    """Replay `order-events` into the Redis store of ``settings`` from its ``last_seq`` on
    (from the start with ``flush``); returns counts."""
    import redis

    from ringex.marketdata.redis_store import RedisMarketData

    registry = settings.registry()
    kafka = settings.kafka
    started = time.perf_counter()
    client = redis.Redis.from_url(settings.redis.url)
    if flush:
        _flush(client, settings.redis.prefix)
    store = RedisMarketData(client, registry, prefix=settings.redis.prefix)
    projection = Projection(kafka.bootstrap, kafka.events_topic, registry, store,
                            partitions=tuple(kafka.orders_partitions) or None,
                            client_id="ringex-rebuild")
    before = projection.applied
    try:
        projection.run_to_end()
    finally:
        projection.close()
    after = store.last_seq()
    store.close()
    if projection.duplicated or projection.gaps:
        log.warning("order-events: %d duplicated events and %d missing seq runs",
                    projection.duplicated, projection.gaps)
    return {"events": projection.events, "last_seq_before": before, "last_seq": after,
            "applied": projection.handed, "duplicated_seqs": projection.duplicated,
            "seq_gaps": projection.gaps, "seconds": round(time.perf_counter() - started, 3)}


def _flush(client, prefix: str) -> None:
    if not prefix or prefix in ("*", ":"):
        raise ValueError("refusing to flush an empty or catch-all prefix")
    pattern = prefix.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?") \
        .replace("[", "\\[") + "*"
    keys = []
    for key in client.scan_iter(match=pattern, count=1000):
        keys.append(key)
        if len(keys) >= 1000:
            client.unlink(*keys)
            keys.clear()
    if keys:
        client.unlink(*keys)
