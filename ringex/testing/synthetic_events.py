"""Seeded synthetic ``EVENT_DTYPE`` streams for the market-data tests and benchmark.

The events are built directly, not by a matcher, so a stream of any size costs no matching:
``tests/marketdata/test_redis_encode.py`` checks the Redis encoder on them, and
``perf/bench_marketdata.py`` applies them to both stores. Each stream is consistent (every
fill, amend and cancel names a live order, and quantities add up), so the plain-Python folds
of :mod:`ringex.spec` are a valid oracle for them.

- :func:`synthetic_mix`: a venue-like mix of kinds (:data:`MIX`) over a pool of live orders.
- :func:`synthetic_trades`: TRADE events only, every taker and maker a fresh order.
"""

from __future__ import annotations

import numpy as np

from ringex.records import EVENT_DTYPE, EventKind, OrderStatus, Reason

__all__ = ["MIX", "synthetic_mix", "synthetic_trades"]

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
    """TRADE events only, on 3 pairs, 20 ms apart (so every interval gets candles); every
    taker and maker is a fresh order, so there is little to conflate."""
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
