"""Create the exchange's topics if they are missing, and wait until they can be used.

Called by ``ringex serve`` before any bridge or publisher starts. Idempotent: a topic that
already exists is left as it is (a different partition count is logged, never changed,
because re-partitioning ``orders`` would move pairs between partitions and break the
per-pair order).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from ringex.config import KafkaSettings

__all__ = ["ensure_topics", "exchange_topics"]

log = logging.getLogger("ringex.kafka.admin")


def exchange_topics(kafka: KafkaSettings, partitions: int | None = None) -> dict[str, int]:
    """``{orders, orders.dlq, trades, order-events}`` (names from settings) -> partitions."""
    from ringex.kafka.clients import kafka_section

    kafka = kafka_section(kafka)
    count = int(partitions if partitions is not None else kafka.partitions)
    return {name: count for name in (kafka.orders_topic, kafka.dlq_topic,
                                     kafka.trades_topic, kafka.events_topic)}


def ensure_topics(bootstrap: str, topics: Mapping[str, int], *, replication: int = 1,
                  timeout: float = 30.0, config: Mapping[str, str] | None = None
                  ) -> dict[str, int]:
    """Create each missing topic of ``topics`` (name -> partitions); return the actual counts.

    Waits, at most ``timeout`` seconds, until every topic is in the metadata with a leader on
    every partition. Raises ``TimeoutError`` if that does not happen, and
    ``confluent_kafka.KafkaException`` for any creation error other than "already exists".
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "ringex-admin",
                         "log_level": 3})
    deadline = time.monotonic() + timeout
    metadata = admin.list_topics(timeout=max(1.0, timeout))
    missing = [name for name in topics if name not in metadata.topics
               or metadata.topics[name].error is not None]
    if missing:
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=int(topics[name]), replication_factor=replication,
                      config=dict(config or {})) for name in missing],
            operation_timeout=timeout, request_timeout=timeout)
        for name, future in futures.items():
            try:
                future.result(timeout=max(0.1, deadline - time.monotonic()))
                log.info("created topic %s with %d partitions", name, topics[name])
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    actual = _wait_for_leaders(admin, list(topics), deadline)
    for name, wanted in topics.items():
        if actual[name] != int(wanted):
            log.warning("topic %s exists with %d partitions (%d configured); left unchanged",
                        name, actual[name], wanted)
    return actual


def _wait_for_leaders(admin, names: list[str], deadline: float) -> dict[str, int]:
    ready: dict[str, int] = {}
    while True:
        metadata = admin.list_topics(timeout=max(0.5, min(5.0, deadline - time.monotonic())))
        for name in names:
            topic = metadata.topics.get(name)
            if (topic is not None and topic.error is None and topic.partitions
                    and all(p.leader >= 0 for p in topic.partitions.values())):
                ready[name] = len(topic.partitions)
        if len(ready) == len(names):
            return ready
        if time.monotonic() >= deadline:
            pending = sorted(set(names) - set(ready))
            raise TimeoutError(f"topics {pending} have no leader yet")
        time.sleep(0.1)
