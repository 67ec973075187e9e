"""Market data: a rebuildable projection of the event stream (``docs/marketdata.md``).

``MarketDataStore`` is the interface; ``RedisMarketData`` (distributed mode, needs redis-py)
and ``SharedMemoryMarketData`` (embedded mode) implement it. The stores are imported lazily so
that a process using one does not import the other's dependencies (redis-py, numba).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ringex.marketdata.interface import (
    INTERVALS,
    Book,
    Candle,
    MarketDataStore,
    OrderState,
    Trade,
    interval_ms,
)

if TYPE_CHECKING:
    from ringex.marketdata.redis_store import RedisMarketData
    from ringex.marketdata.shm_store import SharedMemoryMarketData

__all__ = [
    "MarketDataStore",
    "Candle",
    "Trade",
    "OrderState",
    "Book",
    "INTERVALS",
    "interval_ms",
    "RedisMarketData",
    "SharedMemoryMarketData",
]

_LAZY = {
    "RedisMarketData": "ringex.marketdata.redis_store",
    "SharedMemoryMarketData": "ringex.marketdata.shm_store",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ringex.marketdata' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
