"""Market-data write throughput of both stores, with a bare Redis write as the baseline.

    python perf/bench_marketdata.py                       # both workloads, both stores
    python perf/bench_marketdata.py --trades 5000 --workload mix --no-redis

Two seeded workloads (:mod:`ringex.testing.synthetic_events`), applied in batches to each
store:

* ``trades``: TRADE events only (3 pairs, 20 ms apart, so every interval gets candles; every
  taker and maker is a fresh order). The worst case of the fold: little to conflate.
* ``mix``: a realistic event mix (``MIX``: 40% ACCEPTED, 15% TRADE, 30% CANCELED,
  10% AMENDED, 5% REJECTED) over 1,000 accounts, 50 us apart.

The first JSON line describes the machine, the versions and the conditions; then one line per
result, with the load average when it was taken. The baseline, in the same run, is the
cheapest possible Redis write of the same events: a small JSON each, pipelined with RPUSH, no
candles and no orders. Every run checks the final 1m candles against the plain-Python fold
and (``mix``) up to 2,000 sampled orders against ``fold_orders``, and the baseline's list
length, so a fast wrong answer fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perf.machine import host, versions  # noqa: E402
from ringex.marketdata.interface import INTERVALS  # noqa: E402
from ringex.marketdata.shm_store import SharedMemoryMarketData  # noqa: E402
from ringex.pairs import Pair, PairRegistry  # noqa: E402
from ringex.records import EventKind  # noqa: E402
from ringex.spec.ohlcv import fold_candles, window  # noqa: E402
from ringex.spec.order_status import fold_orders  # noqa: E402
from ringex.testing.synthetic_events import synthetic_mix, synthetic_trades  # noqa: E402

CANDLES_KEPT = 1440
ORDERS_CHECKED = 2_000


def machine_line(args, redis_version: str | None) -> dict:
    return {
        "machine": {**host(), "load_average": [round(load, 2) for load in os.getloadavg()]},
        "versions": {**versions("numpy", "numba"), "redis-server": redis_version},
        "conditions": {"events": args.trades, "batch": args.batch, "workload": args.workload,
                       "candles_kept": CANDLES_KEPT, "seed": 1, "threads": 1,
                       "timed": "apply() over the whole workload, one batch per call"},
    }


def _line(name: str, workload: str, events: int, seconds: float, **extra) -> None:
    print(json.dumps({
        "bench": "marketdata", "store": name, "workload": workload, "events": events,
        "seconds": round(seconds, 4), "events_per_s": round(events / seconds),
        "load": round(os.getloadavg()[0], 2), **extra}), flush=True)


def _check(store, events: np.ndarray, kept: int) -> None:
    fold = window(fold_candles(events, INTERVALS["1m"]), kept)
    for pair_id in range(3):
        expected = sorted((c for (p, _), c in fold.items() if p == pair_id),
                          key=lambda c: c.start_ms)
        if store.candles(pair_id, "1m", limit=kept) != expected:
            raise SystemExit(f"{type(store).__name__}: 1m candles differ from the fold")
    if (events["kind"] != EventKind.TRADE).any():
        orders = fold_orders(events)
        sample = np.random.default_rng(7).choice(sorted(orders), min(ORDERS_CHECKED, len(orders)),
                                                 replace=False)
        for order_id in sample.tolist():
            if store.order(order_id) != orders[order_id]:
                raise SystemExit(f"{type(store).__name__}: order {order_id} differs")


def _timed_apply(store, events: np.ndarray, batch: int) -> float:
    start = time.perf_counter()
    for low in range(0, len(events), batch):
        store.apply(events[low:low + batch])
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("RINGEX_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    parser.add_argument("--trades", type=int, default=100_000, help="events per workload")
    parser.add_argument("--batch", type=int, default=2_048,
                        help="events per apply() call (the publisher passes up to 8192)")
    parser.add_argument("--workload", choices=("trades", "mix", "both"), default="both")
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args(argv)
    registry = PairRegistry([Pair.for_ticks(i, f"B{i}-USDT", band=(1, 2_000)) for i in range(3)])
    kept = CANDLES_KEPT
    workloads = {"trades": synthetic_trades, "mix": synthetic_mix}
    if args.workload != "both":
        workloads = {args.workload: workloads[args.workload]}

    warm = SharedMemoryMarketData.create(registry, order_capacity=1 << 10)
    warm.apply(synthetic_trades(100, seed=3))
    warm.close()
    client = version = None
    if not args.no_redis:  # redis-py is optional: imported only when Redis is measured
        import redis

        from ringex.marketdata.redis_store import RedisMarketData

        client = redis.Redis.from_url(args.redis)
        version = client.info("server")["redis_version"]
    print(json.dumps(machine_line(args, version)), flush=True)
    for workload, make in workloads.items():
        events = make(args.trades)
        with SharedMemoryMarketData.create(registry, order_capacity=1 << 19,
                                           max_batch=args.batch) as store:
            _line("shm", workload, len(events), _timed_apply(store, events, args.batch),
                  batch=args.batch)
            _check(store, events, kept)
        if client is None:
            continue
        prefix = f"bench:{os.getpid()}:{workload}:"
        try:
            store = RedisMarketData(client, registry, prefix=prefix, candles_kept=kept,
                                    max_batch=min(args.batch, 2_048))
            store.apply(synthetic_mix(64, seed=5))  # load the script, compile the fold
            for key in client.scan_iter(prefix + "*", count=1_000):
                client.unlink(key)
            store = RedisMarketData(client, registry, prefix=prefix, candles_kept=kept,
                                    max_batch=min(args.batch, 2_048))
            _line("redis", workload, len(events), _timed_apply(store, events, args.batch),
                  batch=args.batch)
            _check(store, events, kept)
            payloads = [json.dumps({"seq": seq, "kind": kind, "id": order_id})
                        for seq, kind, order_id in zip(events["seq"].tolist(),
                                                       events["kind"].tolist(),
                                                       events["order_id"].tolist())]
            start = time.perf_counter()
            pipe = client.pipeline(transaction=False)
            for low in range(0, len(payloads), args.batch):
                pipe.rpush(prefix + "baseline", *payloads[low:low + args.batch])
                pipe.execute()
            seconds = time.perf_counter() - start
            if client.llen(prefix + "baseline") != len(payloads):
                raise SystemExit("redis-baseline-rpush: the list does not hold every event")
            _line("redis-baseline-rpush", workload, len(events), seconds, batch=args.batch)
        finally:
            for key in client.scan_iter(prefix + "*", count=1_000):
                client.unlink(key)
    if client is not None:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
