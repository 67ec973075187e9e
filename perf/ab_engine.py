"""A/B of the matcher's speed between two source trees, alternating in one session.

    python perf/ab_engine.py OLD_TREE NEW_TREE [--rounds 3] [--workloads seed,ec-mix,venue,deep]

Each round runs every workload once per tree, in a fresh child process whose PYTHONPATH is
that tree (its own numba cache), OLD then NEW, so both see the same machine load. A child
times ``process_into`` as perf/bench_engine.py does (its ``measure``: median of 3 timed
passes, wall and CPU), without the reference replay: exactness is checked instead by
comparing the event stream digest and the state hash of the two trees, which must be equal.
Prints one JSON line per run and a summary per workload: the medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

SIZES = {"seed": {"n": 1_000_000}, "ec-mix": {"n": 1_000_000},
         "venue": {"n_orders": 1_000_000, "volatility": 2.0},
         "deep": {"resting": 200_000, "mixed": 1_000_000}}
CAPACITY = {"seed": 1_000_000, "ec-mix": 1 << 16, "venue": 1 << 20, "deep": 300_000}

CHILD = """
import json, sys
from perf import workloads
from perf.bench_engine import measure
name = sys.argv[1]
sizes = json.loads(sys.argv[2])
pairs, commands, info = workloads.build(name, **sizes)
result = measure(name, pairs, commands, info, repeats=3, capacity=int(sys.argv[3]),
                 verify_reference=False, time_reference=False)
print(json.dumps(result))
"""


def run(tree: str, name: str) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run([sys.executable, "-c", CHILD, name, json.dumps(SIZES[name]),
                          str(CAPACITY[name])], cwd=tree, env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="seed,ec-mix,venue,deep")
    args = parser.parse_args(argv)
    names = args.workloads.split(",")
    results: dict[tuple[str, str], list[dict]] = {}
    for round_ in range(args.rounds):
        for name in names:
            for label, tree in (("old", args.old), ("new", args.new)):
                result = run(tree, name)
                results.setdefault((name, label), []).append(result)
                print(json.dumps({"round": round_, "tree": label, "workload": name,
                                  "ns_per_msg": result["ns_per_msg"],
                                  "cpu_ns_per_msg": result["cpu_ns_per_msg"],
                                  "state_hash": result["state_hash"],
                                  "event_digest": result["event_digest"],
                                  "loadavg": os.getloadavg()[0]}), flush=True)
    failed = False
    for name in names:
        old, new = results[(name, "old")], results[(name, "new")]
        same = {(r["state_hash"], r["event_digest"]) for r in old + new}
        summary = {"workload": name, "identical_output": len(same) == 1}
        for key in ("ns_per_msg", "cpu_ns_per_msg"):
            a = statistics.median(r[key] for r in old)
            b = statistics.median(r[key] for r in new)
            summary[key] = {"old": a, "new": b, "change_pct": round(100 * (b - a) / a, 1)}
        failed |= not summary["identical_output"]
        print(json.dumps({"summary": summary}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
