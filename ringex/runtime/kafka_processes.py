"""The distributed mode's Kafka children: bridges into the inbound ring, the publisher out of
the outbound ring. Thin wiring: the logic lives in ``ringex.kafka``.

Offsets: the engine keeps no snapshot yet, so each run of the exchange rebuilds its book by
replaying ``orders`` from the beginning. Bridges therefore join a consumer group that is new
for every run (named after the run's inbound ring); inside a run the group commits, so a
restarted bridge, or a partition moving between bridges, resumes where the last one stopped
instead of replaying into the live engine.
"""

from __future__ import annotations

import signal
import threading

from ringex.config import Settings
from ringex.runtime.process_common import child_setup
from ringex.runtime.topology import RingNames, slots_for

__all__ = ["bridge_main", "kafka_publisher_main", "ensure_kafka_topics"]


def ensure_kafka_topics(settings: Settings) -> None:
    from ringex.kafka import ensure_topics, exchange_topics

    ensure_topics(settings.kafka.bootstrap, exchange_topics(settings))


def _stop_on_sigterm() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def bridge_main(settings: Settings, names: RingNames) -> None:
    from ringex.kafka import PER_RUN_GROUP, KafkaMetrics, run_bridge

    logger = child_setup("bridge", settings.runtime.log_level)
    stop = _stop_on_sigterm()
    group = f"{settings.kafka.group_id}-{names.inbound}"
    logger.info("bridge consuming %s as group %s", settings.kafka.orders_topic, group)
    stats = run_bridge(settings, names.inbound, settings.registry(), should_stop=stop.is_set,
                       metrics=KafkaMetrics.create("bridge"), offsets=PER_RUN_GROUP,
                       group_id=group)
    logger.info("bridge stopped: %s", stats)


def kafka_publisher_main(settings: Settings, names: RingNames) -> None:
    from ringex.kafka import KafkaMetrics, run_kafka_publisher

    logger = child_setup("kafka_publisher", settings.runtime.log_level)
    stop = _stop_on_sigterm()
    stats = run_kafka_publisher(settings, names.outbound, slots_for(names.embedded).kafka,
                                settings.registry(), should_stop=stop.is_set,
                                metrics=KafkaMetrics.create("publisher"))
    logger.info("kafka publisher stopped: %s", stats)
