"""Shared-memory store specifics: readers in other processes, segment lifetime, eviction."""

from __future__ import annotations

import os

import pytest

from tests.marketdata.marketdata_streams import make_registry, trade_events
from tests.marketdata.marketdata_workers import T0_MS, read, write
from ringex.errors import LayoutMismatchError
from ringex.marketdata.shm_store import SharedMemoryMarketData
from ringex.pairs import Pair, PairRegistry
from ringex.records import EVENT_DTYPE, EventKind, OrderStatus

import numpy as np


@pytest.fixture
def owned():
    stores = []

    def make(registry=None, **sizes):
        store = SharedMemoryMarketData.create(registry or make_registry(), prefix="ringextest",
                                              **sizes)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def test_a_reader_process_never_sees_a_torn_or_older_snapshot(owned, spawn):
    store = owned(candles_kept=64, trades_kept=64)
    batches, batch = 400, 1_000
    results = spawn.Queue()
    reads = spawn.RawValue("q", 0)  # the reader's finished reads; only the reader writes it
    reader = spawn.Process(target=read, args=(store.name, batches * batch, results, reads))
    writer = spawn.Process(target=write, args=(store.name, batches, batch, results, reads))
    reader.start()
    writer.start()
    outcome = dict(results.get(timeout=120) for _ in range(2))
    writer.join(10)
    reader.join(10)
    assert "writer-error" not in outcome, outcome["writer-error"]
    assert "reader-error" not in outcome, outcome["reader-error"]
    assert outcome["writer"] == batches * batch
    checks = outcome["reader"]
    # the reader really overlapped the writer and checked every kind of record
    assert checks["reads"] > 20 and checks["candles"] > 100 and checks["books"] > 20, checks
    assert checks["trades"] > 1_000 and checks["orders"] > 10, checks
    assert store.last_seq() == batches * batch


def test_attachers_never_unlink_and_the_owner_does(owned):
    store = owned()
    path = f"/dev/shm/{store.name}"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    reader = SharedMemoryMarketData.attach(store.name, make_registry())
    store.apply(trade_events([(0, T0_MS, 100, 1)]))
    assert reader.last_seq() == 1 and reader.trades(0)[0].price == 100
    reader.close()
    assert os.path.exists(path)
    store.close()
    assert not os.path.exists(path)


def test_attach_refuses_another_registry_or_segment(owned):
    store = owned()
    with pytest.raises(LayoutMismatchError):
        SharedMemoryMarketData.attach(store.name, PairRegistry([Pair.for_ticks(0)]))
    from ringex.ring import Ring
    from ringex.records import COMMAND_DTYPE

    with Ring.create(COMMAND_DTYPE, 64, purpose="test", prefix="ringextest") as ring:
        with pytest.raises(LayoutMismatchError):
            SharedMemoryMarketData.attach(ring.name, make_registry())


def _accepted(order_id: int, seq: int, status: int) -> np.ndarray:
    event = np.zeros(1, dtype=EVENT_DTYPE)
    kind = EventKind.ACCEPTED if status == OrderStatus.NEW else EventKind.CANCELED
    event[0]["kind"], event[0]["seq"], event[0]["order_id"] = kind, seq, order_id
    event[0]["account"], event[0]["side"], event[0]["order_status"] = 1, 1, status
    event[0]["quantity"] = event[0]["leaves_qty"] = 5
    return event


def test_a_full_order_table_evicts_the_oldest_closed_orders(owned):
    store = owned(order_capacity=16)  # one stripe of 16 slots; eviction at 12
    seq = 0
    for order_id in range(1, 5):  # four open orders, oldest of all
        seq += 1
        store.apply(_accepted(order_id, seq, OrderStatus.NEW))
    for order_id in range(100, 140):  # forty closed ones
        seq += 1
        store.apply(_accepted(order_id, seq, OrderStatus.CANCELED))
    assert all(store.order(i).status == OrderStatus.NEW for i in range(1, 5))
    present = [i for i in range(100, 140) if store.order(i) is not None]
    assert present and present == list(range(140 - len(present), 140))  # the newest survive
    assert 4 <= len(present) <= 8
    assert store.order_drops == 0
    for order_id in range(200, 220):  # open orders only: the table fills, then drops
        seq += 1
        store.apply(_accepted(order_id, seq, OrderStatus.NEW))
    assert store.order_drops > 0
    assert all(store.order(i).status == OrderStatus.NEW for i in range(1, 5))
