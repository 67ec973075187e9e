"""Correctness at the end of a run: a fast wrong run is a failure.

1. **Outcomes** (:func:`check_outcomes`): every command of the flow has exactly one outcome
   in ``order-events`` (on the REST route, none for a command the gateway refused with 409:
   its outcome is that answer); a NEW order's final event (filled, cancelled) comes at most once and
   only after it was accepted; no cancel or amend outcome names an order that no command
   aimed at.
2. **Trades** (:func:`check_trades`): the whole ``orders`` topic is read back and decoded
   exactly as the bridge decodes it (:func:`ringex.kafka.decode.records_of_message`, with
   the ``kind = 0`` stand-in for a malformed message), run through a matcher, and the resulting
   trades, as JSON (:func:`ringex.wire.json_events.trades_to_json`), must equal the whole
   ``trades`` topic (event frames turned into the same JSON, :func:`trade_payloads`). With one ``orders`` partition the engine saw the topic's order, so the
   comparison is byte for byte. With several, the interleaving of partitions in the engine is
   not recorded anywhere, so ``seq`` and ``command_index`` (engine-wide counters) are left
   out and the trades are compared pair by pair, in order: matching itself is per pair.

The matcher is the pure-Python :class:`ringex.spec.matcher.ReferenceMatcher` (~100K
commands/s), or, with ``matcher="engine"``, the compiled :class:`ringex.engine.MatchingEngine`
(itself verified against the reference by the differential tests and perf/bench_engine.py).
``corrupt`` lets a test damage the expected trades to show that the check fails.
"""

from __future__ import annotations

import time
from collections import defaultdict

import msgspec
import numpy as np

from ringex.kafka.decode import records_of_message
from ringex.records import EventKind
from ringex.wire.frames import decode_event_frame, is_event_frame
from ringex.wire.json_events import trades_to_json

__all__ = ["read_topic", "expected_trades", "check_trades", "check_outcomes", "trade_payloads"]


def read_topic(bootstrap: str, topic: str, timeout: float = 300.0) -> list[list]:
    """Every committed message of ``topic`` (beginning to each partition's end, as
    :func:`ringex.kafka.reading.read_to_end` finds it), one list per partition, in offset
    order; raises ``TimeoutError`` if it cannot be read in ``timeout`` s."""
    from confluent_kafka.admin import AdminClient

    from ringex.kafka.reading import read_to_end

    described = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3}).list_topics(
        topic, timeout=30).topics[topic]
    by_partition = {p: [] for p in sorted(described.partitions)}
    for message in read_to_end(bootstrap, topic, timeout=timeout, client_id="loadtest-verify"):
        by_partition[message.partition()].append(message)
    return list(by_partition.values())


def trade_payloads(values: list[bytes], registry) -> list[bytes]:
    """The ``trades`` topic's messages as trade JSON, one per trade: a JSON message as it
    is, an event frame (``kafka.events_format = "frame"``) as the JSON of each of its records
    (:func:`trades_to_json`, the encoder the JSON format uses, so the comparison stays byte
    for byte and covers every field of the records)."""
    out = []
    for value in values:
        if is_event_frame(value):
            out.extend(trades_to_json(np.array(decode_event_frame(value)), registry))
        else:
            out.append(value)
    return out


def _commands_of(messages, registry, default_account: int) -> np.ndarray:
    chunks = []
    for message in messages:
        chunks.append(records_of_message(message, registry, default_account=default_account)[0])
    from ringex.records import COMMAND_DTYPE

    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=COMMAND_DTYPE)


def expected_trades(order_partitions: list[list], registry, *, default_account: int,
                    order_capacity: int, matcher: str = "reference") -> tuple[list[bytes], dict]:
    """The trades JSON the exchange must have produced from these ``orders`` messages."""
    started = time.perf_counter()
    commands = np.concatenate([_commands_of(messages, registry, default_account)
                               for messages in order_partitions])
    decoded = time.perf_counter()
    if matcher == "engine":
        from ringex.engine import MatchingEngine

        events = MatchingEngine(registry.pairs, order_capacity=order_capacity).process(commands)
    else:
        from ringex.spec.matcher import ReferenceMatcher

        reference = ReferenceMatcher(registry.pairs, order_capacity=order_capacity)
        events = np.concatenate([reference.process(commands[i:i + 100_000])
                                 for i in range(0, commands.shape[0], 100_000)] or
                                [np.zeros(0, dtype=commands.dtype)])
    matched = time.perf_counter()
    trades = events[events["kind"] == EventKind.TRADE]
    info = {"matcher": matcher, "orders_commands": int(commands.shape[0]),
            "expected_events": int(events.shape[0]), "expected_trades": int(trades.shape[0]),
            "decode_s": round(decoded - started, 2), "match_s": round(matched - decoded, 2),
            "decode_us_per_message": round(
                (decoded - started) * 1e6 / max(1, sum(map(len, order_partitions))), 2)}
    return trades_to_json(trades, registry), info


