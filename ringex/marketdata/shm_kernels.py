"""Compiled writer and reader functions of the shared-memory market-data store.

Every function takes the segment's :class:`~ringex.marketdata.shm_layout.ShmArrays` and never
allocates (``ringex.jit.njit`` has reference counting off); scratch arrays come from the
caller.

**Seqlocks.** Each area (a candle ring, a pair's trades, a pair's book, an order stripe) has a
``VERSION`` cell. The writer makes it odd before its first store into the area and even
again after its last, once per batch (:func:`apply_events` opens an area on first touch and
closes every opened area at the end), then publishes ``LAST_SEQ``. A reader loads the version
(acquire), waits while it is odd, copies, and retries if the version moved. The ordering:

* writer: ``store_release(v + 1)``, then a full ``fence()``, so no data store of the batch
  becomes visible before the odd version (release alone only orders *earlier* stores); the
  data stores; then ``store_release(v + 2)``, which orders them before the even version.
* reader: ``load_acquire(version)`` keeps the copy's loads after it; ``fence()`` before the
  second ``load_acquire`` keeps them before it.

The data itself is read and written with plain loads and stores: the version check, not
the individual accesses, decides whether a copy is used. Intrinsics rather than numpy plus a
Python barrier, because the copy loops run in compiled code where LLVM may move plain
accesses across anything that is not an atomic or a fence.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit
from ringex.marketdata import shm_layout as L
from ringex.records import EventKind
from ringex.ring.atomics import cpu_relax, fence, load_acquire, store_release
from ringex.ring.kernel import sched_yield

__all__ = ["apply_events", "put_book", "read_candles", "read_trades", "read_book",
           "read_order", "read_last_seq", "publish_magic"]

_TRADE = int(EventKind.TRADE)
_ACCEPTED = int(EventKind.ACCEPTED)
_AMENDED = int(EventKind.AMENDED)
_CANCELED = int(EventKind.CANCELED)
_REJECTED = int(EventKind.REJECTED)
_PAIR_STATUS = int(EventKind.PAIR_STATUS)
_FILLED, _PARTIALLY_FILLED, _FIRST_CLOSED = 3, 2, 3  # OrderStatus; FILLED..REJECTED are closed
_BUY, _SELL = 1, 2
_REPLACE, _FILL, _IF_ABSENT = 1, 2, 3
_SPINS_BEFORE_YIELD = 128


# -- seqlock -------------------------------------------------------------------------------
@njit
def _begin_write(meta, cell):
    store_release(meta, cell, meta[cell] + 1)
    fence()


@njit
def _end_write(meta, cell):
    store_release(meta, cell, meta[cell] + 1)


@njit
def _read_begin(meta, cell):
    spins = 0
    while True:
        version = load_acquire(meta, cell)
        if version & 1 == 0:
            return version
        spins += 1
        if spins < _SPINS_BEFORE_YIELD:
            cpu_relax()
        else:
            sched_yield()


@njit
def _read_valid(meta, cell, version):
    fence()
    return load_acquire(meta, cell) == version


@njit
def publish_magic(header):
    store_release(header, L.MAGIC_CELL, L.MAGIC)


@njit
def read_last_seq(header):
    return load_acquire(header, L.LAST_SEQ)


@njit
def _copy_row(destination, source):
    # a slice assignment between arrays may allocate a temporary (overlap check); no NRT here
    for field in range(destination.shape[0]):
        destination[field] = source[field]


# -- writer: events ------------------------------------------------------------------------
@njit
def apply_events(arrays, events, intervals_ms, candle_open, trade_open, stripe_open,
                 evict_seqs, evict_rows):
    """Fold ``events`` (ascending seq) in; skip seq <= LAST_SEQ. Returns the new LAST_SEQ."""
    header = arrays.header
    last = header[L.LAST_SEQ]
    n_pairs = header[L.N_PAIRS]
    newest = last
    for row in range(events.shape[0]):
        event = events[row]
        seq = event.seq
        if seq <= newest:
            continue
        newest = seq
        kind = event.kind
        if kind == _TRADE:
            pair = event.pair_id
            if 0 <= pair < n_pairs:
                _trade_candles(arrays, candle_open, intervals_ms, pair, seq,
                               event.timestamp_ns, event.price, event.trade_qty)
                _trade_feed(arrays, trade_open, pair, event)
            _order_update(arrays, stripe_open, evict_seqs, evict_rows, _FILL, event.order_id,
                          pair, event.account, event.client_order_id, event.side,
                          event.order_type, event.tif, event.order_status, event.reason, 0,
                          event.quantity, event.filled_qty, event.leaves_qty, seq,
                          event.timestamp_ns)
            maker_leaves = event.maker_leaves_qty
            status = _FILLED if maker_leaves == 0 else _PARTIALLY_FILLED
            side = _SELL if event.side == _BUY else _BUY
            _order_update(arrays, stripe_open, evict_seqs, evict_rows, _FILL,
                          event.maker_order_id, pair, event.maker_account, 0, side, 1, 1,
                          status, 0, event.price, event.maker_quantity, event.maker_filled_qty,
                          maker_leaves, seq, event.timestamp_ns)
        elif kind == _ACCEPTED or kind == _AMENDED or kind == _CANCELED or (
                kind == _REJECTED and event.order_id > 0):
            mode = _IF_ABSENT if kind == _REJECTED else _REPLACE
            _order_update(arrays, stripe_open, evict_seqs, evict_rows, mode, event.order_id,
                          event.pair_id, event.account, event.client_order_id, event.side,
                          event.order_type, event.tif, event.order_status, event.reason,
                          event.price, event.quantity, event.filled_qty, event.leaves_qty,
                          seq, event.timestamp_ns)
        elif kind == _PAIR_STATUS:
            pair = event.pair_id
            if 0 <= pair < n_pairs:
                # one aligned cell, read whole by readers: no seqlock needed
                store_release(arrays.trade_meta, pair * L.LINE + L.PAIR_STATUS,
                              np.int64(event.pair_status))
    _close_all(arrays.candle_meta, candle_open)
    _close_all(arrays.trade_meta, trade_open)
    _close_all(arrays.order_meta, stripe_open)
    if newest > last:
        store_release(header, L.LAST_SEQ, newest)
    return newest


@njit
def _close_all(meta, opened):
    for area in range(opened.shape[0]):
        if opened[area]:
            opened[area] = 0
            _end_write(meta, area * L.LINE + L.VERSION)


@njit
def _open(meta, opened, area):
    if not opened[area]:
        opened[area] = 1
        _begin_write(meta, area * L.LINE + L.VERSION)


@njit
def _trade_candles(arrays, candle_open, intervals_ms, pair, seq, timestamp_ns, price, qty):
    meta = arrays.candle_meta
    kept = arrays.candles.shape[2]
    n_intervals = intervals_ms.shape[0]
    ts_ms = timestamp_ns // 1_000_000
    for interval in range(n_intervals):
        area = pair * n_intervals + interval
        base = area * L.LINE
        if seq <= meta[base + L.CANDLE_SEQ]:
            continue
        _open(meta, candle_open, area)
        meta[base + L.CANDLE_SEQ] = seq
        ms = intervals_ms[interval]
        start = ts_ms - ts_ms % ms
        newest = meta[base + L.CANDLE_NEWEST]
        if newest >= 0 and start <= newest - kept * ms:
            continue  # older than the window: already gone
        if start > newest:
            meta[base + L.CANDLE_NEWEST] = start
        candle = arrays.candles[pair, interval, (start // ms) % kept]
        if candle[L.C_START] != start:
            candle[L.C_START] = start
            candle[L.C_OPEN] = price
            candle[L.C_HIGH] = price
            candle[L.C_LOW] = price
            candle[L.C_VOLUME] = 0
            candle[L.C_TRADES] = 0
            candle[L.C_FIRST_SEQ] = seq
        elif price > candle[L.C_HIGH]:
            candle[L.C_HIGH] = price
        elif price < candle[L.C_LOW]:
            candle[L.C_LOW] = price
        candle[L.C_CLOSE] = price
        candle[L.C_VOLUME] += qty
        candle[L.C_TRADES] += 1
        candle[L.C_LAST_SEQ] = seq


@njit
def _trade_feed(arrays, trade_open, pair, event):
    meta = arrays.trade_meta
    _open(meta, trade_open, pair)
    cell = pair * L.LINE + L.TRADE_COUNT
    count = meta[cell]
    record = arrays.trades[pair, count % arrays.trades.shape[1]]
    record[L.T_SEQ] = event.seq
    record[L.T_TIMESTAMP] = event.timestamp_ns
    record[L.T_PRICE] = event.price
    record[L.T_QTY] = event.trade_qty
    record[L.T_SIDE] = event.side
    record[L.T_TAKER] = event.order_id
    record[L.T_MAKER] = event.maker_order_id
    meta[cell] = count + 1


# -- writer: orders ------------------------------------------------------------------------
@njit
def _hash(order_id):
    return np.uint64(order_id) * np.uint64(0x9E3779B97F4A7C15)


@njit
def _stripe_of(order_id, stripes):
    return np.int64((_hash(order_id) >> np.uint64(34)) & np.uint64(stripes - 1))


@njit
def _probe(orders, stripe, order_id):
    """Slot of ``order_id`` in its stripe, or ``-1 - slot`` of the empty slot ending its run."""
    mask = orders.shape[1] - 1
    slot = np.int64((_hash(order_id) >> np.uint64(40)) & np.uint64(mask))
    for _ in range(mask + 1):
        found = orders[stripe, slot, L.O_ORDER_ID]
        if found == order_id:
            return slot
        if found == 0:
            return -1 - slot
        slot = (slot + 1) & mask
    return -1 - (mask + 1)


@njit
def _order_update(arrays, stripe_open, evict_seqs, evict_rows, mode, order_id, pair, account,
                  client_order_id, side, order_type, tif, status, reason, price, quantity,
                  filled, leaves, seq, timestamp_ns):
    if order_id <= 0:
        return
    orders, meta = arrays.orders, arrays.order_meta
    slots = orders.shape[1]
    stripe = _stripe_of(order_id, orders.shape[0])
    slot = _probe(orders, stripe, order_id)
    if slot >= 0:
        record = orders[stripe, slot]
        if record[L.O_SEQ] >= seq or mode == _IF_ABSENT:
            return
        _open(meta, stripe_open, stripe)
        if mode == _FILL:
            record[L.O_QUANTITY] = quantity
            record[L.O_FILLED] = filled
            record[L.O_LEAVES] = leaves
            record[L.O_STATUS] = status
            record[L.O_REASON] = reason
            record[L.O_SEQ] = seq
            record[L.O_TIMESTAMP] = timestamp_ns
            return
    else:
        _open(meta, stripe_open, stripe)
        count_cell = stripe * L.LINE + L.STRIPE_COUNT
        if meta[count_cell] >= slots * 3 // 4:
            _evict(orders, meta, stripe, evict_seqs, evict_rows)
            if meta[count_cell] >= slots * 3 // 4:
                meta[stripe * L.LINE + L.STRIPE_DROPPED] += 1
                return
            slot = _probe(orders, stripe, order_id)
        slot = -1 - slot
        meta[count_cell] += 1
        record = orders[stripe, slot]
    record[L.O_ORDER_ID] = order_id
    record[L.O_PAIR] = pair
    record[L.O_ACCOUNT] = account
    record[L.O_CLIENT_ORDER_ID] = client_order_id
    record[L.O_SIDE] = side
    record[L.O_TYPE] = order_type
    record[L.O_TIF] = tif
    record[L.O_STATUS] = status
    record[L.O_REASON] = reason
    record[L.O_PRICE] = price
    record[L.O_QUANTITY] = quantity
    record[L.O_FILLED] = filled
    record[L.O_LEAVES] = leaves
    record[L.O_SEQ] = seq
    record[L.O_TIMESTAMP] = timestamp_ns


@njit
def _evict(orders, meta, stripe, evict_seqs, evict_rows):
    """Drop the oldest closed orders (lowest last seq) until the stripe is half full, then
    rebuild the stripe (open addressing without tombstones). The stripe's seqlock is held."""
    slots = orders.shape[1]
    count_cell = stripe * L.LINE + L.STRIPE_COUNT
    n_closed = 0
    for slot in range(slots):
        if orders[stripe, slot, L.O_ORDER_ID] != 0 and orders[stripe, slot, L.O_STATUS] >= _FIRST_CLOSED:
            evict_seqs[n_closed] = orders[stripe, slot, L.O_SEQ]
            n_closed += 1
    wanted = min(n_closed, meta[count_cell] - slots // 2)
    if wanted <= 0:
        return
    threshold = _select(evict_seqs, n_closed, wanted - 1)
    below = 0
    for slot in range(slots):
        if (orders[stripe, slot, L.O_ORDER_ID] != 0
                and orders[stripe, slot, L.O_STATUS] >= _FIRST_CLOSED
                and orders[stripe, slot, L.O_SEQ] < threshold):
            below += 1
    at_threshold = wanted - below  # ties (a maker and a taker share a trade's seq)
    kept = 0
    for slot in range(slots):
        record = orders[stripe, slot]
        if record[L.O_ORDER_ID] == 0:
            continue
        if record[L.O_STATUS] >= _FIRST_CLOSED:
            if record[L.O_SEQ] < threshold:
                continue
            if record[L.O_SEQ] == threshold and at_threshold > 0:
                at_threshold -= 1
                continue
        _copy_row(evict_rows[kept], record)
        kept += 1
    orders[stripe, :, :] = 0
    for row in range(kept):
        slot = -1 - _probe(orders, stripe, evict_rows[row, L.O_ORDER_ID])
        _copy_row(orders[stripe, slot], evict_rows[row])
    meta[stripe * L.LINE + L.STRIPE_EVICTED] += meta[count_cell] - kept
    meta[count_cell] = kept


@njit
def _select(values, n, k):
    """The k-th smallest of ``values[:n]`` (in-place quickselect)."""
    lo, hi = 0, n - 1
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return values[k]
    return values[k]


# -- writer: books -------------------------------------------------------------------------
@njit
def put_book(arrays, pair, seq, bids, asks):
    """Store an L2 snapshot unless one with seq >= ``seq`` is there. Book-area writer only."""
    meta = arrays.book_meta
    base = pair * L.LINE
    if seq <= meta[base + L.BOOK_SEQ]:
        return False
    depth = arrays.book.shape[2]
    n_bids = min(bids.shape[0], depth)
    n_asks = min(asks.shape[0], depth)
    _begin_write(meta, base + L.VERSION)
    for level in range(n_bids):
        for field in range(L.LEVEL_FIELDS):
            arrays.book[pair, 0, level, field] = bids[level, field]
    for level in range(n_asks):
        for field in range(L.LEVEL_FIELDS):
            arrays.book[pair, 1, level, field] = asks[level, field]
    meta[base + L.BOOK_N_BIDS] = n_bids
    meta[base + L.BOOK_N_ASKS] = n_asks
    meta[base + L.BOOK_SEQ] = seq
    _end_write(meta, base + L.VERSION)
    return True


# -- readers -------------------------------------------------------------------------------
@njit
def read_candles(arrays, pair, interval, interval_ms, start_ms, end_ms, from_start, limit, out):
    """Copy candles with ``start_ms <= start <= end_ms`` into ``out`` (ascending); the first
    ``limit`` of them if ``from_start``, else the last ``limit``. Returns how many."""
    meta = arrays.candle_meta
    kept = arrays.candles.shape[2]
    cell = (pair * arrays.candles.shape[1] + interval) * L.LINE
    while True:
        version = _read_begin(meta, cell + L.VERSION)
        newest = meta[cell + L.CANDLE_NEWEST]
        count = 0
        if newest >= 0:
            low = max(newest - (kept - 1) * interval_ms, start_ms)
            low = low - low % interval_ms + (interval_ms if low % interval_ms else 0)
            high = min(newest, end_ms)
            high = high - high % interval_ms
            if low <= high:
                steps = min((high - low) // interval_ms + 1, kept)  # bounded if torn
                for step in range(steps):
                    if count >= limit:
                        break
                    bucket = low + step * interval_ms if from_start else high - step * interval_ms
                    candle = arrays.candles[pair, interval, (bucket // interval_ms) % kept]
                    if candle[L.C_START] == bucket:
                        _copy_row(out[count], candle)
                        count += 1
        if _read_valid(meta, cell + L.VERSION, version):
            break
    if not from_start:
        for i in range(count // 2):
            for field in range(L.CANDLE_FIELDS):
                a = out[i, field]
                out[i, field] = out[count - 1 - i, field]
                out[count - 1 - i, field] = a
    return count


@njit
def read_trades(arrays, pair, limit, out):
    """Copy the last ``limit`` trades of ``pair``, newest first. Returns how many."""
    meta = arrays.trade_meta
    cell = pair * L.LINE
    kept = arrays.trades.shape[1]
    while True:
        version = _read_begin(meta, cell + L.VERSION)
        total = meta[cell + L.TRADE_COUNT]
        count = min(limit, total, kept)
        for i in range(count):
            _copy_row(out[i], arrays.trades[pair, (total - 1 - i) % kept])
        if _read_valid(meta, cell + L.VERSION, version):
            return count


@njit
def read_book(arrays, pair, depth, bids, asks):
    """Copy up to ``depth`` levels a side. Returns ``(seq, n_bids, n_asks)``."""
    meta = arrays.book_meta
    cell = pair * L.LINE
    while True:
        version = _read_begin(meta, cell + L.VERSION)
        seq = meta[cell + L.BOOK_SEQ]
        n_bids = min(meta[cell + L.BOOK_N_BIDS], depth)
        n_asks = min(meta[cell + L.BOOK_N_ASKS], depth)
        for level in range(n_bids):
            _copy_row(bids[level], arrays.book[pair, 0, level])
        for level in range(n_asks):
            _copy_row(asks[level], arrays.book[pair, 1, level])
        if _read_valid(meta, cell + L.VERSION, version):
            return seq, n_bids, n_asks


@njit
def read_order(arrays, order_id, out):
    """Copy the order's record into ``out``; False if the store has none."""
    if order_id <= 0:
        return False
    orders, meta = arrays.orders, arrays.order_meta
    stripe = _stripe_of(order_id, orders.shape[0])
    cell = stripe * L.LINE + L.VERSION
    while True:
        version = _read_begin(meta, cell)
        slot = _probe(orders, stripe, order_id)
        if slot >= 0:
            _copy_row(out, orders[stripe, slot])
        if _read_valid(meta, cell, version):
            return slot >= 0


@njit
def read_pair_status(arrays, pair):
    """The pair's last PAIR_STATUS (0 if the store saw none)."""
    return load_acquire(arrays.trade_meta, pair * L.LINE + L.PAIR_STATUS)
