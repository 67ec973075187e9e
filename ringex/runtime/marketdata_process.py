"""The market-data publisher: outbound events and L2 snapshots → the market-data store.

It is a consumer of the outbound ring (events, in seq order) and of the book ring (conflated
L2 snapshots), and the single writer of the store: Redis in distributed mode, the shared-memory
store in embedded mode. Stores ignore events at or below their last applied seq, so a
restarted publisher that is handed a batch again changes nothing.
"""

from __future__ import annotations

from ringex.config import Settings
from ringex.records import EVENT_DTYPE
from ringex.ring.ring import Ring
from ringex.ring.wait import ALERTED
from ringex.runtime.booksnap import BOOK_DTYPE
from ringex.runtime.process_common import child_setup
from ringex.runtime.stats import StatsTable
from ringex.runtime.topology import RingNames, slots_for

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
    events = outbound.consumer(slots.marketdata)
    snapshots = books.consumer(0)
    stats = StatsTable.attach(names.stats)
    row = stats.row("marketdata")
    store = open_store(settings, names, registry)
    logger.info("market data -> %s", type(store).__name__)
    try:
        while True:
            batch = events.wait(timeout=0.05, max_batch=_MAX_BATCH)
            if batch is not None:
                for view in batch.views:
                    store.apply(view)
                events.release(batch)
                row[0] += batch.high - batch.low + 1
            snapshot_batch = snapshots.poll()
            if snapshot_batch is not None:
                for view in snapshot_batch.views:
                    for record in view:
                        store.put_book(int(record["pair_id"]), int(record["seq"]),
                                       record["bids"][: record["n_bids"]],
                                       record["asks"][: record["n_asks"]])
                snapshots.release(snapshot_batch)
                row[1] += snapshot_batch.high - snapshot_batch.low + 1
            if batch is None and events.last_status == ALERTED:
                break
    finally:
        store.close()
        events.close()
        snapshots.close()
        outbound.close()
        books.close()
        stats.close()
        logger.info("market data stopped")
