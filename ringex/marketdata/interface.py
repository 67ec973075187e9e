"""The market-data interface: what the publisher writes and what the gateway reads.

Market data is a rebuildable projection of the engine's event stream (``EVENT_DTYPE``
records). Two stores implement :class:`MarketDataStore`: ``RedisMarketData`` (distributed
mode) and ``SharedMemoryMarketData`` (embedded mode). One contract suite
(``tests/marketdata/test_contract.py``) runs against both; ``docs/marketdata.md`` states the
rules.

Rules every store keeps:

* ``apply`` is idempotent: an event whose ``seq`` is at or below :meth:`last_seq` changes
  nothing, so replaying any prefix of the stream is harmless.
* ``put_book`` keeps the snapshot with the highest ``seq``; an older one is ignored.
* Prices are int64 ticks and quantities int64 lots, as in the records; the pair registry turns
  them into decimal strings at the edge.
* ``PAIR_STATUS`` events set the pair's status (:meth:`MarketDataStore.pair_status`).
* Readers never raise for an unknown pair or order: they return ``None`` or an empty list.
  An unknown interval name is a caller error (``ValidationError``).

There is one writer per store (the market-data publisher process); any number of readers.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

from ringex.errors import ValidationError
from ringex.records import OrderStatus, PairStatus, Reason, Side

__all__ = [
    "INTERVALS",
    "INTERVAL_NAMES",
    "interval_ms",
    "DEFAULT_CANDLE_LIMIT",
    "DEFAULT_TRADE_LIMIT",
    "Candle",
    "Trade",
    "OrderState",
    "Book",
    "MarketDataStore",
    "CLOSED_STATUSES",
]

#: Candle intervals by name, in milliseconds, in the order the stores lay them out.
INTERVALS: dict[str, int] = {
    "1s": 1_000,
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "1d": 86_400_000,
}
INTERVAL_NAMES: tuple[str, ...] = tuple(INTERVALS)

DEFAULT_CANDLE_LIMIT = 500
DEFAULT_TRADE_LIMIT = 100

#: Statuses after which an order never changes again (its id may be reused by a new order).
CLOSED_STATUSES = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED})


def interval_ms(interval: str) -> int:
    """Milliseconds of a named interval (``"1m"`` -> 60000); else ``ValidationError``."""
    try:
        return INTERVALS[interval]
    except (KeyError, TypeError):
        allowed = ", ".join(INTERVAL_NAMES)
        raise ValidationError("interval", f"{interval!r} is not one of {allowed}") from None


@dataclasses.dataclass(frozen=True, slots=True)
class Candle:
    """OHLCV of one pair over ``[start_ms, start_ms + interval_ms)``, by event timestamp.

    ``open``/``high``/``low``/``close`` are ticks, ``volume`` is lots, ``trades`` the number of
    trades; ``first_seq``/``last_seq`` the lowest and highest trade ``seq`` folded in.
    """

    pair_id: int
    interval_ms: int
    start_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int
    first_seq: int
    last_seq: int


@dataclasses.dataclass(frozen=True, slots=True)
class Trade:
    """One execution, as the public trade feed shows it (no accounts)."""

    pair_id: int
    seq: int
    timestamp_ns: int
    price: int  # ticks
    quantity: int  # lots
    taker_side: Side
    taker_order_id: int
    maker_order_id: int


@dataclasses.dataclass(frozen=True, slots=True)
class OrderState:
    """The last known state of one order (the ``GET /orders/{id}`` answer).

    ``price`` is the limit price in ticks (0 for a market order, or for a taker whose
    ``ACCEPTED`` the store never saw). ``quantity == filled_qty + leaves_qty`` always; on a
    ``CANCELED`` or ``REJECTED`` order ``leaves_qty`` is the part that will never fill, as in
    the event. ``seq`` and ``timestamp_ns`` are those of the last event that changed it.
    """

    order_id: int
    pair_id: int
    account: int
    client_order_id: int
    side: Side
    order_type: int
    tif: int
    status: OrderStatus
    reason: Reason
    price: int
    quantity: int
    filled_qty: int
    leaves_qty: int
    seq: int
    timestamp_ns: int

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES


class Book(NamedTuple):
    """An L2 snapshot: levels ``(price_ticks, qty_lots, order_count)``, best first."""

    seq: int
    bids: list[tuple[int, int, int]]
    asks: list[tuple[int, int, int]]


@runtime_checkable
class MarketDataStore(Protocol):
    """Writer side: ``apply``, ``put_book``. Reader side: everything else.

    ``pair`` arguments accept a pair id or any spelling the registry accepts.
    """

    # -- writer (one process) -------------------------------------------------------------
    def apply(self, events: np.ndarray) -> None:
        """Fold a batch of ``EVENT_DTYPE`` records (ascending ``seq``) into the projection."""

    def put_book(self, pair_id: int, seq: int, bids: Sequence | np.ndarray,
                 asks: Sequence | np.ndarray) -> bool:
        """Store an L2 snapshot taken at event ``seq``; False (ignored) if not newer."""

    # -- readers -----------------------------------------------------------------------
    def candles(self, pair: int | str, interval: str, start_ms: int | None = None,
                end_ms: int | None = None, limit: int = DEFAULT_CANDLE_LIMIT) -> list[Candle]:
        """Candles in ascending ``start_ms``, both bounds inclusive.

        With ``start_ms``: the first ``limit`` candles from it. Without: the last ``limit``
        candles up to ``end_ms`` (or the newest).
        """

    def trades(self, pair: int | str, limit: int = DEFAULT_TRADE_LIMIT) -> list[Trade]:
        """The last ``limit`` trades of the pair, newest first."""

    def order(self, order_id: int) -> OrderState | None:
        """The last known state of an order, or None."""

    def book(self, pair: int | str, depth: int = 10) -> Book | None:
        """The newest L2 snapshot cut to ``depth`` levels a side; ``Book(0, [], [])`` when the
        pair has none yet; None for an unknown pair."""

    def pair_status(self, pair: int | str) -> PairStatus | None:
        """The pair's trading status as the last ``PAIR_STATUS`` event applied set it;
        ``TRADING`` (every pair's status at start) if the store has applied none for it;
        None for an unknown pair. Like everything here it is the projection's view: a store
        built after the status changed, from events that do not include the change, says
        ``TRADING``."""

    def last_seq(self) -> int:
        """The highest event ``seq`` applied (0 before any)."""

    def close(self) -> None:
        """Release connections or mappings (the owner of a segment also unlinks it)."""
