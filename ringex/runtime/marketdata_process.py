"""The market-data publisher: the engine's events and L2 snapshots → the market-data store.

It is the single writer of the store, and the consumer of the book ring (conflated L2
snapshots). Where its events come from depends on the mode:

* embedded: it is the one consumer of the outbound ring (events in seq order) and writes the
  shared-memory store;
* distributed: it does not touch the outbound ring. It reads `order-events`, the system of
  record, from the Redis store's ``last_seq`` on (:class:`ringex.recovery.rebuild.Projection`,
  the same projector as ``ringex rebuild-redis``), so a slow, stopped or restarted process
  never holds the engine back and loses nothing: it reads on from where Redis stands. It
  waits in the consumer's poll, never spins; nothing waits for it, so it lowers its own CPU
  priority (``redis.catch_up_nice``). Once caught up (its last read was less than a full
  batch) it reads at most once per ``redis.apply_interval_ms``, so each Redis script call
  takes what came in the meantime: a store ``apply`` costs one script call whatever it holds.

Stores ignore events at or below their last applied seq, so a restarted publisher that is
handed events again changes nothing.
"""

from __future__ import annotations

import os
import time

from ringex.config import Settings
from ringex.records import EVENT_DTYPE
from ringex.ring.ring import Ring
from ringex.ring.wait import ALERTED
from ringex.runtime.booksnap import BOOK_DTYPE
from ringex.runtime.process_common import child_setup, settle_heap
from ringex.runtime.stats import StatsTable
from ringex.runtime.topology import RingNames, slots_for

__all__ = ["marketdata_main", "open_store"]

_MAX_BATCH = 8192
#: messages per `order-events` read (a JSON message is one event, a frame many)
_MAX_MESSAGES = 2048
#: after SIGTERM (the engine halted the rings), how long it goes on reading what the Kafka
#: publisher commits last; anything not read then is read at the next start
_DRAIN_S = 5.0


def open_store(settings: Settings, names: RingNames, registry):
    """The store this deployment writes to (and the gateway reads from)."""
    if names.embedded:
        from ringex.marketdata.shm_store import SharedMemoryMarketData

        return SharedMemoryMarketData.attach(names.marketdata, registry)
    import redis

    from ringex.marketdata.redis_store import RedisMarketData

    client = redis.Redis.from_url(settings.redis.url)
    return RedisMarketData(client, registry, prefix=settings.redis.prefix)


def marketdata_main(settings: Settings, names: RingNames) -> None:
    logger = child_setup("marketdata", settings.runtime.log_level)
    registry = settings.registry()
    books = Ring.attach(names.books, BOOK_DTYPE)
    snapshots = books.consumer(0)
    stats = StatsTable.attach(names.stats)
    row = stats.row("marketdata")
    store = open_store(settings, names, registry)
    source = _RingEvents(names) if names.embedded else _KafkaEvents(settings, registry, store,
                                                                    logger)
    logger.info("market data -> %s, from %s", type(store).__name__, source.describe())
    settle_heap()
    try:
        while True:
            applied = source.step(store, timeout=0.05)
            row[0] += applied
            row[2] = source.applied_seq
            snapshot_batch = snapshots.poll()
            if snapshot_batch is not None:
                for view in snapshot_batch.views:
                    for record in view:
                        store.put_book(int(record["pair_id"]), int(record["seq"]),
                                       record["bids"][: record["n_bids"]],
                                       record["asks"][: record["n_asks"]])
                snapshots.release(snapshot_batch)
                row[1] += snapshot_batch.high - snapshot_batch.low + 1
            if source.ended(snapshots):
                break
    finally:
        store.close()
        source.close()
        snapshots.close()
        books.close()
        stats.close()
        logger.info("market data stopped")


