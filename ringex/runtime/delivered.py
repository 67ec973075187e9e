"""What every sink of a distributed deployment already holds, for a run that starts afresh.

A new run (``ringex serve`` after the whole tree died, or a standby taking over) has a new,
empty outbound ring, so the events between what the sinks hold and what the newest snapshot
covers exist nowhere but in a replay. The engine must therefore recover from a snapshot at or
below :func:`delivered_seq`, the highest ``seq`` D such that every event ``<= D`` is in every
sink:

* Kafka: the publisher commits each ring batch in one transaction, and batches in ``seq``
  order, so the committed events are exactly the prefix up to the highest committed ``seq``
  in any partition of `order-events` (only this instance's partitions with
  ``kafka.orders_partitions``: another instance's partitions carry another ``seq`` space).
* Redis: the store applies batches in ``seq`` order and holds the prefix up to its
  ``last_seq``.

Embedded mode has no such probe: its shared-memory store is new with each run
(``docs/recovery.md``).
"""

from __future__ import annotations

import logging

__all__ = ["delivered_seq"]

log = logging.getLogger("ringex.runtime.delivered")


def delivered_seq(settings, registry, *, timeout: float = 30.0) -> int:
    """min(Kafka's committed prefix, Redis's last_seq); raises if a sink cannot be read."""
    from ringex.kafka.resume import read_resume_seqs

    kafka = settings.kafka
    owned = tuple(getattr(kafka, "orders_partitions", ()) or ())
    tails = read_resume_seqs(kafka.bootstrap, kafka.events_topic, timeout=timeout,
                             partitions=owned or None)
    kafka_seq = max(tails.values() or [0])
    redis_seq = _redis_last_seq(settings, registry)
    delivered = kafka_seq if redis_seq is None else min(kafka_seq, redis_seq)
    log.info("sinks hold events up to seq %d (kafka %d, redis %s)", delivered, kafka_seq,
             redis_seq)
    return delivered


def _redis_last_seq(settings, registry) -> int | None:
    url = getattr(settings.redis, "url", "")
    if not url:
        return None
    import redis

    from ringex.marketdata.redis_store import RedisMarketData

    client = redis.Redis.from_url(url)
    try:
        return int(RedisMarketData(client, registry, prefix=settings.redis.prefix).last_seq())
    finally:
        client.close()
