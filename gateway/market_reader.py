"""What the gateway reads market data from: one engine instance's store, or several.

:class:`MarketDataReader` is the reader side of
:class:`ringex.marketdata.interface.MarketDataStore` plus the two questions the gateway asks
that a store alone cannot answer for every deployment: whose order an id names
(:meth:`~MarketDataReader.owned_order`), and what ``GET /health`` reports
(:meth:`~MarketDataReader.health`). :class:`SingleStoreReader` answers them over one store;
:class:`gateway.routing.RoutedMarketData` over one store per engine instance. The resources
only ever see this protocol. Readers never write: each instance's market-data publisher is
the single writer of its store.
"""

from __future__ import annotations

from typing import Protocol

from ringex.marketdata.interface import (DEFAULT_CANDLE_LIMIT, DEFAULT_TRADE_LIMIT, Book,
                                         Candle, MarketDataStore, OrderState, Trade)
from ringex.records import PairStatus

__all__ = ["MarketDataReader", "SingleStoreReader"]


class MarketDataReader(Protocol):
    def candles(self, pair: int | str, interval: str, start_ms: int | None = None,
                end_ms: int | None = None, limit: int = DEFAULT_CANDLE_LIMIT) -> list[Candle]:
        ...

    def trades(self, pair: int | str, limit: int = DEFAULT_TRADE_LIMIT) -> list[Trade]:
        ...

    def book(self, pair: int | str, depth: int = 10) -> Book | None:
        ...

    def pair_status(self, pair: int | str) -> PairStatus | None:
        ...

    def order(self, order_id: int) -> OrderState | None:
        ...

    def owned_order(self, order_id: int, account: int) -> tuple[OrderState | None, bool]:
        """``(the state of ``account``'s order with this id or None, whether the reader
        holds an order with this id at all)``."""

    def health(self) -> dict[str, object]:
        """What ``GET /health`` shows under ``market_data`` (without ``ok``); raises when the
        store cannot be read."""

    def close(self) -> None:
        ...


class SingleStoreReader:
    """One store, which holds at most one order per id. ``owns_store``: :meth:`close`
    closes the store too (a worker's own connection or mapping)."""

    def __init__(self, store: MarketDataStore, *, owns_store: bool = True):
        self.store = store
        self.owns_store = owns_store

    def candles(self, pair: int | str, interval: str, start_ms: int | None = None,
                end_ms: int | None = None, limit: int = DEFAULT_CANDLE_LIMIT) -> list[Candle]:
        return self.store.candles(pair, interval, start_ms, end_ms, limit)

    def trades(self, pair: int | str, limit: int = DEFAULT_TRADE_LIMIT) -> list[Trade]:
        return self.store.trades(pair, limit)

    def book(self, pair: int | str, depth: int = 10) -> Book | None:
        return self.store.book(pair, depth)

    def pair_status(self, pair: int | str) -> PairStatus | None:
        return self.store.pair_status(pair)

    def order(self, order_id: int) -> OrderState | None:
        return self.store.order(order_id)

    def owned_order(self, order_id: int, account: int) -> tuple[OrderState | None, bool]:
        state = self.store.order(order_id)
        if state is None:
            return None, False
        return (state if state.account == account else None), True

    def health(self) -> dict[str, object]:
        return {"last_seq": int(self.store.last_seq())}

    def close(self) -> None:
        if self.owns_store:
            self.store.close()
