"""The receiver: a process that reads ``order-events`` and ``trades`` and stamps each message's
arrival time (``time.monotonic_ns``, one clock for every process of the box).

It runs in a process of its own (spawned, never forked: librdkafka is not fork-safe) so
parsing does not steal the sender's interpreter. It starts at the end offsets that the
parent measured before sending anything, reads with ``isolation.level=read_committed``, and
keeps only what attribution needs, as flat columns (:data:`EVENT_COLUMNS`,
:data:`TRADE_COLUMNS`). A batch from ``consume`` shares one arrival stamp, taken when the
batch is returned: a message is never stamped earlier than it arrived.

Protocol with the parent, over a shared ``int64`` array (:class:`Shared` indices): the
receiver counts events, outcomes of this run's commands, trades and foreign events as it
goes; the parent sets ``STOP``; the receiver then reads up to the end offsets current at
that moment (bounded by ``drain_s``; the topics are written in transactions, so a partition
is read to its end when the broker signals end-of-partition past the last commit marker, not
when the last data message is in), writes its columns to ``out_path`` (``.npz``) and sets
``DONE``.

Hops (event frames only): each event of this run's commands in an `order-events` frame also
yields two durations from the Kafka timestamps (``CreateTime``, wall clock, whole
milliseconds), kept as :data:`HOP_COLUMNS`: ``hop_in_ms``, from its command's message in
`orders` (the event's ``timestamp_ns``; the sender's producer stamps it when it takes the
message, so its own linger counts here) to the publisher's produce of the frame, i.e. the
sender's batching, bridge, engine and publisher; and ``hop_out_ms``, from that produce to this
process reading it, i.e. the rest of the transaction (linger, commit, markers) and the fetch.
Both are exact to about a millisecond.

Freshness (:mod:`~perf.loadtest.freshness`): every trade read from `trades` is kept as its
``seq`` with its message's ``CreateTime`` (:data:`FRESH_COLUMNS`).
"""

from __future__ import annotations

import time

import msgspec
import numpy as np

from ringex.kafka.bridge import take_available
from ringex.records import Reason
from ringex.wire.frames import decode_event_frame, is_event_frame

__all__ = ["Shared", "run_receiver", "EVENT_COLUMNS", "TRADE_COLUMNS", "HOP_COLUMNS",
           "FRESH_COLUMNS", "end_offsets"]

EVENT_COLUMNS = ("arrival_ns", "kind", "flags", "order_id", "client_order_id",
                 "maker_order_id")
TRADE_COLUMNS = ("arrival_ns", "taker_order_id", "maker_order_id")
HOP_COLUMNS = ("hop_in_ms", "hop_out_ms")
FRESH_COLUMNS = ("fresh_seq", "fresh_created_ms")

# event flags
SIDE_NULL, PRICE_ZERO, LEAVES_ZERO, MAKER_LEAVES_ZERO, USER_CANCELED = 1, 2, 4, 8, 16
KINDS = {"ACCEPTED": 1, "REJECTED": 2, "TRADE": 3, "CANCELED": 4, "AMENDED": 5,
         "PAIR_STATUS": 6, "MASS_CANCELED": 7}


_USER_CANCELED_REASON = int(Reason.USER_CANCELED)


class Shared:
    """Indices into the shared counter array."""

    EVENTS, OUTCOMES, TRADES, FOREIGN, STOP, DONE, READY, SAMPLER_STOP, SAMPLER_DONE, SIZE = \
        range(10)


class _Event(msgspec.Struct):
    kind: str
    reason: str | None = None
    order_id: int = 0
    client_order_id: int = 0
    side: str | None = None
    price: str | None = None
    leaves_qty: str | None = None
    maker_order_id: int = 0
    maker_leaves_qty: str | None = None


class _Trade(msgspec.Struct):
    taker_order_id: int
    maker_order_id: int
    seq: int = 0


def _zero(text: str | None) -> bool:
    return text is None or not text.strip("0.")


def end_offsets(consumer, topics: list[str], timeout: float = 10.0) -> dict:
    """``{(topic, partition): high watermark}`` of every partition of ``topics``."""
    from confluent_kafka import TopicPartition

    metadata = consumer.list_topics(timeout=timeout)
    ends = {}
    for topic in topics:
        for partition in metadata.topics[topic].partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                        timeout=timeout)
            ends[(topic, partition)] = high
    return ends


