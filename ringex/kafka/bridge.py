"""The bridge: Kafka `orders` -> decoded command records -> the inbound ring.

One bridge is one process (several may run: the inbound ring is multi-producer and the
consumer group spreads the partitions). Per poll it consumes up to ``batch_size`` messages,
decodes each (:mod:`ringex.kafka.decode`), and writes the whole batch into the ring with ONE
claim/publish (split only if it exceeds the ring's capacity), then tells the offset policy
(:mod:`ringex.kafka.offsets`) what is now in the ring.

Poison messages: a message that fails to decode, for any reason, is copied to the DLQ
(:mod:`ringex.kafka.dlq`) and replaced by a ``kind = 0`` record, so the engine emits its
``REJECTED`` event in order and the partition moves on. Nothing a message contains can raise
out of this loop; client errors (a fatal consumer error, a halted ring) end it with an
exception for the supervisor to restart it.

Static assignment (``partitions=``, what ``ringex serve`` does when ``kafka.orders_partitions``
is set, ``docs/deployment.md``): the bridge ``assign()``s exactly those partitions instead of
joining the group's rebalancing, and it checks that every record's pair lives in the partition
it came from (``crc32(pair) % n``, :mod:`ringex.kafka.partitioning`). A message naming a pair
of another partition would otherwise split that pair's book over two engine instances; it is
rejected like any malformed message (DLQ + ``kind = 0`` record). A rejected message's record
carries the pair of its key only if that pair lives in this partition, else none, so every
event of the instance goes to a partition it owns.

The caller runs this in its own process (or thread, in tests) and stops it with
``should_stop``; Kafka clients are created here, after any fork.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ringex.errors import RingexError, ValidationError
from ringex.config import KafkaSettings
from ringex.kafka.clients import consumer_config, describe_error, kafka_section
from ringex.kafka.decode import (FRAME_MAGIC, decode_json_messages, decode_message,
                                 frame_record_errors, invalid_command, pair_id_of_key,
                                 timestamp_ns_of)
from ringex.kafka.dlq import DeadLetters
from ringex.kafka.metrics import NO_METRICS, KafkaMetrics
from ringex.kafka.offsets import REPLAY, OffsetPolicy
from ringex.kafka.partitioning import partition_for
from ringex.records import COMMAND_DTYPE, MESSAGE_END, MESSAGE_MIDDLE, MESSAGE_START

__all__ = ["run_bridge", "BridgeStats", "home_partitions", "static_member_id"]

log = logging.getLogger("ringex.kafka.bridge")


def static_member_id(group_id: str, orders_topic: str, role: str) -> str:
    """The ``group.instance.id`` of a subscribing bridge: group, topic and role.

    A static member that rejoins within its session timeout is handed its previous
    assignment by the coordinator, even when it now subscribes to another topic: a bridge
    restarted on a new `orders` topic under the same group was given the old topic's
    partitions (and, if that topic was deleted, read nothing). With the topic in the id, such
    a bridge is a new member, and the old one expires with its session.
    """
    return f"{group_id}-{orders_topic}-{role}"


@dataclass
class BridgeStats:
    messages: int = 0
    commands: int = 0
    rejected: int = 0  # malformed messages (DLQ + kind=0 record)
    batches: int = 0


def run_bridge(kafka: KafkaSettings, inbound_ring_name: str, registry, *,
               should_stop: Callable[[], bool], metrics: KafkaMetrics | None = None,
               offsets: OffsetPolicy = REPLAY, group_id: str | None = None,
               default_account: int = 1, batch_size: int = 1000,
               poll_timeout: float = 0.1, client_id: str = "ringex-bridge",
               consumer_extra: dict | None = None,
               partitions: Sequence[int] | None = None) -> BridgeStats:
    """Run until ``should_stop()`` is true; returns what it moved. ``consumer_extra``:
    more librdkafka settings (``ringex serve`` sets static group membership).
    ``partitions``: assign exactly these `orders` partitions (static assignment) instead of
    subscribing, and reject messages whose pair belongs to another partition."""
    from confluent_kafka import Consumer, TopicPartition

    from ringex.ring import Ring

    kafka = kafka_section(kafka)
    metrics = metrics or NO_METRICS
    account = int(default_account)
    stats = BridgeStats()
    ring = Ring.attach(inbound_ring_name, COMMAND_DTYPE)
    producer = ring.producer()
    consumer = Consumer(consumer_config(kafka.bootstrap, group_id or kafka.group_id,
                                        client_id=client_id, **(consumer_extra or {})))
    tracker = offsets.tracker(consumer)
    dead_letters = DeadLetters(kafka.bootstrap, kafka.dlq_topic,
                               client_id=f"{client_id}-dlq", metrics=metrics)
    homes = None
    try:
        if partitions is None:
            consumer.subscribe([kafka.orders_topic], on_assign=tracker.on_assign,
                               on_revoke=tracker.on_revoke)
        else:
            homes = home_partitions(registry, _partition_count(consumer, kafka.orders_topic,
                                                               partitions))
            tracker.on_assign(consumer, [TopicPartition(kafka.orders_topic, int(p))
                                         for p in partitions])
    except BaseException:
        consumer.close()
        dead_letters.close()
        producer.close()
        ring.close()
        raise
    log.info("bridge: %s%s -> ring %s (group %s, start %s, commit %s)", kafka.orders_topic,
             "" if partitions is None else f" partitions {list(partitions)}",
             inbound_ring_name, group_id or kafka.group_id, offsets.start, offsets.commit)
    try:
        while not should_stop():
            messages = take_available(consumer, batch_size, poll_timeout)
            dead_letters.poll()
            if not messages:
                tracker.tick()
                continue
            commands, positions = _decode_batch(messages, registry, account, dead_letters,
                                                metrics, stats, homes)
            if commands.shape[0]:
                if not _write_all(producer, commands, should_stop, metrics):
                    break  # stopping with a full ring: these messages were not written
                stats.commands += commands.shape[0]
                stats.batches += 1
                metrics.inc("commands_out", commands.shape[0])
                metrics.inc("batches")
            tracker.written_up_to(positions)
            tracker.tick()
    finally:
        try:
            consumer.close()
        finally:
            dead_letters.close()
            producer.close()
            ring.close()
    log.info("bridge stopped: %s", stats)
    return stats


def take_available(consumer, batch_size: int, timeout: float) -> list:
    """Whatever is queued, up to ``batch_size``, waiting at most ``timeout`` only for the first.

    ``consume(n, timeout)`` returns when ``n`` messages are queued *or* the timeout passes, so
    under a light load every message waited for the batch to fill: at 20K orders/s, 50 ms of
    a 1,000-message batch. Waiting for one message and then taking what is already there
    batches under load and adds no latency without it.
    """
    messages = consumer.consume(num_messages=batch_size, timeout=0)
    if messages:
        return messages
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(num_messages=batch_size - 1, timeout=0)]


def home_partitions(registry, partitions: int) -> np.ndarray:
    """``homes[pair_id]``: the `orders` partition each pair is keyed to, ``crc32(name) % n``."""
    return np.array([partition_for(pair.name.encode(), partitions) for pair in registry],
                    dtype=np.int64)


def _partition_count(consumer, topic: str, owned: Sequence[int]) -> int:
    described = consumer.list_topics(topic, timeout=30).topics.get(topic)
    if described is None or described.error is not None or not described.partitions:
        raise RingexError(f"topic {topic!r} is missing; run ensure_topics first")
    count = len(described.partitions)
    beyond = sorted(p for p in owned if not 0 <= p < count)
    if beyond:
        raise RingexError(f"partitions {beyond} of {topic!r} do not exist (it has {count})")
    return count


def _misrouted(commands: np.ndarray, partition: int, homes: np.ndarray, registry):
    """A ValidationError for the first record whose pair lives in another partition."""
    pair_ids = commands["pair_id"]
    if pair_ids.shape[0] == 1:  # a JSON message: scalar code is several times cheaper
        pair_id = int(pair_ids[0])
        if not 0 <= pair_id < homes.shape[0] or homes[pair_id] == partition:
            return None
        index = 0
    else:
        known = (pair_ids >= 0) & (pair_ids < homes.shape[0])
        wrong = np.nonzero(known & (homes[np.where(known, pair_ids, 0)] != partition))[0]
        if not wrong.shape[0]:
            return None
        index = int(wrong[0])
    pair = registry.get(int(pair_ids[index]))
    where = "pair" if commands.shape[0] == 1 else f"records[{index}].pair"
    return ValidationError(where, f"pair {pair.name} belongs to partition "
                                  f"{int(homes[pair.pair_id])} of the orders topic (crc32 of "
                                  f"its name), not {partition}: key orders by their pair")


def _decode_batch(messages, registry, account: int, dead_letters: DeadLetters,
                  metrics: KafkaMetrics, stats: BridgeStats, homes: np.ndarray | None = None):
    """The records of one poll, in message order, and the last offset per partition.

    Runs of consecutive JSON messages of one partition are decoded in one compiled call
    (:func:`ringex.kafka.decode.decode_json_messages`, identical records and errors); frames,
    messages with headers and anything that call cannot take go one by one.
    """
    chunks: list[np.ndarray] = []
    consumed = 0
    positions: dict[tuple[str, int], int] = {}
    run: list = []

    def flush() -> None:
        if run:
            _decode_json_run(run, registry, account, dead_letters, metrics, stats, homes,
                             chunks)
            run.clear()

    for message in messages:
        error = message.error()
        if error is not None:
            metrics.error("consume")
            if error.fatal():
                raise RingexError(f"fatal consumer error: {describe_error(error)}")
            log.warning("consume: %s", describe_error(error))
            continue
        consumed += 1
        partition = message.partition()
        positions[(message.topic(), partition)] = message.offset()
        payload = message.value()
        if message.headers() or (payload is not None and payload[:4] == FRAME_MAGIC):
            flush()
            chunks.append(_decode_one(message, registry, account, dead_letters, metrics, stats,
                                      homes))
            continue
        if run and run[0].partition() != partition:
            flush()
        run.append(message)
    flush()
    stats.messages += consumed
    metrics.inc("messages_in", consumed)
    if not chunks:
        return np.zeros(0, dtype=COMMAND_DTYPE), positions
    return (chunks[0] if len(chunks) == 1 else _joined(chunks)), positions


def _joined(chunks: list[np.ndarray]) -> np.ndarray:
    """The chunks in one array. ``np.concatenate`` first promotes a structured dtype field by
    field (~20 µs a call, as much as decoding a small frame); a plain copy does not."""
    joined = np.empty(sum(chunk.shape[0] for chunk in chunks), dtype=COMMAND_DTYPE)
    at = 0
    for chunk in chunks:
        joined[at:at + chunk.shape[0]] = chunk
        at += chunk.shape[0]
    return joined


def _decode_json_run(run, registry, account: int, dead_letters: DeadLetters,
                     metrics: KafkaMetrics, stats: BridgeStats, homes, chunks) -> None:
    """JSON messages of one partition, without headers: one record each."""
    partition = run[0].partition()
    keys = [message.key() for message in run]
    stamps = [timestamp_ns_of(message) for message in run]
    try:
        records, errors = decode_json_messages(
            [message.value() for message in run], registry, partition=partition,
            offsets=[message.offset() for message in run], timestamps_ns=stamps,
            default_account=account, keys=keys)
    except Exception:  # the batch path must never cost a message: decode them one by one
        log.exception("batch decode failed on %d messages of partition %d; decoding them one "
                      "by one", len(run), partition)
        for message in run:
            chunks.append(_decode_one(message, registry, account, dead_letters, metrics, stats,
                                      homes))
        return
    problems = dict(errors)
    if homes is not None:
        pair_ids = records["pair_id"]
        known = (pair_ids >= 0) & (pair_ids < homes.shape[0])
        for index in np.nonzero(known & (homes[np.where(known, pair_ids, 0)] != partition))[0]:
            index = int(index)
            if index not in problems:
                problems[index] = _misrouted(records[index:index + 1], partition, homes,
                                             registry)
    for index in sorted(problems):
        message = run[index]
        stats.rejected += 1
        metrics.error("decode")
        dead_letters.copy(message, problems[index])
        pair_id = pair_id_of_key(keys[index], registry)
        if homes is not None and pair_id >= 0 and homes[pair_id] != partition:
            pair_id = -1  # its events must not go to a partition another instance owns
        records[index] = invalid_command(partition=partition, offset=message.offset(),
                                         timestamp_ns=stamps[index], pair_id=pair_id,
                                         error=problems[index], payload=message.value(),
                                         default_account=account)[0]
    records["_reserved"] = MESSAGE_START | MESSAGE_END
    chunks.append(records)


def _decode_one(message, registry, account: int, dead_letters: DeadLetters,
                metrics: KafkaMetrics, stats: BridgeStats, homes) -> np.ndarray:
    """One message (a frame, or JSON with headers): its marked records, or its stand-in."""
    partition, offset = message.partition(), message.offset()
    timestamp_ns = timestamp_ns_of(message)
    try:
        commands, wire_format = decode_message(
            message.value(), message.headers(), registry, partition=partition,
            offset=offset, timestamp_ns=timestamp_ns, default_account=account)
        misrouted = None if homes is None else _misrouted(commands, partition, homes,
                                                          registry)
        if misrouted is not None:
            raise misrouted
        if wire_format == "frame":
            _flag_bad_records(message, commands, registry, dead_letters)
        return _mark_message(commands)
    except ValidationError as exc:
        problem = exc
    except Exception as exc:  # a decoder bug must not stall the partition either
        log.exception("decoder failed on %s/%d@%d", message.topic(), partition, offset)
        problem = ValidationError("payload", f"internal decoder error: {type(exc).__name__}")
    stats.rejected += 1
    metrics.error("decode")
    dead_letters.copy(message, problem)
    pair_id = pair_id_of_key(message.key(), registry)
    if homes is not None and pair_id >= 0 and homes[pair_id] != partition:
        pair_id = -1  # its events must not go to a partition another instance owns
    return _mark_message(invalid_command(partition=partition, offset=offset,
                                         timestamp_ns=timestamp_ns, pair_id=pair_id,
                                         error=problem, payload=message.value(),
                                         default_account=account))


def _mark_message(commands: np.ndarray) -> np.ndarray:
    """Mark a message's first, last and middle records (``_reserved``), so the engine applies
    each message once even when a restarted bridge writes it again (``docs/recovery.md``)."""
    if commands.shape[0]:
        commands["_reserved"] = MESSAGE_MIDDLE
        commands["_reserved"][0] = MESSAGE_START
        commands["_reserved"][-1] |= MESSAGE_END
    return commands


def _flag_bad_records(message, commands, registry, dead_letters: DeadLetters) -> None:
    """A well-formed frame with bad records: the records still go to the engine (its REJECTED
    events give each reason); one DLQ copy names the first bad record and the count."""
    errors = frame_record_errors(commands, registry)
    if errors:
        first = errors[0][1]
        dead_letters.copy(message, first, extra=[("ringex-error-count", str(len(errors)).encode())])


def _write_all(producer, commands: np.ndarray, should_stop, metrics: KafkaMetrics,
               retry: float = 0.5) -> bool:
    """One claim/publish per ``capacity`` records; waits out a full ring unless stopping."""
    capacity = producer.ring.capacity
    start = 0
    while start < commands.shape[0]:
        chunk = commands[start:start + capacity]
        try:
            batch = producer.claim(chunk.shape[0], timeout=retry)
        except TimeoutError:
            metrics.error("ring")
            if should_stop():
                return False
            continue
        filled = 0
        for view in batch.views:
            view[:] = chunk[filled:filled + view.shape[0]]
            filled += view.shape[0]
        producer.publish(batch)
        start += chunk.shape[0]
    return True
