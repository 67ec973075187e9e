"""The distributed mode's Kafka children: bridges into the inbound ring, the publisher out of
the outbound ring. Thin wiring: the logic lives in ``ringex.kafka``.

Offsets (``docs/recovery.md``): a bridge waits until the running engine has published the
input positions of the snapshot it recovered from (``<var>/run/input-positions.json``), seeks
every assigned partition there, and commits to ``kafka.group_id`` only the offsets that the
engine's newest durable snapshot covers. The engine drops any record it has already applied,
so a restarted bridge, or a partition moving between bridges, may rewind without harm.

Each bridge is a *static* member of the group (``group.instance.id`` = group + its role,
e.g. ``bridge-0``): a bridge restarted after a kill -9 takes its partitions back at once,
instead of waiting for the dead member's session to time out and a rebalance.
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


_POSITIONS_TIMEOUT_S = 600.0  # an engine loading a large snapshot may take a while


def bridge_main(settings: Settings, names: RingNames) -> None:
    from ringex.kafka import KafkaMetrics, run_bridge
    from ringex.kafka.offsets import from_snapshot
    from ringex.recovery.positions import read_positions, wait_positions

    logger = child_setup("bridge", settings.runtime.log_level)
    stop = _stop_on_sigterm()
    var_dir = settings.runtime.var_dir
    recovered = wait_positions(var_dir, run=names.inbound, timeout=_POSITIONS_TIMEOUT_S,
                               should_stop=stop.is_set)
    if recovered is None:
        if stop.is_set():
            return
        raise SystemExit("bridge: the engine published no input positions in time")

    def covered():
        content = read_positions(var_dir, run=names.inbound)
        return None if content is None else content["kafka"]

    group = settings.kafka.group_id
    logger.info("bridge consuming %s as group %s from %s", settings.kafka.orders_topic, group,
                recovered["kafka"] or "the beginning")
    import multiprocessing

    role = multiprocessing.current_process().name.removeprefix("ringex-")
    stats = run_bridge(settings, names.inbound, settings.registry(), should_stop=stop.is_set,
                       metrics=KafkaMetrics.create("bridge"),
                       offsets=from_snapshot(recovered["kafka"], covered), group_id=group,
                       consumer_extra={"group.instance.id": f"{group}-{role}",
                                       "session.timeout.ms": 10000})
    logger.info("bridge stopped: %s", stats)


def kafka_publisher_main(settings: Settings, names: RingNames) -> None:
    from ringex.kafka import KafkaMetrics, run_kafka_publisher

    logger = child_setup("kafka_publisher", settings.runtime.log_level)
    stop = _stop_on_sigterm()
    stats = run_kafka_publisher(settings, names.outbound, slots_for(names.embedded).kafka,
                                settings.registry(), should_stop=stop.is_set,
                                metrics=KafkaMetrics.create("publisher"))
    logger.info("kafka publisher stopped: %s", stats)
