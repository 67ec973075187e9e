"""One gateway in front of several engine instances: each read goes to the owner's store.

Why it exists: with scale-out (``docs/deployment.md``) each engine instance owns a set of
``orders`` partitions and writes its market data under its own Redis prefix (a store's
``last_seq`` is one seq space, so two instances never share one). :class:`RoutedMarketData`
is a :class:`gateway.market_reader.MarketDataReader` over one store per instance, so the
resources do not know how many instances there are.

Routing rules (all deterministic):

* **A pair** lives in partition ``crc32(name) % partitions`` (``ringex.kafka.partitioning``,
  the partitioner the gateway's ``KafkaSink`` and every keyed producer use); its book,
  candles, trades and status are read from the instance that owns that partition, and only
  from it. An unknown pair goes to the first store, which answers it as every store does
  (None or an empty list; an unknown interval is still a ``ValidationError``).
* **An order id** from the bridge is ``kafka_order_id(partition, offset)``, so it names its
  instance: that instance is asked first. Ids that frame producers choose (and ids of
  evicted orders) name nothing reliable: a frame producer's id may decode to any partition,
  and two instances may each hold an order with the same producer id. So on a miss, or for
  an owner check that the first answer fails, the other instances are asked in
  configuration order. :meth:`order` returns the first state found in that order;
  :meth:`owned_order` returns the first one that belongs to the given account, which is
  what keeps the gateway's owner checks exact: an order object is only ever shown to, or
  canceled or amended for, the account recorded in it.

Read-only: ``apply`` and ``put_book`` raise, each instance's market-data publisher is the
single writer of its own prefix. Thread-safe as far as the stores are (``RedisMarketData``
shares one connection pool).
"""

from __future__ import annotations

from typing import Sequence

from ringex.errors import RingexError, UnknownPairError
from ringex.kafka.partitioning import partition_for
from ringex.marketdata.interface import (DEFAULT_CANDLE_LIMIT, DEFAULT_TRADE_LIMIT, Book,
                                         Candle, OrderState, Trade)
from ringex.pairs import PairRegistry
from ringex.records import PairStatus
from ringex.wire.ids import kafka_position

__all__ = ["RoutedMarketData"]


class RoutedMarketData:
    """``instances``: ``[(owned partitions, store, name), ...]``, partitions disjoint and
    covering ``0 .. partitions - 1`` (``ringex.config.parse_gateway_instances`` checks the
    setting); ``name`` is what health reports (the Redis prefix)."""

    def __init__(self, instances: Sequence[tuple[Sequence[int], object, str]],
                 registry: PairRegistry, partitions: int):
        if not instances:
            raise ValueError("RoutedMarketData needs at least one instance")
        owner: dict[int, int] = {}
        for index, (owned, _, name) in enumerate(instances):
            for partition in owned:
                if partition in owner or not 0 <= partition < partitions:
                    raise ValueError(f"partition {partition} of {name!r}: duplicate or not "
                                     f"in 0 .. {partitions - 1}")
                owner[partition] = index
        if len(owner) != partitions:
            raise ValueError(f"partitions {sorted(set(range(partitions)) - set(owner))} "
                             "have no instance")
        self.registry = registry
        self.partitions = partitions
        self.stores = [store for _, store, _ in instances]
        self.names = [name for _, _, name in instances]
        self.owned = [tuple(sorted(owned)) for owned, _, _ in instances]
        self._partition_owner = [owner[p] for p in range(partitions)]
        # pair id -> index of the owning store; the registry is fixed for the process
        self._pair_owner = {pair.pair_id: self._partition_owner[
            partition_for(pair.name.encode(), partitions)] for pair in registry}

    # -- routing --------------------------------------------------------------------------
    def instance_of_pair(self, pair: int | str) -> int | None:
        """Index of the instance that owns ``pair``; None for an unknown pair."""
        try:
            return self._pair_owner[self.registry.get(pair).pair_id]
        except UnknownPairError:
            return None

    def instance_of_order(self, order_id: int) -> int | None:
        """Index of the instance whose partition the id names, if it is a Kafka-position id
        of a partition below ``partitions``; else None. Only a hint for producer-chosen ids."""
        try:
            partition, _ = kafka_position(int(order_id))
        except ValueError:
            return None
        return self._partition_owner[partition] if partition < self.partitions else None

    def _store_of(self, pair: int | str):
        index = self.instance_of_pair(pair)
        return self.stores[0 if index is None else index]

    def _order_search(self, order_id: int) -> list[int]:
        """Store indexes to ask for an order: the one its id names first, then the others in
        configuration order."""
        first = self.instance_of_order(order_id)
        rest = [i for i in range(len(self.stores)) if i != first]
        return rest if first is None else [first, *rest]

    # -- readers --------------------------------------------------------------------------
    def candles(self, pair: int | str, interval: str, start_ms: int | None = None,
                end_ms: int | None = None, limit: int = DEFAULT_CANDLE_LIMIT) -> list[Candle]:
        return self._store_of(pair).candles(pair, interval, start_ms, end_ms, limit)

    def trades(self, pair: int | str, limit: int = DEFAULT_TRADE_LIMIT) -> list[Trade]:
        return self._store_of(pair).trades(pair, limit)

    def book(self, pair: int | str, depth: int = 10) -> Book | None:
        return self._store_of(pair).book(pair, depth)

    def pair_status(self, pair: int | str) -> PairStatus | None:
        return self._store_of(pair).pair_status(pair)

    def order(self, order_id: int) -> OrderState | None:
        """The first state found, asking the instance the id names first."""
        for index in self._order_search(order_id):
            state = self.stores[index].order(order_id)
            if state is not None:
                return state
        return None

    def owned_order(self, order_id: int, account: int) -> tuple[OrderState | None, bool]:
        """``(state of the account's order with this id or None, whether any instance holds
        an order with this id)``. Stops at the first state owned by ``account``."""
        seen = False
        for index in self._order_search(order_id):
            state = self.stores[index].order(order_id)
            if state is None:
                continue
            if state.account == account:
                return state, True
            seen = True
        return None, seen

    def last_seq(self) -> int:
        """The sum of the instances' ``last_seq``: it grows whenever any instance applies
        events and is 0 before any, but it is no event ``seq`` (each instance has its own
        seq space); :meth:`instance_seqs` has them one by one."""
        return sum(int(store.last_seq()) for store in self.stores)

    def instance_seqs(self) -> list[dict[str, object]]:
        """``[{"partitions": [...], "prefix": ..., "last_seq": n}, ...]`` in configuration
        order."""
        return [{"partitions": list(owned), "prefix": name, "last_seq": int(store.last_seq())}
                for owned, name, store in zip(self.owned, self.names, self.stores)]

    def health(self) -> dict[str, object]:
        """Each instance's own ``last_seq``: the instances share no seq space."""
        return {"instances": self.instance_seqs()}

    # -- writer side: not here --------------------------------------------------------------
    def apply(self, events) -> None:
        raise RingexError("RoutedMarketData is read-only: each instance's market-data "
                          "publisher writes its own prefix")

    def put_book(self, pair_id, seq, bids, asks) -> bool:
        raise RingexError("RoutedMarketData is read-only: each instance's market-data "
                          "publisher writes its own prefix")

    def close(self) -> None:
        for store in self.stores:
            store.close()
