"""Market-data write throughput: ``python -m ringex.marketdata.bench [--redis URL] [--trades N]``.

Two seeded workloads, applied in batches to each store:

* ``trades``: TRADE events only (3 pairs, 20 ms apart, so every interval gets candles; every
  taker and maker is a fresh order). The worst case of the fold: little to conflate.
* ``mix``: a realistic event mix (:data:`MIX`: 40% ACCEPTED, 15% TRADE, 30% CANCELED,
  10% AMENDED, 5% REJECTED) over 1,000 accounts, 50 us apart.

Each result is one JSON line with the machine and versions. The baseline, in the same run, is
the cheapest possible Redis write of the same events: a small JSON each, pipelined with RPUSH,
no candles and no orders. Every run checks the final 1m candles against the plain-Python fold
and (``mix``) 2,000 sampled orders against ``fold_orders``, so a fast wrong answer fails.
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
from ringex.pairs import Pair, PairRegistry
from ringex.records import EVENT_DTYPE, EventKind, OrderStatus, Reason
from ringex.spec.ohlcv import fold_candles, window
from ringex.spec.order_status import fold_orders

MIX = {EventKind.ACCEPTED: 0.40, EventKind.TRADE: 0.15, EventKind.CANCELED: 0.30,
       EventKind.AMENDED: 0.10, EventKind.REJECTED: 0.05}


def synthetic_mix(n: int, seed: int = 1, pairs: int = 3, accounts: int = 1000,
                  spacing_ns: int = 50_000) -> np.ndarray:
    """A consistent venue-like event stream with the :data:`MIX` of kinds: orders accepted
    into a live pool, amended, canceled or hit by fresh IOC takers; half the rejections name
    a live order (a rejected cancel, which must change nothing). 50 us apart: 20K events/s
    of exchange time, so a batch spans a few 1s candles."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(list(MIX), size=n, p=list(MIX.values()))
    cols = {name: [0] * n for name in ("kind", "reason", "side", "order_status", "pair_id",
            "order_id", "account", "client_order_id", "price", "quantity", "filled_qty",
            "leaves_qty", "trade_qty", "maker_order_id", "maker_account", "maker_quantity",
            "maker_filled_qty", "maker_leaves_qty")}
    draws = rng.integers(0, 1 << 30, size=(n, 6)).tolist()
    live = []  # [order_id, pair, account, side, price, quantity, filled, client_id]
    next_id = 1
    for row, kind in enumerate(kinds.tolist()):
        d = draws[row]
        if kind != EventKind.ACCEPTED and kind != EventKind.REJECTED and not live:
            kind = EventKind.ACCEPTED
        cols["kind"][row] = kind
        if kind == EventKind.ACCEPTED:
            order = [next_id, d[0] % pairs, 1 + d[1] % accounts, 1 + d[2] % 2,
                     950 + d[3] % 100, 1 + d[4] % 100, 0, d[5]]
            next_id += 1
            live.append(order)
            _order(cols, row, order, OrderStatus.NEW, Reason.NONE)
        elif kind == EventKind.REJECTED:
            if d[0] % 2 and live:  # a rejected cancel of a live order: must change nothing
                order = list(live[d[1] % len(live)])
                order[1], order[2] = order[1], 1 + (order[2] + 1) % accounts
                _order(cols, row, order, OrderStatus.REJECTED, Reason.NOT_OWNER)
            else:  # a rejected new order with an id of its own
                order = [next_id, d[0] % pairs, 1 + d[1] % accounts, 1 + d[2] % 2, 0,
                         1 + d[4] % 100, 0, d[5]]
                next_id += 1
                _order(cols, row, order, OrderStatus.REJECTED, Reason.INVALID_PRICE)
            cols["leaves_qty"][row] = cols["quantity"][row] - cols["filled_qty"][row]
        else:
            index = d[0] % len(live)
            order = live[index]
            if kind == EventKind.CANCELED:
                live[index] = live[-1]
                live.pop()
                _order(cols, row, order, OrderStatus.CANCELED, Reason.USER_CANCELED)
            elif kind == EventKind.AMENDED:
                order[4] = 950 + d[3] % 100
                order[5] = order[6] + 1 + d[4] % 100
                _order(cols, row, order, OrderStatus.PARTIALLY_FILLED if order[6]
                       else OrderStatus.NEW, Reason.NONE)
            else:  # TRADE: a fresh taker (IOC, filled) against a live maker
                qty = 1 + d[4] % (order[5] - order[6])
                order[6] += qty
                taker = [next_id, order[1], 1 + d[1] % accounts, 3 - order[3], order[4],
                         qty, qty, d[5]]
                next_id += 1
                _order(cols, row, taker, OrderStatus.FILLED, Reason.NONE)
                cols["trade_qty"][row] = qty
                cols["maker_order_id"][row], cols["maker_account"][row] = order[0], order[2]
                cols["maker_quantity"][row], cols["maker_filled_qty"][row] = order[5], order[6]
                cols["maker_leaves_qty"][row] = order[5] - order[6]
                if order[5] == order[6]:
                    live[index] = live[-1]
                    live.pop()
    events = np.zeros(n, dtype=EVENT_DTYPE)
    for name, values in cols.items():
        events[name] = values
    seqs = np.arange(1, n + 1)
    events["seq"] = events["command_index"] = seqs
    events["timestamp_ns"] = 1_700_000_000_000_000_000 + seqs * spacing_ns
    events["order_type"] = 1
    events["tif"] = np.where(events["kind"] == EventKind.TRADE, 2, 1)
    return events


