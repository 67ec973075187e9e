"""Market-data write throughput: ``python -m ringex.marketdata.bench [--redis URL] [--trades N]``.

Seeded synthetic TRADE events (3 pairs, 20 ms apart, so every interval gets candles) are
applied in batches to each store; each result is one JSON line with the machine and versions.
The baseline, in the same run, is the cheapest possible Redis write of the same trades: their
JSON, pipelined with RPUSH, no candles and no orders. The final 1m candles of every store are
checked against the plain-Python fold, so a fast wrong answer fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from ringex.marketdata.interface import INTERVALS
from ringex.marketdata.ohlcv import fold_candles, window
from ringex.pairs import Pair, PairRegistry
from ringex.records import EVENT_DTYPE, EventKind, OrderStatus


def synthetic_trades(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=EVENT_DTYPE)
    seqs = np.arange(1, n + 1)
    events["kind"] = EventKind.TRADE
    events["seq"] = events["command_index"] = seqs
    events["pair_id"] = rng.integers(0, 3, n)
    events["timestamp_ns"] = 1_700_000_000_000_000_000 + seqs * 20_000_000
    events["side"] = rng.integers(1, 3, n)
    events["order_type"] = events["tif"] = 1
    events["price"] = 1_000 + rng.integers(-50, 50, n)
    events["trade_qty"] = events["quantity"] = events["filled_qty"] = rng.integers(1, 100, n)
    events["order_status"] = OrderStatus.FILLED
    events["order_id"], events["maker_order_id"] = 2 * seqs, 2 * seqs + 1
    events["account"], events["maker_account"] = 1, 2
    events["maker_quantity"] = events["maker_filled_qty"] = events["trade_qty"]
    return events


def _line(name: str, trades: int, seconds: float, **extra) -> None:
    print(json.dumps({
        "bench": "marketdata", "store": name, "trades": trades, "seconds": round(seconds, 4),
        "trades_per_s": round(trades / seconds), "machine": platform.machine(),
        "cpus": os.cpu_count(), "python": platform.python_version(), **extra}), flush=True)


def _check(store, events: np.ndarray, kept: int) -> None:
    fold = window(fold_candles(events, INTERVALS["1m"]), kept)
    for pair_id in range(3):
        expected = sorted((c for (p, _), c in fold.items() if p == pair_id),
                          key=lambda c: c.start_ms)
        if store.candles(pair_id, "1m", limit=kept) != expected:
            raise SystemExit(f"{type(store).__name__}: 1m candles differ from the fold")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("RINGEX_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args(argv)
    registry = PairRegistry([Pair.for_ticks(i, f"B{i}-USDT", band=(1, 2_000)) for i in range(3)])
    events = synthetic_trades(args.trades)
    kept = 1440

    from ringex.marketdata.shm_store import SharedMemoryMarketData

    with SharedMemoryMarketData.create(registry, order_capacity=1 << 18,
                                       max_batch=args.batch) as store:
        warm = SharedMemoryMarketData.create(registry, order_capacity=1 << 10)
        warm.apply(synthetic_trades(100, seed=3))
        warm.close()
        start = time.perf_counter()
        for low in range(0, len(events), args.batch):
            store.apply(events[low:low + args.batch])
        _line("shm", len(events), time.perf_counter() - start, batch=args.batch)
        _check(store, events, kept)

    if args.no_redis:
        return
    import redis

    from ringex.marketdata.redis_store import RedisMarketData

    client = redis.Redis.from_url(args.redis)
    prefix = f"bench:{os.getpid()}:"
    try:
        store = RedisMarketData(client, registry, prefix=prefix, candles_kept=kept,
                                max_batch=args.batch)
        start = time.perf_counter()
        for low in range(0, len(events), args.batch):
            store.apply(events[low:low + args.batch])
        _line("redis", len(events), time.perf_counter() - start, batch=args.batch,
              redis=client.info("server")["redis_version"])
        _check(store, events, kept)
        payloads = [json.dumps({"seq": int(e["seq"]), "price": int(e["price"]),
                                "qty": int(e["trade_qty"])}) for e in events]
        start = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for low in range(0, len(payloads), args.batch):
            pipe.rpush(prefix + "baseline", *payloads[low:low + args.batch])
            pipe.execute()
        _line("redis-baseline-rpush", len(events), time.perf_counter() - start,
              batch=args.batch)
    finally:
        for key in client.scan_iter(prefix + "*", count=1_000):
            client.unlink(key)
        client.close()


if __name__ == "__main__":
    sys.exit(main())
