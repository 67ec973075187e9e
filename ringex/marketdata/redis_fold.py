"""Fold a batch of events before it goes to Redis: one write per candle and per order.

The Redis store's cost is per Redis command, so :class:`~.redis_store.RedisMarketData` first
folds each batch in compiled code (these functions) and sends the Lua script only the
results:

* **candles** (:func:`fold_trades`): each (pair, interval, bucket) the batch touches becomes
  ONE row of :data:`CANDLE_FOLD_DTYPE` (open, high, low, close, volume, trades, first and last
  seq), and each (pair, interval) ring one row of :data:`RING_FOLD_DTYPE` (the first and last
  trade seq of the batch, the newest bucket the batch keeps). Trades at or below the ring's
  ``floors`` entry are skipped. The window is applied as the batch goes: a trade whose bucket
  is ``kept`` intervals or more behind the newest bucket *of the batch so far* is dropped. The
  window of the buckets already stored is the same test against a constant, so the script
  applies it to whole folded candles and the result equals the trade-at-a-time fold.
* **orders** (:func:`order_updates`, then :func:`fold_orders`): the updates of
  ``ringex.spec.order_status.order_updates`` grouped by order id, each group composed into
  ONE row of :data:`ORDER_FOLD_DTYPE`. Updates overwrite fields, so a group composes exactly:

  - a group with a ``REPLACE`` becomes a ``REPLACE`` with the state after the group (the last
    replace, with the fills after it);
  - otherwise the state the group would create on an absent record (its first update, with the
    fills after it), as a ``FILL`` if the group has a fill (an existing record takes the last
    fill's fields, which are that state's fill fields), else ``IF_ABSENT``.

  Applying a folded row twice, or to a record that already holds a prefix of its group, gives
  the same record, so the script's per-order seq guard stays exact.

Every function here is ``njit`` without allocation: the caller owns every array.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit
from ringex.records import EventKind

__all__ = ["CANDLE_FOLD_DTYPE", "RING_FOLD_DTYPE", "ORDER_FOLD_DTYPE", "NO_BUCKET",
           "fold_trades", "order_updates", "fold_orders", "REPLACE", "FILL", "IF_ABSENT"]

#: One folded candle: the trades of one batch in one (pair, interval, bucket).
CANDLE_FOLD_DTYPE = np.dtype([
    ("ring", "<i8"),  # pair_id * n_intervals + interval index
    ("start", "<i8"),  # bucket start, ms
    ("open", "<i8"), ("high", "<i8"), ("low", "<i8"), ("close", "<i8"),  # ticks
    ("volume", "<i8"),  # lots
    ("trades", "<i8"),
    ("first_seq", "<i8"), ("last_seq", "<i8"),
    ("next", "<i8"),  # the ring's previous candle in this batch, -1 at the end
], align=True)

#: What one batch does to one (pair, interval) ring.
RING_FOLD_DTYPE = np.dtype([
    ("touched", "<i8"),  # 1 if the batch has a trade (above the floor) for this ring
    ("first_seq", "<i8"), ("last_seq", "<i8"),  # of those trades, dropped or not
    ("newest", "<i8"),  # newest bucket start kept by the batch, NO_BUCKET if none
    ("head", "<i8"),  # the ring's newest-created candle in this batch, -1 if none
], align=True)

#: One order's composed update for a batch (``mode`` as ``ringex.spec.order_status.UpdateMode``).
ORDER_FOLD_DTYPE = np.dtype([
    ("mode", "<i8"), ("order_id", "<i8"), ("pair_id", "<i8"), ("account", "<i8"),
    ("client_order_id", "<i8"), ("side", "<i8"), ("order_type", "<i8"), ("tif", "<i8"),
    ("status", "<i8"), ("reason", "<i8"), ("price", "<i8"), ("quantity", "<i8"),
    ("filled", "<i8"), ("leaves", "<i8"), ("seq", "<i8"), ("timestamp_ns", "<i8"),
], align=True)

NO_BUCKET = np.iinfo(np.int64).min
REPLACE, FILL, IF_ABSENT = 1, 2, 3
_OWN, _TAKER, _MAKER = 0, 1, 2  # which order of an event an update is about

_TRADE = int(EventKind.TRADE)
_ACCEPTED = int(EventKind.ACCEPTED)
_AMENDED = int(EventKind.AMENDED)
_CANCELED = int(EventKind.CANCELED)
_REJECTED = int(EventKind.REJECTED)
_BUY, _SELL = 1, 2
_FILLED, _PARTIALLY_FILLED = 3, 2


@njit
def fold_trades(events, intervals_ms, floors, kept, n_pairs, rings, candles):
    """Fold the TRADE events into ``candles``; returns how many rows were written.

    ``rings`` (``RING_FOLD_DTYPE``, ``n_pairs * len(intervals_ms)`` rows) is reset here.
    ``floors[ring]``: skip trades at or below this seq. ``candles`` needs room for
    ``trades * len(intervals_ms)`` rows. Trades of a pair outside the registry are skipped.
    """
    n_iv = intervals_ms.shape[0]
    for ring in range(rings.shape[0]):
        rings[ring].touched = 0
        rings[ring].head = -1
        rings[ring].newest = NO_BUCKET
    n = 0
    for row in range(events.shape[0]):
        event = events[row]
        if event.kind != _TRADE or event.pair_id < 0 or event.pair_id >= n_pairs:
            continue
        seq = event.seq
        ts_ms = event.timestamp_ns // 1_000_000
        price = event.price
        for j in range(n_iv):
            ring = event.pair_id * n_iv + j
            if seq <= floors[ring]:
                continue
            state = rings[ring]
            if state.touched == 0:
                state.touched = 1
                state.first_seq = seq
            state.last_seq = seq
            ms = intervals_ms[j]
            start = ts_ms - ts_ms % ms
            if state.newest != NO_BUCKET:
                if start <= state.newest - kept * ms:
                    continue  # behind the window
                if start > state.newest:
                    state.newest = start
            else:
                state.newest = start
            c = state.head
            while c >= 0 and candles[c].start != start:
                c = candles[c].next
            if c < 0:
                c = n
                n += 1
                candle = candles[c]
                candle.ring = ring
                candle.start = start
                candle.open = candle.high = candle.low = price
                candle.volume = 0
                candle.trades = 0
                candle.first_seq = seq
                candle.next = state.head
                state.head = c
            candle = candles[c]
            if price > candle.high:
                candle.high = price
            if price < candle.low:
                candle.low = price
            candle.close = price
            candle.volume += event.trade_qty
            candle.trades += 1
            candle.last_seq = seq
    return n


@njit
def order_updates(events, ids, rows, roles):
    """The order updates of ``events`` in seq order as (order id, event row, role); returns
    how many. Arrays need room for ``2 * len(events)``."""
    n = 0
    for row in range(events.shape[0]):
        event = events[row]
        kind = event.kind
        if kind == _TRADE:
            ids[n], rows[n], roles[n] = event.order_id, row, _TAKER
            ids[n + 1], rows[n + 1], roles[n + 1] = event.maker_order_id, row, _MAKER
            n += 2
        elif kind == _ACCEPTED or kind == _AMENDED or kind == _CANCELED or (
                kind == _REJECTED and event.order_id > 0):
            ids[n], rows[n], roles[n] = event.order_id, row, _OWN
            n += 1
    return n


@njit
def fold_orders(events, rows, roles, order, n_updates, out):
    """Compose the updates, visited in ``order`` (grouped by order id, seq order within a
    group), into one ``out`` row per order id; returns how many rows."""
    k = -1
    current_id = 0
    for i in range(n_updates):
        u = order[i]
        event = events[rows[u]]
        role = roles[u]
        order_id = event.maker_order_id if role == _MAKER else event.order_id
        if k < 0 or order_id != current_id:
            k += 1
            current_id = order_id
            _set_state(out[k], event, role)
            continue
        target = out[k]
        if role == _OWN:
            if event.kind != _REJECTED:  # a replace; a rejection leaves an existing record
                _set_state(target, event, role)
        else:
            _set_fill(target, event, role)
            if target.mode == IF_ABSENT:
                target.mode = FILL
    return k + 1


@njit
def _set_state(target, event, role):
    """The whole record one update would create."""
    if role == _MAKER:
        target.mode = FILL
        target.order_id = event.maker_order_id
        target.account = event.maker_account
        target.client_order_id = 0
        target.side = _SELL if event.side == _BUY else _BUY
        target.order_type = 1  # only a LIMIT order rests
        target.tif = 1  # GTC
        target.price = event.price
    else:
        if role == _TAKER:
            target.mode = FILL
            target.price = 0  # the execution price is not the taker's limit
        else:
            target.mode = IF_ABSENT if event.kind == _REJECTED else REPLACE
            target.price = event.price
        target.order_id = event.order_id
        target.account = event.account
        target.client_order_id = event.client_order_id
        target.side = event.side
        target.order_type = event.order_type
        target.tif = event.tif
    target.pair_id = event.pair_id
    _set_fill(target, event, role)


@njit
def _set_fill(target, event, role):
    """The fields a fill changes: quantity, filled, leaves, status, reason, seq, time."""
    if role == _MAKER:
        target.quantity = event.maker_quantity
        target.filled = event.maker_filled_qty
        target.leaves = event.maker_leaves_qty
        target.status = _FILLED if event.maker_leaves_qty == 0 else _PARTIALLY_FILLED
        target.reason = 0
    else:
        target.quantity = event.quantity
        target.filled = event.filled_qty
        target.leaves = event.leaves_qty
        target.status = event.order_status
        target.reason = event.reason
    target.seq = event.seq
    target.timestamp_ns = event.timestamp_ns
