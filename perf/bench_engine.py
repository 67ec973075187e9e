"""Matching-engine benchmark: compiled engine vs the pure-Python reference, same run.

    python perf/bench_engine.py            # all workloads, human-readable lines + JSON
    python perf/bench_engine.py --json     # JSON lines only
    python perf/bench_engine.py --workloads seed,ec-mix --repeats 5
    python perf/bench_engine.py --workloads ec-mix-coid --client-id-window 0

Every workload runs in a child process of its own, so its RSS is its own. In the child:
the stream is generated (untimed); a verification pass records the full event stream's
BLAKE2b digest, the state hash and the invariants; then ``--repeats`` timed passes on fresh
engines must reproduce the same hash (determinism); and the reference matcher replays the
stream where it can finish in reasonable time and must produce the identical event digest and
state hash. A fast wrong run fails loudly (exit code 1).

Timing covers ``MatchingEngine.process_into`` over the whole stream with a reused 64K-event
buffer: the full event stream is written, as the engine process writes it to its outbound
ring. Generation, allocation and verification are outside the timed region. Each result
gives the wall-clock median (``ns_per_msg``) and the median CPU time of the matching thread
(``cpu_ns_per_msg``), which other jobs on a shared box disturb less.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perf import workloads  # noqa: E402
from perf.machine import host, versions  # noqa: E402

EVENT_BUFFER = 1 << 16
REFERENCE_BATCH = 10_000
VENUE_SCENARIOS = {"calm": 0.5, "normal": 2.0, "volatile": 8.0}
# the reference runs ~1e5 commands/s; beyond this it is skipped unless --verify-all
REFERENCE_LIMIT = 2_500_000


def machine_line() -> dict:
    return {
        "machine": {**host(), **versions("numpy", "numba")},
        "conditions": {
            "event_buffer": EVENT_BUFFER,
            "threads": 1,
            "timed": "process_into over the whole stream, full event stream written",
        },
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _run_engine(engine, commands, events, digest=None, kinds=None):
    start = 0
    total = 0
    while start < commands.shape[0]:
        start, n_events, blocked = engine.process_into(commands, start, events)
        if n_events == 0 and blocked:
            raise RuntimeError(f"a command needs {blocked} events; raise EVENT_BUFFER")
        total += n_events
        if digest is not None:
            chunk = events[:n_events]
            digest.update(chunk.tobytes())
            kinds += np.bincount(chunk["kind"], minlength=kinds.shape[0])
    return total


def _reference_pass(pairs, commands, capacity, engine_options):
    from ringex.spec.matcher import ReferenceMatcher

    reference = ReferenceMatcher(pairs, order_capacity=capacity, **engine_options)
    digest = hashlib.blake2b(digest_size=16)
    began = time.perf_counter()
    for start in range(0, commands.shape[0], REFERENCE_BATCH):
        digest.update(reference.process(commands[start : start + REFERENCE_BATCH]).tobytes())
    seconds = time.perf_counter() - began
    return digest.hexdigest(), reference.state_hash(), seconds


def measure(name, pairs, commands, info, *, repeats, capacity, verify_reference, time_reference,
            engine_options=None):
    """``engine_options``: extra MatchingEngine (and ReferenceMatcher) arguments."""
    from ringex.engine import MatchingEngine
    from ringex.records import EVENT_DTYPE, EventKind

    engine_options = engine_options or {}
    events = np.zeros(EVENT_BUFFER, dtype=EVENT_DTYPE)
    warm = MatchingEngine(pairs[:1], order_capacity=16)
    warm.process_into(commands[:0], 0, events)  # load the compiled code from cache

    engine = MatchingEngine(pairs, order_capacity=capacity, event_capacity=EVENT_BUFFER,
                            **engine_options)
    info = {**info, "client_id_window": engine.client_id_window}
    digest = hashlib.blake2b(digest_size=16)
    kinds = np.zeros(8, dtype=np.int64)
    n_events = _run_engine(engine, commands, events, digest, kinds)
    engine.check_invariants()
    state_hash = engine.state_hash()
    live = engine.live_orders
    rss_after_verification = _rss_mb()
    del engine

    rates = []
    cpu_seconds = []
    for _ in range(repeats):
        engine = MatchingEngine(pairs, order_capacity=capacity, event_capacity=EVENT_BUFFER,
                                **engine_options)
        began, began_cpu = time.perf_counter(), time.thread_time()
        _run_engine(engine, commands, events)
        seconds = time.perf_counter() - began
        cpu_seconds.append(time.thread_time() - began_cpu)
        if engine.state_hash() != state_hash:
            raise SystemExit(f"{name}: state hash differs between runs: not deterministic")
        rates.append(commands.shape[0] / seconds)
        del engine
    median = statistics.median(rates)
    result = {
        "workload": name,
        "commands": int(commands.shape[0]),
        "events": int(n_events),
        "events_by_kind": {EventKind(k).name: int(v) for k, v in enumerate(kinds) if k and v},
        "msgs_per_s": round(median),
        "ns_per_msg": round(1e9 / median, 2),
        # CPU time of the matching thread: on a shared box, less disturbed by other jobs
        "cpu_ns_per_msg": round(1e9 * statistics.median(cpu_seconds) / commands.shape[0], 2),
        "runs_msgs_per_s": [round(r) for r in rates],
        "state_hash": state_hash,
        "event_digest": digest.hexdigest(),
        "resting_at_end": live,
        "deterministic": True,
        "rss_mb": round(rss_after_verification, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "info": info,
    }
    if verify_reference:
        ref_digest, ref_hash, ref_seconds = _reference_pass(pairs, commands, capacity,
                                                            engine_options)
        if ref_digest != result["event_digest"] or ref_hash != state_hash:
            raise SystemExit(f"{name}: the engine disagrees with the reference matcher")
        result["verified_against_reference"] = True
        if time_reference:
            ref_rate = commands.shape[0] / ref_seconds
            result["reference_msgs_per_s"] = round(ref_rate)
            result["speedup_vs_reference"] = round(median / ref_rate, 1)
    else:
        result["verified_against_reference"] = False
        result["verification"] = "invariants + determinism (reference skipped: too long)"
    return result


def child(name: str, args) -> list[dict]:
    scale = 10 if args.quick else 1
    lines = []
    if name == "venue":
        worst = None
        for scenario, volatility in VENUE_SCENARIOS.items():
            began = time.perf_counter()
            pairs, commands, info = workloads.build(
                "venue", n_orders=1_000_000 // scale, volatility=volatility)
            info["generation_seconds"] = round(time.perf_counter() - began, 2)
            result = measure("venue", pairs, commands, info, repeats=args.repeats,
                             capacity=1 << 20, verify_reference=True, time_reference=False)
            result["scenario"] = scenario
            lines.append(result)
            if worst is None or result["msgs_per_s"] < worst["msgs_per_s"]:
                worst = result
        lines.append({"workload": "venue", "scenario": "worst", **{
            k: worst[k] for k in ("msgs_per_s", "ns_per_msg", "commands", "events")},
            "worst_scenario": worst["scenario"]})
        return lines
    options = {} if args.client_id_window is None else {"client_id_window": args.client_id_window}
    began = time.perf_counter()
    if name == "seed":
        pairs, commands, info = workloads.build("seed", n=1_000_000 // scale)
        capacity = commands.shape[0]
    elif name in ("ec-mix", "ec-mix-coid"):
        pairs, commands, info = workloads.build(name, n=1_000_000 // scale)
        capacity = 1 << 16
    else:
        pairs, commands, info = workloads.build(
            "deep", resting=1_000_000 // scale, mixed=5_000_000 // scale)
        capacity = 1_500_000 // scale
    info["generation_seconds"] = round(time.perf_counter() - began, 2)
    verify = commands.shape[0] <= REFERENCE_LIMIT or args.verify_all
    lines.append(measure(name, pairs, commands, info, repeats=args.repeats, capacity=capacity,
                         verify_reference=verify, time_reference=name == "ec-mix",
                         engine_options=options))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print only JSON lines")
    parser.add_argument("--workloads", default="seed,ec-mix,venue,deep")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1/10 sizes, for smoke runs")
    parser.add_argument("--verify-all", action="store_true",
                        help="also replay deep through the reference (minutes)")
    parser.add_argument("--client-id-window", type=int, default=None,
                        help="engine client_id_window (default: the engine's, 1,000,000)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        for line in child(args.child, args):
            print(json.dumps(line), flush=True)
        return 0

    print(json.dumps(machine_line()), flush=True)
    failed = False
    for name in args.workloads.split(","):
        if name not in workloads.WORKLOADS:
            parser.error(f"unknown workload {name!r}")
        command = [sys.executable, __file__, "--child", name, "--repeats", str(args.repeats)]
        command += ["--quick"] * args.quick + ["--verify-all"] * args.verify_all
        if args.client_id_window is not None:
            command += ["--client-id-window", str(args.client_id_window)]
        proc = subprocess.run(command, capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            print(line, flush=True)
            if not args.json and line.startswith("{"):
                record = json.loads(line)
                if "msgs_per_s" in record:
                    extra = ""
                    if "speedup_vs_reference" in record:
                        extra = f", {record['speedup_vs_reference']}x the reference"
                    print(f"# {record['workload']} {record.get('scenario', '')}: "
                          f"{record['msgs_per_s'] / 1e6:.2f}M msgs/s, "
                          f"{record['ns_per_msg']} ns/msg{extra}", flush=True)
        if proc.returncode != 0:
            failed = True
            print(json.dumps({"workload": name, "error": proc.stderr.strip()[-2000:]}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
