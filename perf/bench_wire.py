"""Benchmark of the JSON edges: the compiled encoder and decoder against the reference ones.

Prints one JSON line for the machine and one per case, each with ns per message for the
reference (the plain-Python code the fast paths replaced: ``ringex.spec.json_events`` and
``ringex.wire.json_commands_fallback``) and the fast path, measured in the same process run,
alternately, median of ``--reps`` runs. Every run checks that both produced the same bytes
(events) or the same records and errors (orders); a fast wrong answer fails the benchmark
instead of printing a number.

    python perf/bench_wire.py                 # all cases
    python perf/bench_wire.py --reps 9 --orders 20000 --batches 12

Cases:
  encode_events / encode_trades      events_to_json / trades_to_json vs the f-string encoder,
                                     over a seeded reference-matcher run (every event kind)
  decode_message:<payloads>          the bridge's per-message call vs the reference decoder
  decode_batch:<payloads>            decode_json_messages (one pass per poll) vs the
                                     reference decoder called per message
Payloads: native orders with integer client ids (what the load tester sends), native with
string client ids (hashed), the Go design's format; each as ``valid`` (only messages the
reference accepts) and ``with-bad`` (the seeded stream's invalid commands plus every 64th
message truncated, ~3.6%: those go through the reference decoder, errors included).

Times are per message: ``cpu_ns`` is this thread's CPU time (robust on a shared box),
``wall_ns`` the elapsed time. The box running it may be shared: compare the ratios.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time

import msgspec
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perf.machine import host, versions  # noqa: E402
from ringex.errors import ValidationError  # noqa: E402
from ringex.kafka.decode import decode_json_messages, decode_message  # noqa: E402
from ringex.pairs import default_pairs  # noqa: E402
from ringex.records import (  # noqa: E402
    CommandKind,
    EventKind,
    OrderFlag,
    OrderType,
    PairStatus,
    Side,
    StpMode,
    TimeInForce,
)
from ringex.spec.json_events import (  # noqa: E402
    events_to_json_reference,
    trades_to_json_reference,
)
from ringex.spec.matcher import ReferenceMatcher  # noqa: E402
from ringex.testing.generator import CommandStream  # noqa: E402
from ringex.wire.ids import kafka_order_id  # noqa: E402
from ringex.wire.json_commands_fallback import decode_command_reference  # noqa: E402
from ringex.wire.json_events import events_to_json, trades_to_json  # noqa: E402
from ringex.wire.units import registry_units  # noqa: E402

PARTITION = 3
ACCOUNT = 1
TIMESTAMP_NS = 1_700_000_000_000_000_000
_ENCODE = msgspec.json.Encoder().encode


def machine_line(args) -> dict:
    return {
        "machine": {**host(), "load_average": [round(load, 2) for load in os.getloadavg()]},
        "versions": versions("numpy", "numba", "msgspec"),
        "conditions": {"reps": args.reps, "orders": args.orders, "event_batches": args.batches,
                       "seed": args.seed, "threads": 1,
                       "timed": "median over reps, reference and fast alternately"},
    }


def matcher_events(seed: int, batches: int, registry) -> np.ndarray:
    matcher = ReferenceMatcher(registry.pairs)
    stream = CommandStream(registry.pairs, seed=seed)
    runs = []
    for _ in range(batches):
        events = matcher.process(stream.next_batch(500))
        stream.observe(events)
        runs.append(events)
    return np.concatenate(runs)


def _name(enum_type, code: int) -> str:
    try:
        return enum_type(code).name.lower()
    except ValueError:
        return "bogus"


def order_payloads(seed: int, count: int, registry, style: str) -> list[bytes]:
    """``count`` JSON messages of a seeded command stream in ``style``: ``native-int-ids``,
    ``native-string-ids`` or ``seed-format``; the stream's invalid commands (~1%) come out as
    bad messages, and every 64th message is broken JSON."""
    units = registry_units(registry).by_id
    stream = CommandStream(registry.pairs, seed=seed)
    matcher = ReferenceMatcher(registry.pairs)
    payloads: list[bytes] = []
    while len(payloads) < count:
        commands = stream.next_batch(500)
        stream.observe(matcher.process(commands))
        for record in commands.tolist():
            payloads.append(_render(dict(zip(commands.dtype.names, record)), units, style))
    for index in range(0, count, 64):
        payloads[index] = payloads[index][:-3]
    return payloads[:count]


def _render(record: dict, units, style: str) -> bytes:
    kind, pair_id = record["kind"], record["pair_id"]
    pair = units[pair_id] if 0 <= pair_id < len(units) else None
    name = pair.pair.name if pair else "NOPE-USD"
    price = pair.price.format(record["price"]) if pair else "1"
    quantity = pair.quantity.format(record["quantity"]) if pair else "1"
    coid = record["client_order_id"]
    client_id: object = coid if style == "native-int-ids" else f"c-{coid}"
    if style == "seed-format" and kind in (CommandKind.NEW, CommandKind.CANCEL):
        order: dict[str, object] = {"id": client_id, "pair": name}
        if kind == CommandKind.NEW:
            order |= {"side": _name(Side, record["side"]),
                      "type": _name(OrderType, record["order_type"]), "amount": quantity}
            if record["order_type"] != OrderType.MARKET:
                order["price"] = price
        return _ENCODE({"action": "new" if kind == CommandKind.NEW else "cancel",
                        "order": order})
    message: dict[str, object] = {"type": _name(CommandKind, kind)}
    if kind == CommandKind.CANCEL_ALL:
        if pair:
            message["pair"] = name
    else:
        message["pair"] = name
    if kind == CommandKind.NEW:
        message |= {"side": _name(Side, record["side"]),
                    "order_type": _name(OrderType, record["order_type"]),
                    "quantity": quantity, "time_in_force": _name(TimeInForce, record["tif"]),
                    "stp": _name(StpMode, record["stp"])}
        if record["order_type"] != OrderType.MARKET:
            message["price"] = price
        if record["flags"] & OrderFlag.POST_ONLY:
            message["post_only"] = True
        if coid:
            message["client_order_id"] = client_id
    elif kind in (CommandKind.CANCEL, CommandKind.AMEND):
        if record["order_id"]:
            message["order_id"] = record["order_id"]
        else:
            message["client_order_id"] = client_id
        if kind == CommandKind.AMEND:
            message |= {"price": price, "quantity": quantity}
    elif kind == CommandKind.SET_STATUS:
        message["status"] = _name(PairStatus, record["status"])
    if kind != CommandKind.SET_STATUS:
        message["account"] = record["account"] or ACCOUNT
    return _ENCODE(message)


def _outcomes_reference(payloads, registry):
    """What the bridge got per message before: records (or None) and (index, field, text)."""
    records, errors = [], []
    for offset, payload in enumerate(payloads):
        try:
            records.append(decode_command_reference(
                payload, registry, order_id=kafka_order_id(PARTITION, offset),
                timestamp_ns=TIMESTAMP_NS, default_account=ACCOUNT,
                source_partition=PARTITION, source_offset=offset))
        except ValidationError as exc:
            records.append(None)
            errors.append((offset, exc.field, exc.message))
    return records, errors


def _outcomes_per_message(payloads, registry):
    records, errors = [], []
    for offset, payload in enumerate(payloads):
        try:
            records.append(decode_message(payload, None, registry, partition=PARTITION,
                                          offset=offset, timestamp_ns=TIMESTAMP_NS,
                                          default_account=ACCOUNT)[0])
        except ValidationError as exc:
            records.append(None)
            errors.append((offset, exc.field, exc.message))
    return records, errors


def _decode_batch(payloads, registry):
    return decode_json_messages(payloads, registry, partition=PARTITION,
                                offsets=list(range(len(payloads))),
                                timestamps_ns=[TIMESTAMP_NS] * len(payloads),
                                default_account=ACCOUNT)


def _batch_outcomes(decoded):
    """``decode_json_messages``' answer in the per-message shape (outside the timing)."""
    records, errors = decoded
    failed = {index for index, _ in errors}
    rows = [None if index in failed else records[index:index + 1]
            for index in range(records.shape[0])]
    return rows, [(index, error.field, error.message) for index, error in errors]


