"""The plain-Python OHLCV fold: the oracle both stores are checked against.

``fold_candles`` is deliberately naive (a dict, one trade at a time) so that it is obviously
right. A trade belongs to the bucket ``ts_ms - ts_ms % interval_ms`` of its event's
``timestamp_ns // 1_000_000`` (UTC days for ``1d``: timestamps are Unix time). Open is the
trade with the lowest ``seq`` in the bucket and close the highest, whatever the timestamps.

Stores keep a window, not the whole history: the candles whose start lies within the last
``kept`` intervals of the newest candle (:func:`window`). A trade that arrives for a bucket
already older than that window is dropped, and since the window only moves forward, the
stored candles always equal ``window(fold_candles(...), ...)`` of everything applied.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ringex.marketdata.interface import Candle
from ringex.records import EventKind

__all__ = ["fold_candles", "window", "bucket_start", "trade_events"]


def bucket_start(timestamp_ns: int, interval_ms: int) -> int:
    ts_ms = timestamp_ns // 1_000_000
    return ts_ms - ts_ms % interval_ms


def trade_events(events: np.ndarray) -> np.ndarray:
    """The ``TRADE`` records of an event array, in their order."""
    return events[events["kind"] == EventKind.TRADE]


def fold_candles(trade_events: Iterable, interval_ms: int) -> dict[tuple[int, int], Candle]:
    """``{(pair_id, start_ms): Candle}`` of the given trades (other event kinds are skipped).

    Events may come as records of an ``EVENT_DTYPE`` array or as mappings with the same keys.
    """
    rows: dict[tuple[int, int], list[int]] = {}
    for event in sorted(trade_events, key=lambda e: int(e["seq"])):
        if int(event["kind"]) != EventKind.TRADE:
            continue
        pair_id = int(event["pair_id"])
        start = bucket_start(int(event["timestamp_ns"]), interval_ms)
        price, qty, seq = int(event["price"]), int(event["trade_qty"]), int(event["seq"])
        row = rows.get((pair_id, start))
        if row is None:
            rows[(pair_id, start)] = [price, price, price, price, qty, 1, seq, seq]
            continue
        row[1] = max(row[1], price)
        row[2] = min(row[2], price)
        row[3] = price
        row[4] += qty
        row[5] += 1
        row[7] = seq
    return {
        (pair_id, start): Candle(pair_id, interval_ms, start, *row)
        for (pair_id, start), row in rows.items()
    }


def window(candles: dict[tuple[int, int], Candle], kept: int) -> dict[tuple[int, int], Candle]:
    """The candles a store holds: per pair, those within ``kept`` intervals of the newest."""
    newest: dict[int, int] = {}
    for (pair_id, start) in candles:
        newest[pair_id] = max(newest.get(pair_id, start), start)
    return {
        key: candle for key, candle in candles.items()
        if candle.start_ms > newest[key[0]] - kept * candle.interval_ms
    }
