"""The market-data publisher: outbound events and L2 snapshots → the market-data store.

It is a consumer of the outbound ring (events, in seq order) and of the book ring (conflated
L2 snapshots), and the single writer of the store: Redis in distributed mode, the shared-memory
store in embedded mode. Stores ignore events at or below their last applied seq, so a
restarted publisher that is handed a batch again changes nothing.

In distributed mode with ``redis.catch_up_from_kafka`` (the default) it does not gate the
outbound ring: Redis is a projection, and a slow projection must not hold the matcher back.
Its slot is retired by the supervisor when the ring is created, so it gates nothing even
while this process is still starting. It reads with a :class:`~ringex.ring.LaggingReader`
from the store's ``last_seq`` on; when the
engine has run a whole ring ahead (``LAPPED``), the events it missed are all in `order-events`
already (the Kafka publisher still gates the ring, so a slot is reused only after its event
committed), and it reads ``(last_seq, kafka publisher's released seq]`` from there
(:func:`ringex.kafka.catchup.read_events_between`) before it returns to the ring. Embedded
mode, or the setting off: an ordinary gating consumer, as before.

The non-gating reader, once caught up (its last read took less than a full batch), reads the
ring at most once per ``redis.apply_interval_ms``: each store ``apply`` is one Redis script
call whatever it holds, so reading whenever anything came meant many small calls. Measured at
5K orders/s: redis-server 0.10 core instead of 0.14, this process 0.08 instead of 0.13. At
50K/s it changes nothing: at nice 10 the reader runs behind, and a reader that is behind
reads full batches back to back, as before.
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
from ringex.runtime.topology import RingNames, marketdata_follows_kafka, slots_for

__all__ = ["marketdata_main", "open_store"]

_MAX_BATCH = 8192


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
    slots = slots_for(names.embedded)
    registry = settings.registry()
    outbound = Ring.attach(names.outbound, EVENT_DTYPE)
    books = Ring.attach(names.books, BOOK_DTYPE)
    lagging = marketdata_follows_kafka(settings)
    if lagging and settings.redis.catch_up_nice:
        # nothing waits for this process, so it yields the CPU to the matching path
        os.nice(settings.redis.catch_up_nice)
    events = None if lagging else outbound.consumer(slots.marketdata)
    snapshots = books.consumer(0)
    stats = StatsTable.attach(names.stats)
    row = stats.row("marketdata")
    store = open_store(settings, names, registry)
    logger.info("market data -> %s (%s)", type(store).__name__,
                "not gating the ring; catches up from Kafka" if lagging else "gating the ring")
    follower = _Follower(settings, registry, outbound, slots, store, logger) if lagging else None
    settle_heap()
    try:
        while True:
            if follower is not None:
                applied = follower.step(timeout=0.05, max_batch=_MAX_BATCH)
                row[0] += applied
                row[2] = follower.catch_ups
                row[3] = follower.applied_seq
                ended = applied == 0 and follower.last_status == ALERTED
            else:
                batch = events.wait(timeout=0.05, max_batch=_MAX_BATCH)
                if batch is not None:
                    for view in batch.views:
                        store.apply(view)
                    events.release(batch)
                    row[0] += batch.high - batch.low + 1
                    row[3] = int(batch.views[-1]["seq"][-1])
                ended = batch is None and events.last_status == ALERTED
            snapshot_batch = snapshots.poll()
            if snapshot_batch is not None:
                for view in snapshot_batch.views:
                    for record in view:
                        store.put_book(int(record["pair_id"]), int(record["seq"]),
                                       record["bids"][: record["n_bids"]],
                                       record["asks"][: record["n_asks"]])
                snapshots.release(snapshot_batch)
                row[1] += snapshot_batch.high - snapshot_batch.low + 1
            if ended:
                break
    finally:
        store.close()
        (follower or events).close()
        snapshots.close()
        outbound.close()
        books.close()
        stats.close()
        logger.info("market data stopped")


class _Follower:
    """The non-gating reader of the outbound ring, with its Kafka catch-up.

    ``position``: the last ring sequence read (private; the slot is retired). A ring holds one
    event per slot in ``seq`` order, so within one ring's life ``seq - ring sequence`` is a
    constant, ``offset``, learnt from any intact read (a restarted tree's ring starts at 0 with
    the seqs of its snapshot). Events at or below the store's ``last_seq`` are skipped by the
    store itself. Single writer of every field: this process.
    """

    def __init__(self, settings: Settings, registry, outbound: Ring, slots, store, logger):
        from ringex.ring import LaggingReader

        self.settings = settings
        self.registry = registry
        self.outbound = outbound
        self.kafka_slot = slots.kafka
        self.reader = LaggingReader(outbound, slots.marketdata)
        self.store = store
        self.logger = logger
        self.position = -1
        self.offset: int | None = None
        self.catch_ups = 0
        self.applied_seq = 0  # the newest seq handed to the store
        self.interval_s = settings.redis.apply_interval_ms / 1000
        self.last_read = float("-inf")  # monotonic time of the last read that found events
        self.caught_up = False  # that read took less than a full batch

    @property
    def last_status(self) -> int:
        return self.reader.last_status

    def step(self, timeout: float, max_batch: int) -> int:
        """Apply what follows ``position`` (from the ring, or Kafka when lapped); the count."""
        from ringex.ring import LAPPED

        if self.caught_up:  # let the next batch gather: one script call for all of it
            pause = self.last_read + self.interval_s - time.monotonic()
            if pause > 0:
                time.sleep(min(pause, timeout))
        got = self.reader.read(after=self.position, timeout=timeout, max_batch=max_batch)
        if got is None:
            return 0
        if got is LAPPED:
            self.caught_up = False
            return self._catch_up()
        low, high, records = got
        self.last_read = time.monotonic()
        self.caught_up = records.shape[0] < max_batch
        self.offset = int(records["seq"][0]) - low
        self.store.apply(records)
        self.position = high
        self.applied_seq = max(self.applied_seq, int(records["seq"][-1]))
        return int(records.shape[0])

    def _catch_up(self) -> int:
        from ringex.kafka.catchup import read_events_between

        kafka = self.settings.kafka
        released = self.outbound.consumer_sequence(self.kafka_slot)  # committed in Kafka
        if self.offset is None and not self._learn_offset():
            return 0
        applied = self.store.last_seq()
        upto = released + self.offset
        self.catch_ups += 1
        self.logger.warning("market data fell a ring behind: reading seq %d..%d from %s "
                            "(catch-up %d)", applied + 1, upto, kafka.events_topic,
                            self.catch_ups)
        count = 0
        if upto > applied:
            for chunk in read_events_between(
                    kafka.bootstrap, kafka.events_topic, self.registry, applied, upto,
                    partitions=tuple(kafka.orders_partitions) or None):
                self.store.apply(chunk)
                count += int(chunk.shape[0])
            self.applied_seq = max(self.applied_seq, upto)
        self.position = max(self.position, released)
        return count

    def _learn_offset(self, attempts: int = 100) -> bool:
        """Read one intact record near the ring's oldest to learn ``offset``."""
        from ringex.ring import LAPPED

        for _ in range(attempts):
            got = self.reader.read(after=self.reader.oldest_readable() - 1 + 64,
                                   timeout=0.05, max_batch=1)
            if got is None:
                return False
            if got is not LAPPED:
                low, _high, records = got
                self.offset = int(records["seq"][0]) - low
                return True
        return False

    def close(self) -> None:
        self.reader.close()