_ENGINE_COUNTERS = (b"seq", b"command_index")


def _per_pair(payloads: list[bytes], strip: bool) -> dict:
    decode = msgspec.json.decode
    pairs = defaultdict(list)
    for payload in payloads:
        trade = decode(payload)
        if strip:
            trade.pop("seq", None)
            trade.pop("command_index", None)
        pairs[trade["pair"]].append(trade)
    return pairs


def check_trades(actual: list[bytes], expected: list[bytes], *, exact: bool,
                 corrupt=None) -> dict:
    """``{"ok", "actual", "expected", "first_difference"}``. ``actual`` is the ``trades``
    topic in partition/offset order; ``exact``: compare bytes and order (one ``orders``
    partition), else per pair without the engine-wide counters."""
    if corrupt is not None:
        expected = corrupt(list(expected))
    result = {"ok": True, "actual": len(actual), "expected": len(expected),
              "comparison": "byte-exact" if exact else "per pair, without seq/command_index"}
    if exact:
        by_seq = sorted(actual, key=lambda payload: msgspec.json.decode(payload)["seq"])
        for index, (got, want) in enumerate(zip(by_seq, expected)):
            if got != want:
                result.update(ok=False, first_difference={"index": index, "actual": got.decode(),
                                                          "expected": want.decode()})
                return result
        if len(actual) != len(expected):
            result.update(ok=False, first_difference={"index": min(len(actual), len(expected)),
                                                      "reason": "different counts"})
        return result
    got_pairs, want_pairs = _per_pair(actual, True), _per_pair(expected, True)
    for pair in sorted(set(got_pairs) | set(want_pairs)):
        got, want = got_pairs.get(pair, []), want_pairs.get(pair, [])
        for index, (a, b) in enumerate(zip(got, want)):
            if a != b:
                result.update(ok=False, first_difference={"pair": pair, "index": index,
                                                          "actual": a, "expected": b})
                return result
        if len(got) != len(want):
            result.update(ok=False, first_difference={"pair": pair, "actual": len(got),
                                                      "expected": len(want)})
            return result
    return result


def check_outcomes(flow, attribution, refused=None) -> dict:
    """Exactly one outcome per command; at most one final event per order, only if accepted.
    ``refused`` (REST route): commands the gateway refused before the matcher (409), whose
    outcome is that answer: they must have none in `order-events`."""
    counts = attribution.outcome_count
    expected = np.ones(counts.shape, dtype=np.int64)
    if refused is not None:
        expected[refused] = 0
    missing = np.flatnonzero((expected == 1) & (counts == 0))
    duplicated = np.flatnonzero(counts > expected)
    new = flow.is_new
    double_final = np.flatnonzero(attribution.final_count > 1)
    final_unaccepted = np.flatnonzero((attribution.final_count > 0) & ~attribution.accepted & new)
    ok = not (missing.size or duplicated.size or double_final.size or final_unaccepted.size
              or attribution.unmatched_op_events)
    return {"ok": bool(ok), "commands": len(flow),
            "with_one_outcome": int((counts == 1).sum()),
            "refused_without_outcome": int(((expected == 0) & (counts == 0)).sum()),
            "missing": int(missing.size), "duplicated": int(duplicated.size),
            "first_missing": missing[:5].tolist(), "first_duplicated": duplicated[:5].tolist(),
            "orders_with_two_finals": int(double_final.size),
            "finals_without_accept": int(final_unaccepted.size),
            "unmatched_cancel_amend_outcomes": attribution.unmatched_op_events,
            "accepted": int(attribution.accepted.sum()),
            "rejected_new": int((new & ~attribution.accepted & (counts == 1)).sum()),
            "finals": int((attribution.final_count > 0).sum())}
