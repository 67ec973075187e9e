"""Candle freshness: how long after a trade is produced to Kafka Redis market data holds it.

A trade's candle, recent-trade entry and order records are written by the same Redis script
call that moves ``{prefix}last_seq`` past the trade's ``seq`` (docs/marketdata.md), so "Redis
holds the trade" is "``last_seq >= seq``". The sampler (:func:`run_sampler`, a process of its
own, spawned) reads ``last_seq`` every ``poll_ms`` and keeps ``(wall clock ns, value)`` each
time the value moved; a plain ``GET`` waits behind a running script, so it sees what a
reader of the store sees. The receiver keeps every trade's ``seq`` with the ``CreateTime``
of its `trades` message (the Kafka publisher's produce, whole milliseconds, wall clock).
:func:`freshness` then gives, per trade, the first sample covering it minus that time.

Resolution: the ``CreateTime`` stamp is truncated to the millisecond (up to 1 ms added) and the
sample is taken after the ``GET`` returns, up to ``poll_ms`` after the change (up to that much
added). A projection that reads the engine's ring can hold a trade before the publisher
produced it, so a value may be negative. Cost: one ``GET`` per ``poll_ms`` (about 0.05 core
at 1 ms) on a box the exchange shares.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["run_sampler", "freshness"]

PERCENTILES = (50, 90, 99, 99.9)


def run_sampler(redis_url: str, key: str, shared, stop_index: int, done_index: int,
                out_path: str, poll_ms: float) -> None:
    """Sample ``key`` (an integer) until ``shared[stop_index]``; write ``times_ns`` and
    ``values`` (each value once, when first seen) to ``out_path`` and set
    ``shared[done_index]``."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    times, values = [], []
    last = -1
    pause = poll_ms / 1000
    try:
        while not shared[stop_index]:
            raw = client.get(key)
            now = time.time_ns()
            value = int(raw) if raw is not None else 0
            if value != last:
                times.append(now)
                values.append(value)
                last = value
            time.sleep(pause)
    finally:
        client.close()
        np.savez(out_path, times_ns=np.array(times, dtype=np.int64),
                 values=np.array(values, dtype=np.int64))
        shared[done_index] = 1


def freshness(trade_seq: np.ndarray, trade_created_ms: np.ndarray, times_ns: np.ndarray,
              values: np.ndarray, poll_ms: float) -> dict:
    """Per trade: the first sample with ``last_seq >= seq`` minus its ``CreateTime``, in ms
    (signed); percentiles, and how many trades no sample covered."""
    result = {"trades": int(trade_seq.size), "samples": int(values.size), "poll_ms": poll_ms,
              "resolution": "CreateTime whole ms (+0..1 ms) and the poll (+0..poll_ms)"}
    stamped = trade_created_ms > 0
    if not stamped.all():
        result["without_create_time"] = int((~stamped).sum())
    seqs, created = trade_seq[stamped], trade_created_ms[stamped]
    if values.size == 0 or seqs.size == 0:
        return {**result, "measured": False}
    # last_seq only grows, so the samples are sorted by value
    first = np.searchsorted(np.maximum.accumulate(values), seqs, side="left")
    covered = first < values.size
    result["not_covered"] = int((~covered).sum())
    lag_ms = (times_ns[first[covered]] - created[covered] * 1_000_000) / 1e6
    if lag_ms.size == 0:
        return {**result, "measured": False}
    result.update({"measured": True, "min": round(float(lag_ms.min()), 3),
                   **{f"p{p:g}": round(float(np.percentile(lag_ms, p)), 3)
                      for p in PERCENTILES},
                   "max": round(float(lag_ms.max()), 3),
                   "mean": round(float(lag_ms.mean()), 3)})
    return result
