"""One contract suite, run against both market-data stores (Redis and shared memory).

Forbidden outcomes: a candle that differs from the plain-Python fold, a replay that changes
anything, an older book replacing a newer one, trades out of order or beyond the kept count,
an order status that differs from the reference rules, an answer for a pair or order that
does not exist.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.marketdata.marketdata_streams import (T0_NS, expected_candles, make_registry,
                                                  store_state, trade_events, venue_events)
from ringex import commands as C
from ringex.errors import ValidationError
from ringex.marketdata import MarketDataStore
from ringex.marketdata.interface import INTERVALS, Book
from ringex.records import EventKind, OrderStatus, PairStatus, Reason, Side
from ringex.spec.matcher import ReferenceMatcher
from ringex.spec.ohlcv import fold_candles, window
from ringex.spec.order_status import fold_orders

T0_MS = T0_NS // 1_000_000


def test_both_stores_implement_the_interface(make_store):
    assert isinstance(make_store(make_registry()), MarketDataStore)


def test_candles_equal_the_fold_for_a_venue_stream(make_store):
    registry = make_registry()
    events = venue_events(registry, seed=11)
    assert (events["kind"] == EventKind.TRADE).sum() > 500
    store = make_store(registry, candles_kept=40)
    for start in range(0, len(events), 700):  # batches of uneven size
        store.apply(events[start:start + 700])
    assert store.last_seq() == int(events["seq"][-1])
    for name, ms in INTERVALS.items():
        fold = window(fold_candles(events, ms), 40)
        for pair in registry:
            got = store.candles(pair.name, name, limit=10_000)
            assert got == expected_candles(fold, pair.pair_id), (name, pair.name)
    # several 1s candles fell out of the 40-interval window: the window is really applied
    assert len(fold_candles(events, 1_000)) > len(window(fold_candles(events, 1_000), 40))


def test_candle_ranges_and_limits(make_store):
    registry = make_registry()
    rows = [(0, T0_MS + 60_000 * minute + 5, 100 + minute, 1) for minute in range(10)]
    store = make_store(registry)
    store.apply(trade_events(rows))
    starts = [T0_MS - T0_MS % 60_000 + 60_000 * minute for minute in range(10)]
    if T0_MS % 60_000 + 5 >= 60_000:  # the rows' buckets (T0 is not minute-aligned)
        starts = [start + 60_000 for start in starts]
    assert [c.start_ms for c in store.candles(0, "1m")] == starts
    assert [c.start_ms for c in store.candles(0, "1m", limit=3)] == starts[-3:]
    assert [c.start_ms for c in store.candles(0, "1m", start_ms=starts[2], limit=3)] == starts[2:5]
    assert [c.start_ms for c in store.candles(0, "1m", start_ms=starts[2] + 1)] == starts[3:]
    assert [c.start_ms for c in store.candles(0, "1m", end_ms=starts[6])] == starts[:7]
    assert [c.start_ms for c in store.candles(0, "1m", start_ms=starts[4], end_ms=starts[5])] \
        == starts[4:6]
    assert store.candles(0, "1m", start_ms=starts[-1] + 60_000) == []
    assert store.candles(0, "1m", limit=0) == []
    assert store.candles(1, "1m") == []  # a pair without trades
    candle = store.candles(0, "1h")[0]
    assert (candle.open, candle.high, candle.low, candle.close) == (100, 109, 100, 109)
    assert (candle.volume, candle.trades, candle.first_seq, candle.last_seq) == (10, 10, 1, 10)


trade_rows = st.lists(
    st.tuples(st.integers(0, 2),  # pair
              st.integers(-90_000, 400_000),  # ms step; negative = an earlier timestamp
              st.integers(1, 3_000),  # price ticks
              st.integers(1, 10**6)),  # lots
    min_size=1, max_size=60)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=trade_rows, kept=st.sampled_from([3, 16]), split=st.integers(1, 60))
def test_candles_equal_the_fold_for_random_trades(make_store, rows, kept, split):
    ts, trades = T0_MS, []
    for pair, step, price, qty in rows:
        ts = max(0, ts + step)
        trades.append((pair, ts, price, qty))
    events = trade_events(trades)
    registry = make_registry()
    store = make_store(registry, candles_kept=kept)
    for start in range(0, len(events), split):
        store.apply(events[start:start + split])
    for name, ms in INTERVALS.items():
        fold = window(fold_candles(events, ms), kept)
        for pair in registry:
            assert store.candles(pair.pair_id, name, limit=1_000) == \
                expected_candles(fold, pair.pair_id), (name, pair.name)


def test_replaying_any_prefix_changes_nothing(make_store):
    registry = make_registry()
    events = venue_events(registry, seed=5, batches=8)
    order_ids = set(fold_orders(events))
    store = make_store(registry, candles_kept=30, trades_kept=50)
    store.apply(events)
    before = store_state(store, registry, order_ids)
    rng = np.random.default_rng(5)
    for _ in range(4):
        low, high = sorted(rng.integers(0, len(events), 2))
        store.apply(events[:high])  # a prefix
        store.apply(events[low:high])  # a middle slice
        store.apply(events[-1:])  # the last event alone
    assert store_state(store, registry, order_ids) == before


def test_any_batch_split_gives_the_same_projection(make_store):
    registry = make_registry()
    events = venue_events(registry, seed=9, batches=4)
    order_ids = set(fold_orders(events))
    whole, pieces = make_store(registry), make_store(registry)
    whole.apply(events)
    rng = np.random.default_rng(9)
    cuts = sorted(set(rng.integers(1, len(events), 25).tolist()))
    for low, high in zip([0] + cuts, cuts + [len(events)]):
        pieces.apply(events[low:high])
    assert store_state(pieces, registry, order_ids) == store_state(whole, registry, order_ids)


def test_an_older_book_snapshot_is_ignored(make_store):
    registry = make_registry()
    store = make_store(registry, depth=5)
    assert store.book("AAA-USDT") == Book(0, [], [])
    bids = [(100, 5, 1), (99, 7, 2), (98, 1, 1)]
    asks = [(101, 3, 1)]
    assert store.put_book(0, 10, bids, asks) is True
    assert store.put_book(0, 9, [(50, 1, 1)], []) is False
    assert store.put_book(0, 10, [(50, 1, 1)], []) is False  # same seq: not newer
    assert store.book(0, 10) == Book(10, bids, asks)
    assert store.book("aaa/usdt", 2) == Book(10, bids[:2], asks)
    assert store.put_book(0, 11, np.array([(97, 2, 1)]), np.zeros((0, 3))) is True
    assert store.book(0) == Book(11, [(97, 2, 1)], [])
    assert store.book(1) == Book(0, [], [])  # another pair is untouched


def test_trades_are_newest_first_and_trimmed(make_store):
    registry = make_registry()
    events = venue_events(registry, seed=3, batches=6)
    trades = events[events["kind"] == EventKind.TRADE]
    store = make_store(registry, trades_kept=7)
    for start in range(0, len(events), 333):
        store.apply(events[start:start + 333])
    for pair in registry:
        mine = trades[trades["pair_id"] == pair.pair_id][::-1][:7]
        got = store.trades(pair.pair_id, 100)
        assert [t.seq for t in got] == mine["seq"].tolist()
        assert [(t.price, t.quantity, t.taker_order_id, t.maker_order_id) for t in got] == \
            list(zip(*(mine[f].tolist() for f in
                       ("price", "trade_qty", "order_id", "maker_order_id"))))
        assert [t.taker_side for t in got] == [Side(s) for s in mine["side"].tolist()]
        assert [t.timestamp_ns for t in got] == mine["timestamp_ns"].tolist()
        assert store.trades(pair.name, 2) == got[:2]


def test_order_status_follows_the_reference_rules(make_store):
    registry = make_registry()
    events = venue_events(registry, seed=21, batches=10)
    expected = fold_orders(events)
    kinds = set(events["kind"].tolist())
    assert {EventKind.ACCEPTED, EventKind.TRADE, EventKind.AMENDED, EventKind.CANCELED,
            EventKind.REJECTED} <= kinds
    store = make_store(registry)
    store.apply(events)
    for order_id, state in expected.items():
        assert store.order(order_id) == state, order_id


def test_order_status_transitions(make_store):
    registry = make_registry()
    matcher = ReferenceMatcher(registry.pairs)
    store = make_store(registry)

    def run(*commands):
        events = matcher.process(C.pack(list(commands)))
        store.apply(events)
        return events

    ts = T0_NS
    run(C.new(1, 10, Side.SELL, 500, 10, client_order_id=77, ts=ts))
    maker = store.order(1)
    assert (maker.status, maker.leaves_qty, maker.price, maker.client_order_id, maker.account) \
        == (OrderStatus.NEW, 10, 500, 77, 10)
    events = run(C.new(2, 20, Side.BUY, 510, 4, ts=ts + 1))
    assert EventKind.TRADE in events["kind"].tolist()
    maker, taker = store.order(1), store.order(2)
    assert (maker.status, maker.filled_qty, maker.leaves_qty, maker.price) == \
        (OrderStatus.PARTIALLY_FILLED, 4, 6, 500)
    assert (taker.status, taker.filled_qty, taker.leaves_qty, taker.price, taker.side) == \
        (OrderStatus.FILLED, 4, 0, 510, Side.BUY)
    assert maker.seq == taker.seq == int(events["seq"][-1])
    run(C.amend(1, 10, 500, 8, ts=ts + 2))
    maker = store.order(1)
    assert (maker.status, maker.quantity, maker.filled_qty, maker.leaves_qty) == \
        (OrderStatus.PARTIALLY_FILLED, 8, 4, 4)
    run(C.cancel(1, 99, ts=ts + 3))  # not the owner
    assert store.order(1) == maker  # a rejected cancel changes nothing
    run(C.cancel(1, 10, ts=ts + 4))
    maker = store.order(1)
    assert (maker.status, maker.reason, maker.filled_qty, maker.leaves_qty) == \
        (OrderStatus.CANCELED, Reason.USER_CANCELED, 4, 4)
    run(C.new(3, 10, Side.BUY, 0, 5, ts=ts + 5))  # invalid price
    rejected = store.order(3)
    assert (rejected.status, rejected.reason) == (OrderStatus.REJECTED, Reason.INVALID_PRICE)


def test_unknown_pair_and_order(make_store):
    registry = make_registry()
    store = make_store(registry)
    store.apply(venue_events(registry, seed=2, batches=2))
    assert store.candles("ZZZ-USDT", "1m") == []
    assert store.candles(99, "1m") == []
    assert store.trades("ZZZ-USDT") == []
    assert store.trades(-1) == []
    assert store.book("ZZZ-USDT") is None
    assert store.book(3) is None
    assert store.order(987_654_321) is None
    assert store.order(0) is None
    assert store.order(-5) is None
    with pytest.raises(ValidationError):
        store.candles(0, "2m")


def test_many_updates_to_one_order_and_candle_in_one_batch_give_the_fold(make_store):
    """One batch where the same maker order is accepted, filled 20 times, amended, hit by a
    rejected cancel and canceled, and every trade lands in the same candles: the store must
    hold exactly the event-at-a-time fold, as when the events come one batch each."""
    registry = make_registry()
    matcher = ReferenceMatcher(registry.pairs)
    ts = T0_NS
    commands = [C.new(1, 10, Side.SELL, 500, 1_000, client_order_id=5, ts=ts)]
    for taker in range(20):
        commands.append(C.new(100 + taker, 20 + taker % 3, Side.BUY, 500 + taker % 4,
                              1 + taker, ts=ts + 1 + taker))
    commands += [C.amend(1, 10, 500, 900, ts=ts + 30), C.cancel(1, 99, ts=ts + 31),
                 C.new(200, 21, Side.BUY, 501, 7, ts=ts + 32), C.cancel(1, 10, ts=ts + 33)]
    events = matcher.process(C.pack(commands))
    kinds = events["kind"].tolist()
    assert kinds.count(EventKind.TRADE) == 21 and EventKind.REJECTED in kinds
    whole, one_by_one = make_store(registry), make_store(registry)
    whole.apply(events)
    for row in range(len(events)):
        one_by_one.apply(events[row:row + 1])
    expected = fold_orders(events)
    order_ids = set(expected)
    for store in (whole, one_by_one):
        for order_id, state in expected.items():
            assert store.order(order_id) == state, order_id
        for name, ms in INTERVALS.items():
            fold = window(fold_candles(events, ms), 1440)
            assert store.candles(0, name) == expected_candles(fold, 0), name
    assert expected[1].status == OrderStatus.CANCELED and expected[1].filled_qty == 7 + sum(
        range(1, 21))
    assert store_state(whole, registry, order_ids) == store_state(one_by_one, registry,
                                                                  order_ids)


def test_pair_status_follows_the_status_events(make_store):
    """A pair's status is the last PAIR_STATUS applied, TRADING before any; replays and
    batch boundaries change nothing; an unknown pair has none."""
    registry = make_registry()
    matcher = ReferenceMatcher(registry.pairs)
    commands = [C.set_status(0, PairStatus.HALTED, ts=T0_NS),
                C.new(1, 10, Side.SELL, 500, 10, ts=T0_NS + 1),  # rejected: halted
                C.set_status(2, PairStatus.POST_ONLY, ts=T0_NS + 2),
                C.set_status(0, PairStatus.CANCEL_ONLY, ts=T0_NS + 3),
                C.set_status(2, PairStatus.TRADING, ts=T0_NS + 4),
                C.set_status(2, PairStatus.HALTED, ts=T0_NS + 5)]
    events = matcher.process(C.pack(commands))
    assert (events["kind"] == EventKind.PAIR_STATUS).sum() == 5
    store = make_store(registry)
    assert [store.pair_status(p.pair_id) for p in registry] == [PairStatus.TRADING] * 3
    store.apply(events[:2])
    assert store.pair_status("AAA-USDT") == PairStatus.HALTED
    store.apply(events[2:4])
    store.apply(events)  # a replay of everything, then the rest
    assert [store.pair_status(p.name) for p in registry] == \
        [PairStatus.CANCEL_ONLY, PairStatus.TRADING, PairStatus.HALTED]
    store.apply(events[:3])  # an old replay does not bring an old status back
    assert store.pair_status(0) == PairStatus.CANCEL_ONLY
    assert store.pair_status("NOPE-USDT") is None and store.pair_status(7) is None