class _RingEvents:
    """Embedded mode: the gating consumer of the outbound ring."""

    def __init__(self, names: RingNames):
        self.ring = Ring.attach(names.outbound, EVENT_DTYPE)
        self.events = self.ring.consumer(slots_for(True).marketdata)
        self.applied_seq = 0

    @staticmethod
    def describe() -> str:
        return "the outbound ring (gating it)"

    def step(self, store, timeout: float) -> int:
        batch = self.events.wait(timeout=timeout, max_batch=_MAX_BATCH)
        if batch is None:
            return 0
        for view in batch.views:
            store.apply(view)
        self.events.release(batch)
        self.applied_seq = int(batch.views[-1]["seq"][-1])
        return batch.high - batch.low + 1

    def ended(self, _snapshots) -> bool:
        return self.events.last_status == ALERTED

    def close(self) -> None:
        self.events.close()
        self.ring.close()


class _KafkaEvents:
    """Distributed mode: `order-events` from Redis' ``last_seq`` on (module docstring).

    The projection is opened when the topic can be read (the Kafka processes create it, and
    the broker may be down when this process starts): until then, and between attempts, the
    loop goes on serving book snapshots. Single owner: this process.
    """

    def __init__(self, settings: Settings, registry, store, logger):
        if settings.redis.catch_up_nice:
            # nothing waits for this process: the matching path gets the CPU first
            os.nice(settings.redis.catch_up_nice)
        self.kafka = settings.kafka
        self.registry = registry
        self.store = store
        self.logger = logger
        self.projection = None
        self.next_attempt = 0.0
        self.interval_s = settings.redis.apply_interval_ms / 1000
        self.last_read = float("-inf")  # monotonic time of the last read that found events
        self.caught_up = False  # that read was less than a full batch
        self.drain_until: float | None = None

    def describe(self) -> str:
        return f"{self.kafka.events_topic} (read_committed; not gating the ring)"

    @property
    def applied_seq(self) -> int:
        return self.projection.applied if self.projection is not None else 0

    def _open(self) -> bool:
        from ringex.recovery.rebuild import Projection

        if time.monotonic() < self.next_attempt:
            return False
        try:
            self.projection = Projection(
                self.kafka.bootstrap, self.kafka.events_topic, self.registry, self.store,
                partitions=tuple(self.kafka.orders_partitions) or None,
                client_id="ringex-marketdata", timeout=30.0,
                consumer_extra={"fetch.wait.max.ms": 5, "fetch.min.bytes": 1})
        except Exception as exc:  # noqa: BLE001 - the topic or the broker is not there yet
            self.logger.warning("cannot read %s yet (%s); retrying", self.kafka.events_topic,
                                exc)
            self.next_attempt = time.monotonic() + 1.0
            return False
        self.logger.info("reading %s from seq %d on", self.kafka.events_topic,
                         self.projection.applied + 1)
        return True

    def step(self, store, timeout: float) -> int:
        if self.projection is None and not self._open():
            time.sleep(timeout)
            return 0
        if self.caught_up:  # let the next batch gather: one script call for all of it
            pause = self.last_read + self.interval_s - time.monotonic()
            if pause > 0:
                time.sleep(min(pause, timeout))
        before = self.projection.read
        applied = self.projection.poll(timeout, _MAX_MESSAGES)
        messages = self.projection.read - before
        if messages:
            self.last_read = time.monotonic()
            self.caught_up = messages < _MAX_MESSAGES
        return applied

    def ended(self, snapshots) -> bool:
        """The engine halted the rings (shutdown): read on for a while what the Kafka
        publisher still commits, then stop."""
        if self.drain_until is None:
            # a zero wait only looks: what it finds stays unreleased for the next poll
            if snapshots.wait(timeout=0) is not None or snapshots.last_status != ALERTED:
                return False
        now = time.monotonic()
        if self.drain_until is None:
            self.drain_until = now + _DRAIN_S
            self.last_read = now
        idle = self.projection is None or now - self.last_read > 1.0
        return idle or now > self.drain_until

    def close(self) -> None:
        if self.projection is not None:
            self.projection.close()
