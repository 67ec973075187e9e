"""The README's first start, timed from a cold numba cache and again from a warm one.

    /work/main/.venv/bin/python perf/bench_first_start.py [--skip-warmup] [--skip-serve]

Each part copies ``ringex/`` and ``gateway/`` of this checkout to a fresh temporary directory
without any ``__pycache__`` (what ``pip install`` leaves: numba's cache is empty), then:

* ``warmup``: ``python -m ringex.warmup --pipeline`` in that copy, cold, then again (warm);
* ``serve``: ``python -m ringex.cli serve`` (embedded defaults, a private var dir, a free port)
  and the README's first REST order (POST /order with the demo key, then GET /orders/{id}
  until the order rests (``NEW``) or fills), cold, then again (warm). The client acts as the
  README's user: it sends the order as soon as the demo key is there and the address accepts
  connections, retrying on a 503; /health's answers are recorded.

Prints JSON lines (the machine, then one per run with the load average before and after),
then one ``check`` line per target with pass/fail: cold ``warmup --pipeline`` <= 60 s, cold
serve to the first order in the book <= 60 s, warm <= 5 s. Wall seconds move with the load of
this shared box; the CPU seconds of the runs' processes are printed next to them. Not a test:
it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quickstart  # noqa: E402
from perf.machine import host, versions  # noqa: E402

TARGETS = {"warmup_cold_s": 60.0, "serve_cold_s": 60.0, "warmup_warm_s": 5.0,
           "serve_warm_s": 5.0}


def _line(**fields) -> dict:
    print(json.dumps(fields), flush=True)
    return fields


def _warmup(tree: Path, cache: str) -> dict:
    load = os.getloadavg()
    result = quickstart.run_warmup_pipeline(tree, quickstart.clean_environment(tree))
    return _line(run="warmup --pipeline", cache=cache, seconds=result["seconds"],
                 cpu_s=result["children_cpu_s"], returncode=result["returncode"],
                 stderr=result["stderr"][-1500:], loadavg_before=load,
                 loadavg_after=os.getloadavg())


def _serve(tree: Path, cache: str) -> dict:
    load = os.getloadavg()
    result = quickstart.serve_first_order(tree, quickstart.clean_environment(tree))
    result.pop("log_tail")
    health = [(at, status, body.get("detail") or body.get("status") if isinstance(body, dict)
               else body) for at, status, body in result.pop("health_seen")]
    return _line(run="serve + first REST order", cache=cache, **result, health=health,
                 loadavg_before=load, loadavg_after=os.getloadavg())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-warmup", action="store_true")
    parser.add_argument("--skip-serve", action="store_true")
    args = parser.parse_args(argv)
    _line(machine={**host(), **versions("numpy", "numba")},
          conditions={"date": time.strftime("%Y-%m-%d %H:%M"), "loadavg": os.getloadavg(),
                      "tree": "copy of ringex/ and gateway/ without __pycache__",
                      "serve": "embedded defaults, gateway 2 workers"})
    measured: dict[str, float] = {}
    if not args.skip_warmup:
        with tempfile.TemporaryDirectory(prefix="ringex-first-start-") as tree:
            tree = quickstart.copy_tree(Path(tree))
            measured["warmup_cold_s"] = _warmup(tree, "cold")["seconds"]
            measured["warmup_warm_s"] = _warmup(tree, "warm")["seconds"]
    if not args.skip_serve:
        with tempfile.TemporaryDirectory(prefix="ringex-first-start-") as tree:
            tree = quickstart.copy_tree(Path(tree))
            measured["serve_cold_s"] = _serve(tree, "cold")["order_in_book_s"]
            measured["serve_warm_s"] = _serve(tree, "warm")["order_in_book_s"]
    for name, seconds in measured.items():
        _line(check=name, seconds=seconds, target_s=TARGETS[name],
              result="pass" if seconds <= TARGETS[name] else "fail")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
