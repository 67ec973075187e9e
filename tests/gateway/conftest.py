"""Fixtures of the gateway tests.

The unit tests drive the app with falcon's ``TestClient`` over an :class:`EngineSink`: a
sink that feeds a real in-process ``MatchingEngine`` and applies its events to a real
shared-memory market-data store, so owner checks and amend/cancel outcomes are the
matcher's. Only the transport (ring + journal, or Kafka) is replaced; the end-to-end tests
(``test_embedded_gunicorn.py``) use the real one.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from falcon import testing

from ringex.config import GatewaySettings
from ringex.engine import MatchingEngine
from ringex.marketdata.shm_store import SharedMemoryMarketData
from ringex.pairs import default_pairs
from ringex.records import CommandKind

from gateway.app import create_app
from gateway.auth import Accounts
from gateway.dependencies import Dependencies
from gateway.market_reader import SingleStoreReader
from gateway.ratelimit import LocalTokenBuckets
from gateway.sinks import SequencerUnavailable

ALICE_KEY, ALICE = "alice-key", 11
BOB_KEY, BOB = "bob-key", 22
ALICE_HEADERS = {"X-API-Key": ALICE_KEY}
BOB_HEADERS = {"X-API-Key": BOB_KEY}


class EngineSink:
    """Sequences into an in-process matcher; ids are dense from 1 like the embedded sink's."""

    def __init__(self, engine: MatchingEngine, store: SharedMemoryMarketData):
        self.engine = engine
        self.store = store
        self.next_sequence = 0
        self.submitted: list[np.ndarray] = []
        self.failure: str | None = None

    def submit(self, commands: np.ndarray) -> list[int]:
        if self.failure is not None:
            raise SequencerUnavailable(self.failure)
        records = commands.copy()
        sequences = np.arange(self.next_sequence, self.next_sequence + len(records))
        self.next_sequence += len(records)
        is_new = records["kind"] == CommandKind.NEW
        records["order_id"][is_new] = sequences[is_new] + 1
        self.submitted.append(records)
        events = self.engine.process(records)
        self.store.apply(events)
        for pair in self.engine.pairs:
            bids, asks = self.engine.depth(pair.pair_id, 50)
            self.store.put_book(pair.pair_id, int(events["seq"][-1]), bids, asks)
        return (sequences + 1).tolist()

    def health(self) -> dict:
        return {"ok": self.failure is None, "sequencer": "in-process engine"}

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def registry():
    return default_pairs()


@pytest.fixture
def engine_sink(registry):
    engine = MatchingEngine(registry.pairs, order_capacity=4096)
    store = SharedMemoryMarketData.create(registry, prefix=f"rgxgw{os.getpid()}",
                                          order_capacity=4096)
    try:
        yield EngineSink(engine, store)
    finally:
        store.close()


def make_dependencies(sink, registry, *, rate=1000, burst=1000, clock=None,
                      **gateway_overrides) -> Dependencies:
    limiter = (LocalTokenBuckets(rate, burst) if clock is None
               else LocalTokenBuckets(rate, burst, clock=clock))
    return Dependencies(
        order_sink=sink, market_data=SingleStoreReader(sink.store, owns_store=False),
        registry=registry,
        accounts=Accounts({ALICE_KEY: ALICE, BOB_KEY: BOB}), rate_limiter=limiter,
        settings=dataclasses.replace(GatewaySettings(), **gateway_overrides))


@pytest.fixture
def client(engine_sink, registry):
    return testing.TestClient(create_app(make_dependencies(engine_sink, registry)))


@pytest.fixture(scope="session")
def embedded_exchange(tmp_path_factory):
    """One real embedded exchange with the gateway, shared by the end-to-end tests."""
    from tests.support.exchange import start_exchange, stop_exchange

    exchange = start_exchange(
        tmp_path_factory.mktemp("exchange"),
        extra_env={"RINGEX_GATEWAY_RATE_LIMIT_PER_S": "100000",
                   "RINGEX_GATEWAY_RATE_LIMIT_BURST": "100000"})
    try:
        yield exchange
    finally:
        code = stop_exchange(exchange)
        assert code == 0, exchange.log()
