"""``ringex rebuild-redis``: the Redis projection rebuilt from `order-events`.

`order-events` holds every event (trades included, with the maker's fields), so it alone
rebuilds candles, recent trades and order status; `trades` carries the same TRADE events and
is used only as a cross-check of the count. The command reads every partition from its
beginning up to the high watermark seen at start, turns the messages back into ``EVENT_DTYPE``
records (:mod:`ringex.kafka.event_payloads`), merges the partitions by ``seq`` and applies
them in batches to :class:`RedisMarketData`. The store ignores every ``seq`` at or below its
``last_seq``, so the command is idempotent: run it twice, or while the Redis
publisher runs, and nothing is counted twice. ``--flush`` deletes the prefix's keys first (a
full rebuild, e.g. after Redis lost data: a Redis that lost its tail has a ``last_seq``
behind the events it kept, so without ``--flush`` the missing events are simply applied).

L2 books are not events: they come back with the engine's next book snapshot.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ringex.kafka.event_payloads import events_from_payloads

__all__ = ["read_topic_events", "rebuild_redis", "flush_prefix"]

log = logging.getLogger("ringex.runtime.rebuild_redis")


def read_topic_events(bootstrap: str, topic: str, *, timeout: float = 120.0):
    """Every committed message value of ``topic``, partition by partition."""
    from ringex.kafka.reading import read_to_end

    return [message.value() for message in read_to_end(bootstrap, topic, timeout=timeout,
                                                        client_id="ringex-rebuild")]


def rebuild_redis(settings, *, flush: bool = False, batch: int = 2000) -> dict:
    """Replay `order-events` into the Redis store of ``settings``; returns counts."""
    import redis

    from ringex.marketdata.redis_store import RedisMarketData

    registry = settings.registry()
    started = time.perf_counter()
    payloads = read_topic_events(settings.kafka.bootstrap, settings.kafka.events_topic)
    events = events_from_payloads(payloads, registry)
    events = events[np.argsort(events["seq"], kind="stable")]
    seqs = events["seq"]
    duplicates = int((np.diff(seqs) == 0).sum()) if seqs.shape[0] else 0
    gaps = int((np.diff(seqs) > 1).sum()) if seqs.shape[0] else 0
    if duplicates or gaps or (seqs.shape[0] and seqs[0] != 1):
        log.warning("order-events: %d duplicated and %d missing seq runs (first seq %s)",
                    duplicates, gaps, int(seqs[0]) if seqs.shape[0] else None)
    client = redis.Redis.from_url(settings.redis.url)
    if flush:
        flush_prefix(client, settings.redis.prefix)
    store = RedisMarketData(client, registry, prefix=settings.redis.prefix)
    before = store.last_seq()
    for start in range(0, events.shape[0], batch):
        store.apply(events[start:start + batch])
    after = store.last_seq()
    store.close()
    return {"events": int(events.shape[0]), "last_seq_before": before, "last_seq": after,
            "applied": int((seqs > before).sum()), "duplicated_seqs": duplicates,
            "seq_gaps": gaps, "seconds": round(time.perf_counter() - started, 3)}


def flush_prefix(client, prefix: str) -> None:
    """Unlink every key under ``prefix`` (refusing an empty or catch-all one)."""
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
