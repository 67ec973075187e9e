"""The bridge's decoding cost per Kafka message for this load tester's flow, measured alone.

    python -m perf.loadtest.bridge_cost [--commands 20000] [--repeat 5]

Runs what a bridge runs per message (``decode_message``; for frames also the stateless record
checks) over the seeded flow, as JSON messages and as frames of several sizes, and prints one
JSON line per case: µs per message and per record, the median of ``--repeat`` passes. Frames
run twice in the same pass order: with the compiled checks the bridge uses
(``failed_checks``) and with the vectorized specification (``failed_checks_vectorized``, the
baseline); the line gives both and their ratio, and the run fails if the two disagree on any
record. The first line describes the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from ringex.kafka.decode import decode_message
from ringex.pairs import default_pairs
from ringex.wire.frames import encode_frame
from ringex.wire.record_checks import failed_checks, failed_checks_vectorized

from perf.loadtest.flow import generate_flow
from perf.loadtest.report import machine
from perf.loadtest.routes import FrameRoute, JsonRoute


def _decode_frames(frames, registry, checks) -> tuple[float, list]:
    started = time.perf_counter()
    found = []
    for offset, frame in enumerate(frames):
        records, _ = decode_message(frame, None, registry, partition=0, offset=offset,
                                    timestamp_ns=1, default_account=1)
        found.append(checks(records, registry))
    return time.perf_counter() - started, found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.loadtest.bridge_cost")
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    registry = default_pairs()
    flow = generate_flow(args.commands, registry, seed=1, run_tag=5)
    print(json.dumps({"bench": "bridge_cost", "machine": machine(),
                      "commands": args.commands, "repeat": args.repeat}))
    json_route = JsonRoute("orders", 1, registry)
    json_route.prepare(flow)
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for offset, payload in enumerate(json_route.payloads):
            decode_message(payload, None, registry, partition=0, offset=offset,
                           timestamp_ns=1, default_account=1)
        times.append(time.perf_counter() - started)
    print(json.dumps({"format": "json", "us_per_message":
                      round(statistics.median(times) / len(flow) * 1e6, 2)}))
    frame_route = FrameRoute("orders", 1, registry)
    frame_route.prepare(flow)
    _decode_frames([encode_frame(frame_route.records[:5])], registry, failed_checks)  # compile
    for size in (5, 17, 80, 1000):
        frames = [encode_frame(frame_route.records[k:k + size])
                  for k in range(0, len(flow), size)]
        compiled, vectorized = [], []
        for _ in range(args.repeat):  # alternate, so a noisy moment hits both
            elapsed, fast = _decode_frames(frames, registry, failed_checks)
            compiled.append(elapsed)
            elapsed, slow = _decode_frames(frames, registry, failed_checks_vectorized)
            vectorized.append(elapsed)
            if not all(np.array_equal(a, b) for a, b in zip(fast, slow)):
                raise SystemExit("the compiled and the vectorized checks disagree")
        fast_s, slow_s = statistics.median(compiled), statistics.median(vectorized)
        print(json.dumps({
            "format": "frame", "records_per_frame": size,
            "us_per_message": round(fast_s / len(frames) * 1e6, 1),
            "us_per_record": round(fast_s / len(flow) * 1e6, 3),
            "vectorized_checks_us_per_message": round(slow_s / len(frames) * 1e6, 1),
            "speedup": round(slow_s / fast_s, 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
