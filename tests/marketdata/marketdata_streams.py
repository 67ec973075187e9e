"""Event streams and store snapshots for the market-data contract tests."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from ringex.marketdata.interface import INTERVAL_NAMES, INTERVALS
from ringex.pairs import Pair, PairRegistry
from ringex.records import EVENT_DTYPE, EventKind, OrderStatus, Side
from ringex.spec.matcher import ReferenceMatcher
from ringex.testing.generator import CommandStream

T0_NS = 1_700_000_000_000_000_000


def make_registry() -> PairRegistry:
    """Two ordinary pairs and one with a lot of 0.5 and a tick of 0.05 (decimal formatting)."""
    odd = Pair(pair_id=2, name="ODD-USDT", tick_size=Decimal("0.05"), lot_size=Decimal("0.5"),
               min_qty_lots=1, max_qty_lots=1_000_000, band_lo_ticks=1, band_hi_ticks=5_000)
    return PairRegistry([Pair.for_ticks(0, "AAA-USDT", band=(1, 2_000)),
                         Pair.for_ticks(1, "BBB-USDT", band=(1, 2_000)), odd])


def venue_events(registry: PairRegistry, *, seed: int, batches: int = 20,
                 batch: int = 200, max_gap_ms: int = 3_000) -> np.ndarray:
    """Events of the reference matcher on a seeded venue-like stream; command timestamps
    spread over minutes so that every interval has several candles."""
    matcher = ReferenceMatcher(registry.pairs)
    stream = CommandStream(registry.pairs, seed=seed)
    rng = np.random.default_rng(seed)
    ts = T0_NS
    chunks = []
    for _ in range(batches):
        commands = stream.next_batch(batch)
        commands["timestamp_ns"] = ts + np.cumsum(rng.integers(0, max_gap_ms * 1_000_000,
                                                               len(commands)))
        ts = int(commands["timestamp_ns"][-1])
        events = matcher.process(commands)
        stream.observe(events)
        chunks.append(events)
    return np.concatenate(chunks)


def trade_events(rows, first_seq: int = 1) -> np.ndarray:
    """Synthetic TRADE events from ``(pair_id, ts_ms, price, qty)`` rows, seq from first_seq.
    Each trade's taker and maker are fresh orders, so order status stays consistent."""
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for index, (pair_id, ts_ms, price, qty) in enumerate(rows):
        event = events[index]
        seq = first_seq + index
        event["kind"] = EventKind.TRADE
        event["seq"] = seq
        event["command_index"] = seq
        event["pair_id"] = pair_id
        event["timestamp_ns"] = ts_ms * 1_000_000 + 123
        event["side"] = Side.BUY if seq % 2 else Side.SELL
        event["order_type"] = 1
        event["tif"] = 2
        event["order_status"] = OrderStatus.FILLED
        event["order_id"] = 2 * seq
        event["account"] = 7
        event["price"] = price
        event["quantity"] = qty
        event["filled_qty"] = qty
        event["trade_qty"] = qty
        event["maker_order_id"] = 2 * seq + 1
        event["maker_account"] = 8
        event["maker_quantity"] = qty + 1
        event["maker_filled_qty"] = qty
        event["maker_leaves_qty"] = 1
    return events


def store_state(store, registry: PairRegistry, order_ids) -> dict:
    """Everything a reader can see, for equality checks."""
    state = {"last_seq": store.last_seq()}
    for pair in registry:
        for interval in INTERVAL_NAMES:
            state[("candles", pair.pair_id, interval)] = store.candles(pair.pair_id, interval,
                                                                       limit=100_000)
        state[("trades", pair.pair_id)] = store.trades(pair.pair_id, 100_000)
        state[("book", pair.pair_id)] = store.book(pair.pair_id, 1_000)
    state["orders"] = {order_id: store.order(order_id) for order_id in order_ids}
    return state


def expected_candles(fold: dict, pair_id: int) -> list:
    return sorted((c for (p, _), c in fold.items() if p == pair_id), key=lambda c: c.start_ms)


__all__ = ["make_registry", "venue_events", "trade_events", "store_state", "expected_candles",
           "INTERVALS", "T0_NS"]