def _same_outcomes(left, right) -> bool:
    (left_records, left_errors), (right_records, right_errors) = left, right
    return left_errors == right_errors and all(
        (a is None and b is None) or (a is not None and b is not None
                                      and a.tobytes() == b.tobytes())
        for a, b in zip(left_records, right_records, strict=True))


def _timed(function):
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    result = function()
    return result, time.perf_counter_ns() - wall, time.thread_time_ns() - cpu


def compare(case: str, count: int, reference, fast, same, reps: int) -> dict:
    expected, _, _ = _timed(reference)
    got, _, _ = _timed(fast)
    if not same(expected, got):
        raise SystemExit(f"{case}: the fast path's output differs from the reference")
    times = {"reference": ([], []), "fast": ([], [])}
    for _ in range(reps):
        for label, function in (("reference", reference), ("fast", fast)):
            result, wall, cpu = _timed(function)
            if label == "fast" and not same(expected, result):
                raise SystemExit(f"{case}: the fast path's output differs from the reference")
            times[label][0].append(wall / count)
            times[label][1].append(cpu / count)
    line = {"case": case, "messages": count, "equal": True}
    for label, (walls, cpus) in times.items():
        line[f"{label}_cpu_ns"] = round(statistics.median(cpus))
        line[f"{label}_wall_ns"] = round(statistics.median(walls))
    line["speedup_cpu"] = round(line["reference_cpu_ns"] / line["fast_cpu_ns"], 1)
    return line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=10, help="matcher batches of 500")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    registry = default_pairs()
    events = matcher_events(args.seed, args.batches, registry)
    trades = events[events["kind"] == EventKind.TRADE]
    # compile (or load from the numba cache) outside the timed runs
    events_to_json(events[:2], registry)
    trades_to_json(trades[:2], registry)
    print(json.dumps(machine_line(args)), flush=True)
    print(json.dumps(compare("encode_events", len(events),
                             lambda: events_to_json_reference(events, registry),
                             lambda: events_to_json(events, registry),
                             lambda a, b: a == b, args.reps)), flush=True)
    print(json.dumps(compare("encode_trades", len(trades),
                             lambda: trades_to_json_reference(trades, registry),
                             lambda: trades_to_json(trades, registry),
                             lambda a, b: a == b, args.reps)), flush=True)
    for style in ("native-int-ids", "native-string-ids", "seed-format"):
        mixed = order_payloads(args.seed, args.orders, registry, style)
        _decode_batch(mixed[:4], registry)
        outcomes = _outcomes_reference(mixed, registry)[0]
        valid = [payload for payload, record in zip(mixed, outcomes) if record is not None]
        for label, payloads in ((f"{style}:valid", valid), (f"{style}:with-bad", mixed)):
            reference = functools.partial(_outcomes_reference, payloads, registry)
            line = compare(f"decode_message:{label}", len(payloads), reference,
                           functools.partial(_outcomes_per_message, payloads, registry),
                           _same_outcomes, args.reps)
            print(json.dumps(line | {"bad_share": round(1 - len(valid) / len(mixed), 4)
                                     if label.endswith("with-bad") else 0.0}), flush=True)
            line = compare(f"decode_batch:{label}", len(payloads), reference,
                           functools.partial(_decode_batch, payloads, registry),
                           lambda a, b: _same_outcomes(a, _batch_outcomes(b)), args.reps)
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
