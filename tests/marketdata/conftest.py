"""Fixtures of the market-data contract suite: one ``make_store`` factory per store kind.

``make_store(registry, candles_kept=..., trades_kept=..., depth=..., order_capacity=...)``
returns a fresh, empty store. Redis stores use the REAL server (``redis_client`` from
tests/support/services.py) under a unique key prefix that is flushed afterwards; shared-memory
stores use a uniquely named segment that is unlinked afterwards.
"""

from __future__ import annotations

import multiprocessing
import sys

import pytest

from tests.support.services import flush_prefix, unique_name

STORE_KINDS = [pytest.param("redis", marks=pytest.mark.redis), "shm"]


def _factory(kind: str, request):
    made = []
    prefixes = []

    def make(registry, *, candles_kept=1440, trades_kept=1000, depth=50,
             order_capacity=1 << 14):
        if kind == "redis":
            from ringex.marketdata.redis_store import RedisMarketData

            client = request.getfixturevalue("redis_client")
            prefix = f"test:{unique_name('md')}:"
            prefixes.append((client, prefix))
            store = RedisMarketData(client, registry, prefix=prefix, candles_kept=candles_kept,
                                    trades_kept=trades_kept, order_ttl_s=3_600)
        else:
            from ringex.marketdata.shm_store import SharedMemoryMarketData

            store = SharedMemoryMarketData.create(
                registry, candles_kept=candles_kept, trades_kept=trades_kept, depth=depth,
                order_capacity=order_capacity, prefix="ringextest")
        made.append(store)
        return store

    def cleanup():
        for store in made:
            store.close()
        for client, prefix in prefixes:
            flush_prefix(client, prefix)

    return make, cleanup


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def make_store(store_kind, request):
    make, cleanup = _factory(store_kind, request)
    yield make
    cleanup()


@pytest.fixture(scope="session")
def spawn():
    return multiprocessing.get_context("spawn")
