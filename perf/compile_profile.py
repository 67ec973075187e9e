"""Where cold numba compilation goes in ``ringex serve``: per function, per process.

    /work/main/.venv/bin/python perf/compile_profile.py [--keep DIR] [--from DIR]

Copies ``ringex/`` and ``gateway/`` to a temporary directory (no ``__pycache__``: a cold
numba cache), runs the README's quick start there (``ringex serve`` + the first REST order,
perf/quickstart.py) with perf/compile_hook/ on every process's path, which records each numba
compile (perf/compile_hook/sitecustomize.py), and prints JSON lines:

* ``{"function", "inline", "signatures", "compiles", "processes", "cpu_self_s", "cpu_s",
  "inlined_into", "inlined_times"}`` per compiled function, most expensive first:
  ``compiles`` counts (process, signature) pairs, so ``compiles > signatures`` means the same
  signature was compiled by several processes; ``cpu_self_s`` is the thread CPU time of its
  compiles minus that of callees compiled meanwhile; ``inlined_times`` counts how many times
  numba copied its IR into callers (``inline="always"``);
* ``{"role", "compile_cpu_s", "compiles"}`` per process;
* one ``{"total": ...}`` line.

CPU seconds are used because this machine is shared: wall times move with the load, CPU time
of the compiling thread barely does. ``--from DIR`` re-reads the records of an earlier run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quickstart  # noqa: E402

HOOK = Path(__file__).resolve().parent / "compile_hook"


def load_records(directory: Path) -> list[dict]:
    records = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


def summarize(records: list[dict]) -> list[dict]:
    compiles = [r for r in records if "function" in r]
    functions: dict[str, dict] = {}
    inlined: dict[str, dict] = defaultdict(lambda: {"times": 0, "into": set(), "cpu_s": 0.0})
    for r in compiles:
        f = functions.setdefault(r["function"], {
            "function": r["function"], "inline": r["inline"], "signatures": set(),
            "compiles": 0, "processes": set(), "cpu_self_s": 0.0, "cpu_s": 0.0,
            "inline_cpu_s": 0.0})
        f["signatures"].add(tuple(r["args"]))
        f["compiles"] += 1
        f["processes"].add(r["role"])
        f["cpu_self_s"] += r["cpu_self_s"]
        f["cpu_s"] += r["cpu_s"]
        for callee, (count, cpu) in r["inlines"].items():
            inlined[callee]["times"] += count
            inlined[callee]["into"].add(r["function"])
            f["inline_cpu_s"] += cpu
    lines = []
    for f in sorted(functions.values(), key=lambda f: -f["cpu_self_s"]):
        name = f["function"]
        lines.append({
            "function": name, "inline": f["inline"], "signatures": len(f["signatures"]),
            "compiles": f["compiles"], "processes": sorted(f["processes"]),
            "cpu_self_s": round(f["cpu_self_s"], 2), "cpu_s": round(f["cpu_s"], 2),
            "inlining_cpu_s": round(f["inline_cpu_s"], 2),
            "inlined_times": inlined[name]["times"] if name in inlined else 0,
            "inlined_into": sorted(inlined[name]["into"]) if name in inlined else []})
    for name, info in sorted(inlined.items(), key=lambda kv: -kv[1]["times"]):
        if name not in functions:
            lines.append({"function": name, "inline": "always", "signatures": 0,
                          "compiles": 0, "inlined_times": info["times"],
                          "inlined_into": sorted(info["into"])})
    roles: dict[str, dict] = defaultdict(lambda: {"compile_cpu_s": 0.0, "compiles": 0})
    for r in compiles:
        roles[r["role"]]["compile_cpu_s"] += r["cpu_self_s"]
        roles[r["role"]]["compiles"] += 1
    exits = {r["role"]: r["process_cpu_s"] for r in records if r.get("exit")}
    for role, info in sorted(roles.items(), key=lambda kv: -kv[1]["compile_cpu_s"]):
        lines.append({"role": role, "compile_cpu_s": round(info["compile_cpu_s"], 2),
                      "compiles": info["compiles"], "process_cpu_s": exits.get(role)})
    unique = {(r["function"], tuple(r["args"])) for r in compiles}
    duplicate_cpu = 0.0
    seen = set()
    for r in sorted(compiles, key=lambda r: r["t"]):
        key = (r["function"], tuple(r["args"]))
        if key in seen:
            duplicate_cpu += r["cpu_self_s"]
        seen.add(key)
    lines.append({"total": {
        "compile_cpu_s": round(sum(r["cpu_self_s"] for r in compiles), 2),
        "inlining_cpu_s": round(sum(cpu for r in compiles for _, cpu in r["inlines"].values()),
                                2),
        "compiles": len(compiles), "unique_signatures": len(unique),
        "functions": len(functions), "duplicate_compile_cpu_s": round(duplicate_cpu, 2),
        "ir_inlines": sum(c for r in compiles for c, _ in r["inlines"].values())}})
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="write the raw records to this directory")
    parser.add_argument("--from", dest="source", help="summarize the records in this directory")
    args = parser.parse_args(argv)
    if args.source:
        records_dir = Path(args.source)
    else:
        records_dir = Path(args.keep or tempfile.mkdtemp(prefix="ringex-compile-profile-"))
        records_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="ringex-cold-tree-") as tree:
            tree = quickstart.copy_tree(Path(tree))
            env = quickstart.clean_environment(tree, [str(HOOK)])
            env["COMPILE_PROFILE_DIR"] = str(records_dir)
            load0 = os.getloadavg()
            started = time.perf_counter()
            timings = quickstart.serve_first_order(tree, env)
            timings.pop("log_tail", None)
            print(json.dumps({"run": timings, "wall_s": round(time.perf_counter() - started, 1),
                              "loadavg_before": load0, "loadavg_after": os.getloadavg(),
                              "records": str(records_dir)}), flush=True)
    for line in summarize(load_records(records_dir)):
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