def run_receiver(bootstrap: str, events_topic: str, trades_topic: str, starts: dict,
                 shared, out_path: str, ours: tuple, drain_s: float = 60.0) -> None:
    """``ours = (coid_lo, coid_hi, id_lo, id_hi)``: half-open ranges of this run's client
    order ids and frame order ids, to tell this run's outcomes from anyone else's. An event
    that names neither (a cancel or amend by an id the sequencer assigned, rejected: its
    copy carries no client order id) is ours if an earlier outcome of one of our NEW orders
    carried that order id."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"loadtest-receiver-{time.time_ns()}",
        "enable.auto.commit": False, "isolation.level": "read_committed",
        "fetch.wait.max.ms": 5, "fetch.min.bytes": 1, "log_level": 3,
        "queued.max.messages.kbytes": 256 * 1024, "enable.partition.eof": True,
        "fetch.queue.backoff.ms": 1,  # librdkafka's 1 s pause at a full queue starved it
    })
    consumer.assign([TopicPartition(topic, partition, offset)
                     for (topic, partition), offset in starts.items()])
    events = {name: [] for name in EVENT_COLUMNS}
    trades = {name: [] for name in TRADE_COLUMNS}
    hops = {name: [] for name in HOP_COLUMNS}
    fresh = {name: [] for name in FRESH_COLUMNS}
    decode_event = msgspec.json.Decoder(_Event).decode
    decode_trade = msgspec.json.Decoder(_Trade).decode
    coid_lo, coid_hi, id_lo, id_hi = ours
    positions = dict(starts)
    assigned = set()  # ids the sequencer gave this run's NEW orders (JSON and REST routes)
    from ringex.runtime.process_common import settle_heap

    settle_heap()  # its arrival clock must not stop 30-90 ms for a full collection
    shared[Shared.READY] = 1
    ends = None
    deadline = None
    try:
        while True:
            messages = take_available(consumer, 10_000, 0.05)
            now = time.monotonic_ns()
            now_ms = time.time_ns() // 1_000_000  # the clock of Kafka's CreateTime stamps
            n_events = n_outcomes = n_trades = n_foreign = 0
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:  # past any commit marker
                        key = (message.topic(), message.partition())
                        positions[key] = max(positions.get(key, 0), message.offset())
                    continue
                topic = message.topic()
                positions[(topic, message.partition())] = message.offset() + 1
                value = message.value()
                if is_event_frame(value):  # kafka.events_format = "frame"
                    records = decode_event_frame(value)
                    if topic == trades_topic:
                        fresh["fresh_seq"].append(records["seq"])
                        fresh["fresh_created_ms"].append(
                            np.full(records.shape[0], message.timestamp()[1], dtype=np.int64))
                    counts, mine = _take_frame(records, topic == trades_topic, now,
                                               events, trades, ours, assigned)
                    if mine is not None:
                        _take_hops(records[mine], message.timestamp()[1], now_ms, hops)
                    n_events += counts[0]
                    n_outcomes += counts[1]
                    n_trades += counts[2]
                    n_foreign += counts[3]
                    continue
                if topic == trades_topic:
                    trade = decode_trade(message.value())
                    trades["arrival_ns"].append(now)
                    trades["taker_order_id"].append(trade.taker_order_id)
                    trades["maker_order_id"].append(trade.maker_order_id)
                    fresh["fresh_seq"].append(trade.seq)
                    fresh["fresh_created_ms"].append(message.timestamp()[1])
                    n_trades += 1
                    continue
                event = decode_event(message.value())
                kind = KINDS.get(event.kind, 0)
                flags = ((SIDE_NULL if event.side is None else 0)
                         | (PRICE_ZERO if _zero(event.price) else 0)
                         | (LEAVES_ZERO if _zero(event.leaves_qty) else 0)
                         | (MAKER_LEAVES_ZERO if kind == 3 and _zero(event.maker_leaves_qty)
                            else 0)
                         | (USER_CANCELED if event.reason == "USER_CANCELED" else 0))
                events["arrival_ns"].append(now)
                events["kind"].append(kind)
                events["flags"].append(flags)
                events["order_id"].append(event.order_id)
                events["client_order_id"].append(event.client_order_id)
                events["maker_order_id"].append(event.maker_order_id)
                n_events += 1
                mine = (coid_lo <= event.client_order_id < coid_hi
                        or id_lo <= event.order_id < id_hi or event.order_id in assigned)
                if mine and (kind == 1 or (kind == 2 and event.side is not None)):
                    assigned.add(event.order_id)
                if not mine:
                    n_foreign += 1
                elif kind in (1, 2, 5) or (kind == 4 and flags & USER_CANCELED):
                    n_outcomes += 1
            shared[Shared.EVENTS] += n_events
            shared[Shared.OUTCOMES] += n_outcomes
            shared[Shared.TRADES] += n_trades
            shared[Shared.FOREIGN] += n_foreign
            if shared[Shared.STOP]:
                if ends is None:
                    ends = end_offsets(consumer, [events_topic, trades_topic])
                    deadline = time.monotonic() + drain_s
                caught_up = all(positions.get(key, 0) >= end for key, end in ends.items())
                if caught_up or time.monotonic() > deadline:
                    break
    finally:
        consumer.close()
        np.savez(out_path,
                 **{f"event_{k}": _column(v) for k, v in events.items()},
                 **{f"trade_{k}": _column(v) for k, v in trades.items()},
                 **{k: _column(v) for k, v in hops.items()},
                 **{k: _column(v) for k, v in fresh.items()})
        shared[Shared.DONE] = 1


def _column(values: list) -> np.ndarray:
    """A column gathered as ints (JSON messages) and int64 arrays (frames), in order."""
    parts, ints = [], []
    for value in values:
        if isinstance(value, np.ndarray):
            if ints:
                parts.append(np.array(ints, dtype=np.int64))
                ints = []
            parts.append(value.astype(np.int64))
        else:
            ints.append(value)
    if ints:
        parts.append(np.array(ints, dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


_STATUS_KINDS = (6, 7)  # PAIR_STATUS, MASS_CANCELED: their JSON names no order


def _take_hops(records: np.ndarray, produced_ms: int, read_ms: int, hops: dict) -> None:
    """The two hops (module docstring) of a frame's events of this run; none if the frame has
    no timestamp."""
    if produced_ms <= 0 or records.shape[0] == 0:
        return
    hops["hop_in_ms"].append(produced_ms - records["timestamp_ns"] // 1_000_000)
    hops["hop_out_ms"].append(np.full(records.shape[0], read_ms - produced_ms, dtype=np.int64))


def _take_frame(records: np.ndarray, is_trades: bool, now: int, events: dict, trades: dict,
                ours: tuple, assigned: set
                ) -> tuple[tuple[int, int, int, int], np.ndarray | None]:
    """One event frame into the columns, with the same values the JSON path derives from
    the same events (the fields a JSON event omits read as absent: 0 or null).

    Returns the counts (events, outcomes, trades, foreign) and, for an `order-events` frame,
    which of its events belong to this run's commands (None for a `trades` frame)."""
    n = int(records.shape[0])
    if is_trades:
        trades["arrival_ns"].append(np.full(n, now, dtype=np.int64))
        trades["taker_order_id"].append(records["order_id"])
        trades["maker_order_id"].append(records["maker_order_id"])
        return (0, 0, n, 0), None
    coid_lo, coid_hi, id_lo, id_hi = ours
    kind = records["kind"].astype(np.int64)
    status_kind = np.isin(kind, _STATUS_KINDS)
    trade = kind == 3
    order_id = np.where(status_kind, 0, records["order_id"])
    client_order_id = np.where(status_kind, 0, records["client_order_id"])
    maker_order_id = np.where(trade, records["maker_order_id"], 0)
    side_null = status_kind | ((records["side"] != 1) & (records["side"] != 2))
    flags = (np.where(side_null, SIDE_NULL, 0)
             | np.where(status_kind | (records["price"] == 0), PRICE_ZERO, 0)
             | np.where(status_kind | (records["leaves_qty"] == 0), LEAVES_ZERO, 0)
             | np.where(trade & (records["maker_leaves_qty"] == 0), MAKER_LEAVES_ZERO, 0)
             | np.where(~status_kind & (records["reason"] == _USER_CANCELED_REASON),
                        USER_CANCELED, 0))
    events["arrival_ns"].append(np.full(n, now, dtype=np.int64))
    events["kind"].append(kind)
    events["flags"].append(flags)
    events["order_id"].append(order_id)
    events["client_order_id"].append(client_order_id)
    events["maker_order_id"].append(maker_order_id)
    direct = (((coid_lo <= client_order_id) & (client_order_id < coid_hi))
              | ((id_lo <= order_id) & (order_id < id_hi)))
    names_new = (kind == 1) | ((kind == 2) & ~side_null)
    assigned.update(order_id[direct & names_new].tolist())
    # an order's own events come after the outcome that assigned its id, so the ids a frame
    # adds may be taken for the whole frame
    mine = direct.copy()
    for index in np.flatnonzero(~direct).tolist():  # few: rejected operations on our ids
        mine[index] = order_id[index] in assigned
    outcome = mine & (np.isin(kind, (1, 2, 5)) | ((kind == 4) & ((flags & USER_CANCELED) != 0)))
    return (n, int(outcome.sum()), 0, int(n - mine.sum())), mine