def _order(cols, row, order, status, reason):
    order_id, pair, account, side, price, quantity, filled, client_id = order
    cols["order_id"][row], cols["pair_id"][row], cols["account"][row] = order_id, pair, account
    cols["side"][row], cols["price"][row], cols["quantity"][row] = side, price, quantity
    cols["filled_qty"][row], cols["client_order_id"][row] = filled, client_id
    cols["leaves_qty"][row] = 0 if status == OrderStatus.FILLED else quantity - filled
    cols["order_status"][row], cols["reason"][row] = status, reason



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


def _line(name: str, workload: str, events: int, seconds: float, **extra) -> None:
    print(json.dumps({
        "bench": "marketdata", "store": name, "workload": workload, "events": events,
        "seconds": round(seconds, 4), "events_per_s": round(events / seconds),
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "load": round(os.getloadavg()[0], 2), "python": platform.python_version(), **extra}),
        flush=True)


def _check(store, events: np.ndarray, kept: int) -> None:
    fold = window(fold_candles(events, INTERVALS["1m"]), kept)
    for pair_id in range(3):
        expected = sorted((c for (p, _), c in fold.items() if p == pair_id),
                          key=lambda c: c.start_ms)
        if store.candles(pair_id, "1m", limit=kept) != expected:
            raise SystemExit(f"{type(store).__name__}: 1m candles differ from the fold")
    if (events["kind"] != EventKind.TRADE).any():
        orders = fold_orders(events)
        sample = np.random.default_rng(7).choice(sorted(orders), 2_000, replace=False)
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
    kept = 1440
    workloads = {"trades": synthetic_trades, "mix": synthetic_mix}
    if args.workload != "both":
        workloads = {args.workload: workloads[args.workload]}

    from ringex.marketdata.shm_store import SharedMemoryMarketData

    warm = SharedMemoryMarketData.create(registry, order_capacity=1 << 10)
    warm.apply(synthetic_trades(100, seed=3))
    warm.close()
    client = None
    if not args.no_redis:
        import redis

        from ringex.marketdata.redis_store import RedisMarketData

        client = redis.Redis.from_url(args.redis)
        version = client.info("server")["redis_version"]
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
                  batch=args.batch, redis=version)
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
            _line("redis-baseline-rpush", workload, len(events), time.perf_counter() - start,
                  batch=args.batch)
        finally:
            for key in client.scan_iter(prefix + "*", count=1_000):
                client.unlink(key)
    if client is not None:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
