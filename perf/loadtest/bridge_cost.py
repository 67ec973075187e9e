"""The bridge's decoding cost per Kafka message for this load tester's flow, measured alone.

    python -m perf.loadtest.bridge_cost [--commands 20000]

Runs what a bridge runs per message (``decode_message``; for frames also the record checks,
``frame_record_errors``) over the seeded flow, as JSON messages and as frames of several
sizes, and prints one JSON line per case: µs per message and per record.
"""

from __future__ import annotations

import argparse
import json
import time

from ringex.kafka.decode import decode_message, frame_record_errors
from ringex.pairs import default_pairs
from ringex.wire.frames import encode_frame

from perf.loadtest.flow import generate_flow
from perf.loadtest.routes import FrameRoute, JsonRoute


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.loadtest.bridge_cost")
    parser.add_argument("--commands", type=int, default=20_000)
    args = parser.parse_args(argv)
    registry = default_pairs()
    flow = generate_flow(args.commands, registry, seed=1, run_tag=5)
    json_route = JsonRoute("orders", 1, registry)
    json_route.prepare(flow)
    started = time.perf_counter()
    for offset, payload in enumerate(json_route.payloads):
        decode_message(payload, None, registry, partition=0, offset=offset, timestamp_ns=1,
                       default_account=1)
    elapsed = time.perf_counter() - started
    print(json.dumps({"format": "json", "us_per_message": round(elapsed / len(flow) * 1e6, 2)}))
    frame_route = FrameRoute("orders", 1, registry)
    frame_route.prepare(flow)
    for size in (5, 80, 1000):
        frames = [encode_frame(frame_route.records[k:k + size])
                  for k in range(0, len(flow), size)]
        started = time.perf_counter()
        for offset, frame in enumerate(frames):
            records, _ = decode_message(frame, None, registry, partition=0, offset=offset,
                                        timestamp_ns=1, default_account=1)
            frame_record_errors(records, registry)
        elapsed = time.perf_counter() - started
        print(json.dumps({"format": "frame", "records_per_frame": size,
                          "us_per_message": round(elapsed / len(frames) * 1e6, 1),
                          "us_per_record": round(elapsed / len(flow) * 1e6, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
