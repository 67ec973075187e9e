"""Processes of the cross-process shared-memory test: one writer, one reader.

Every value the writer stores is a function of the trade's seq, so a reader can check any
record it copies: a torn record (fields from two different writes) cannot pass.
"""

from __future__ import annotations

import time
import traceback

import numpy as np

from tests.marketdata.marketdata_streams import T0_NS, make_registry, trade_events

T0_MS = T0_NS // 1_000_000


def price_of(seq: int) -> int:
    return 1_000 + (seq * 37) % 200


def qty_of(seq: int) -> int:
    return seq % 10 + 1


def book_of(seq: int):
    bids = [(1_000 - i, seq + i, i + 1) for i in range(5)]
    asks = [(1_001 + i, 2 * seq + i, i + 1) for i in range(5)]
    return bids, asks


def write(name: str, batches: int, batch: int, results, reads=None) -> None:
    """Apply `batches` batches of trades. With `reads` (the reader's shared count of finished
    reads since the writer's first batch), batch i waits until the reader has finished i // 2
    of them: the overlap then does not depend on how fast each process starts or how loaded
    the machine is. The wait is bounded (60 s in all), so a dead reader cannot hang the writer."""
    from ringex.marketdata.shm_store import SharedMemoryMarketData

    try:
        store = SharedMemoryMarketData.attach(name, make_registry())
        template = trade_events([(0, T0_MS, 1, 1)] * batch)
        # built up front, so the writer spends its time inside apply (where tearing could be)
        prepared = []
        for first in range(1, batches * batch + 1, batch):
            events = template.copy()
            seqs = np.arange(first, first + batch)
            events["seq"] = events["command_index"] = seqs
            events["timestamp_ns"] = (T0_MS + 7 * seqs) * 1_000_000
            events["price"] = 1_000 + (seqs * 37) % 200
            events["quantity"] = events["filled_qty"] = events["trade_qty"] = seqs % 10 + 1
            # makers fill completely, so every order closes and the table evicts, never drops
            events["maker_quantity"] = events["maker_filled_qty"] = events["trade_qty"]
            events["maker_leaves_qty"] = 0
            events["order_id"], events["maker_order_id"] = 2 * seqs, 2 * seqs + 1
            prepared.append(events)
        seq = 1
        deadline = time.monotonic() + 60
        for index, events in enumerate(prepared):
            while reads is not None and reads.value < index // 2 and time.monotonic() < deadline:
                time.sleep(0.0002)
            store.apply(events)
            seq += batch
            store.put_book(0, seq - 1, *book_of(seq - 1))
        store.close()
        results.put(("writer", seq - 1))
    except BaseException:
        results.put(("writer-error", traceback.format_exc()))


def read(name: str, final_seq: int, results, reads=None) -> None:
    """Check every snapshot it reads until it has seen `final_seq`; counts the finished reads
    that saw at least one write in the shared `reads` value when given (the writer paces
    itself on it)."""
    from ringex.marketdata.shm_store import SharedMemoryMarketData

    try:
        store = SharedMemoryMarketData.attach(name, make_registry())
        checks = {"reads": 0, "candles": 0, "trades": 0, "books": 0, "orders": 0}
        last, newest_trade, book_seq = 0, 0, 0
        seqs_all = np.arange(final_seq + 2)
        prices = 1_000 + (seqs_all * 37) % 200
        volume_before = np.concatenate([[0], np.cumsum(seqs_all % 10 + 1)])
        while last < final_seq:
            seq = store.last_seq()
            assert seq >= last, f"last_seq went back from {last} to {seq}"
            last = seq
            trades = store.trades(0, 64)
            if trades:
                seqs = [t.seq for t in trades]
                assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs), seqs
                assert seqs[0] >= newest_trade, (seqs[0], newest_trade)
                newest_trade = seqs[0]
                for t in trades:
                    assert (t.price, t.quantity) == (price_of(t.seq), qty_of(t.seq)), t
                    assert t.taker_order_id == 2 * t.seq and t.maker_order_id == 2 * t.seq + 1
                checks["trades"] += len(trades)
                for order in (store.order(2 * newest_trade), store.order(2 * newest_trade + 1)):
                    if order is None:
                        continue
                    assert order.seq == newest_trade and order.quantity == qty_of(order.seq)
                    assert order.filled_qty == order.quantity and order.leaves_qty == 0
                    checks["orders"] += 1
            book = store.book(0, 5)
            if book.seq:
                assert book.seq >= book_seq, (book.seq, book_seq)
                book_seq = book.seq
                assert (book.bids, book.asks) == book_of(book.seq), book
                checks["books"] += 1
            for interval in ("1s", "1m"):
                for candle in store.candles(0, interval, limit=64):
                    first, last_in = candle.first_seq, candle.last_seq
                    assert 1 <= first <= last_in <= final_seq, candle
                    assert candle.trades == last_in - first + 1, candle
                    assert candle.open == prices[first], candle
                    assert candle.close == prices[last_in], candle
                    assert candle.high == prices[first:last_in + 1].max(), candle
                    assert candle.low == prices[first:last_in + 1].min(), candle
                    assert candle.volume == volume_before[last_in + 1] - volume_before[first], candle
                    checks["candles"] += 1
            checks["reads"] += 1
            if reads is not None and last:  # only reads that overlap the writer pace it
                reads.value += 1
        store.close()
        results.put(("reader", checks))
    except BaseException:
        results.put(("reader-error", traceback.format_exc()))
