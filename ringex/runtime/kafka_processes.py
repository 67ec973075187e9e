"""The distributed mode's Kafka children: bridges into the inbound ring, the publisher out of
the outbound ring. Thin wiring: the logic lives in ``ringex.kafka``.

Offsets (``docs/recovery.md``): a bridge waits until the running engine has published the
input positions of the snapshot it recovered from (``<var>/run/input-positions.json``), seeks
every assigned partition there, and commits to ``kafka.group_id`` only the offsets that the
engine's newest durable snapshot covers. The engine drops any record it has already applied,
so a restarted bridge, or a partition moving between bridges, may rewind without harm.

A bridge that subscribes is a *static* member of the group (``group.instance.id`` = group +
`orders` topic + its role, e.g. ``bridge-0``, :func:`ringex.kafka.bridge.static_member_id`):
a bridge restarted after a kill -9 takes its partitions back at once, instead of waiting for
the dead member's session to time out and a rebalance.

Scale-out (``kafka.orders_partitions`` set, ``docs/deployment.md``): the instance owns those
partitions only. Its bridges ``assign()`` them statically (bridge ``i`` of ``n`` takes every
``n``-th owned partition), and :func:`ensure_kafka_topics` refuses to start unless the output
topics have as many partitions as `orders`, so that the instance writes exactly the output
partitions it owns.
"""

from __future__ import annotations

import signal
import threading
import time

from ringex.config import Settings
from ringex.errors import ConfigError
from ringex.runtime.process_common import child_setup, settle_heap
from ringex.runtime.topology import RingNames, slots_for

__all__ = ["bridge_main", "kafka_publisher_main", "ensure_kafka_topics", "check_scale_out",
           "bridge_partitions"]


def ensure_kafka_topics(settings: Settings) -> dict[str, int]:
    """Create the exchange's topics (and, with ``kafka.lease``, the lease topic); check the
    partition counts that scale-out relies on. Returns the actual counts."""
    from ringex.kafka import ensure_topics, exchange_topics
    from ringex.kafka.lease import lease_topic

    topics = exchange_topics(settings.kafka)
    if settings.kafka.lease:
        topics[lease_topic(settings.kafka)] = 1
    actual = ensure_topics(settings.kafka.bootstrap, topics)
    check_scale_out(settings, actual)
    return actual


def check_scale_out(settings: Settings, counts: dict[str, int]) -> None:
    """With ``kafka.orders_partitions`` set, the output topics must have exactly as many
    partitions as `orders` and every owned partition must exist; a ``ConfigError`` says which
    topic is wrong otherwise."""
    kafka = settings.kafka
    owned = kafka.orders_partitions
    if not owned:
        return
    orders = counts[kafka.orders_topic]
    for topic in (kafka.events_topic, kafka.trades_topic):
        if counts[topic] != orders:
            raise ConfigError(
                f"kafka.orders_partitions is set, so topic {topic!r} must have as many "
                f"partitions as {kafka.orders_topic!r} ({orders}), but it has {counts[topic]}: "
                f"an instance's events would land in partitions another instance writes. "
                f"Recreate it, or add partitions with kafka-topics.sh --alter")
    beyond = [p for p in owned if p >= orders]
    if beyond:
        raise ConfigError(f"kafka.orders_partitions {list(owned)}: partitions {beyond} do not "
                          f"exist, topic {kafka.orders_topic!r} has {orders}")


def bridge_partitions(settings: Settings, index: int) -> list[int] | None:
    """The `orders` partitions bridge ``index`` assigns itself, or None: subscribe."""
    owned = settings.kafka.orders_partitions
    if not owned:
        return None
    return list(owned[index::max(1, settings.kafka.bridges)])


def _stop_on_sigterm() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


_POSITIONS_TIMEOUT_S = 600.0  # an engine loading a large snapshot may take a while


def _warm(settings: Settings, logger) -> None:
    """Load (or, with a cold cache, compile) the JSON kernels before the first batch."""
    from ringex.kafka.warm import warm_wire

    started = time.perf_counter()
    warm_wire(settings.registry())
    logger.info("JSON kernels ready in %.2fs", time.perf_counter() - started)


def bridge_main(settings: Settings, names: RingNames) -> None:
    from ringex.kafka import KafkaMetrics, run_bridge
    from ringex.kafka.bridge import static_member_id
    from ringex.kafka.offsets import from_snapshot
    from ringex.recovery.positions import read_positions, wait_positions

    logger = child_setup("bridge", settings.runtime.log_level)
    stop = _stop_on_sigterm()
    _warm(settings, logger)
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
    import multiprocessing

    role = multiprocessing.current_process().name.removeprefix("ringex-")
    index = int(role.rsplit("-", 1)[1]) if role[-1:].isdigit() else 0
    partitions = bridge_partitions(settings, index)
    if partitions == []:  # more bridges than owned partitions: nothing to read
        logger.info("bridge has no partition of its own (%d bridges, partitions %s)",
                    settings.kafka.bridges, list(settings.kafka.orders_partitions))
        stop.wait()
        return
    logger.info("bridge consuming %s%s as group %s from %s", settings.kafka.orders_topic,
                "" if partitions is None else f" partitions {partitions}", group,
                recovered["kafka"] or "the beginning")
    extra = {"session.timeout.ms": 10000}
    if partitions is None:
        extra["group.instance.id"] = static_member_id(group, settings.kafka.orders_topic, role)
    settle_heap()
    stats = run_bridge(settings.kafka, names.inbound, settings.registry(),
                       should_stop=stop.is_set, metrics=KafkaMetrics.create("bridge"),
                       default_account=settings.runtime.default_account,
                       offsets=from_snapshot(recovered["kafka"], covered), group_id=group,
                       consumer_extra=extra, partitions=partitions)
    logger.info("bridge stopped: %s", stats)


def kafka_publisher_main(settings: Settings, names: RingNames) -> None:
    from ringex.kafka import KafkaMetrics, run_kafka_publisher

    logger = child_setup("kafka_publisher", settings.runtime.log_level)
    stop = _stop_on_sigterm()
    _warm(settings, logger)
    settle_heap()
    stats = run_kafka_publisher(settings.kafka, names.outbound, slots_for(names.embedded).kafka,
                                settings.registry(), should_stop=stop.is_set,
                                metrics=KafkaMetrics.create("publisher"))
    logger.info("kafka publisher stopped: %s", stats)
