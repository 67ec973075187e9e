"""Embedded mode: kill -9 of the engine, of the journal and of the whole tree while orders are
submitted; a corrupt newest snapshot at one restart. Then:

- every acknowledged command is in the journal at the position it was acknowledged with, the
  positions are gap-free across runs, and no order id repeats;
- the final state hash (the last snapshot, written at SIGTERM) equals the reference matcher's
  over the journal: the book is the one an uninterrupted run would have;
- the market data of the last run reached the reference's last seq.
"""

from __future__ import annotations

import os
import random
import time

import numpy as np
import pytest

from ringex.commands import cancel, new, pack
from ringex.config import load_settings
from ringex.marketdata.shm_store import SharedMemoryMarketData
from ringex.records import Side
from ringex.ring.segment import list_segments
from ringex.runtime.journal import journal_path, read_journal
from ringex.runtime.submit import InboundClient
from ringex.runtime.topology import read_ring_names
from ringex.spec.matcher import ReferenceMatcher
from tests.support.recovery_harness import Server, base_env, newest_snapshot_hash


def _batch(rng: random.Random, registry, first: int, n: int):
    btc = registry.get("BTC-USDT")
    rows = []
    for i in range(n):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        price = btc.price_to_ticks("65000") + rng.randint(-4, 8) * (1 if side == Side.SELL else -1)
        rows.append(new(0, 1 + rng.randint(0, 4), side, price, rng.randint(1, 40), pair=0,
                        client_order_id=first + i, ts=1_700_000_000_000_000_000 + first + i))
        if rng.random() < 0.05 and first + i > 1:
            rows.append(cancel(0, 1, client_order_id=rng.randint(1, first + i),
                               ts=1_700_000_000_000_000_000 + first + i))
    return pack(rows)


@pytest.mark.timeout(240)
def test_embedded_journal_and_engine_recover_after_kill_9(tmp_path):
    prefix = f"rgxemb{os.getpid()}"
    env = base_env(tmp_path, prefix)
    env["RINGEX_ENGINE_SNAPSHOT_EVERY_EVENTS"] = "1500"
    settings = load_settings(environ=env)
    registry = settings.registry()
    rng = random.Random(5)
    server = Server(env, tmp_path, tmp_path / "serve.log")
    server.start()
    client = InboundClient(str(tmp_path), timeout=60)
    acknowledged: list[np.ndarray] = []
    plan = ["engine"] * 5 + ["journal"] * 5 + ["tree"] * 3
    rng.shuffle(plan)
    plan.append("corrupt-tree")
    counter = 1
    try:
        for step in plan + [None]:
            for _ in range(rng.randint(3, 8)):
                commands = _batch(rng, registry, counter, 40)
                counter += 40
                positions = client.submit(commands)
                stamped = commands.copy()
                stamped["order_id"][stamped["kind"] == 1] = positions[stamped["kind"] == 1] + 1
                stamped["source_offset"] = positions
                acknowledged.append(stamped)
            if step in ("engine", "journal"):
                server.kill(step)
            elif step is not None:
                client.close()
                server.kill_tree()
                if step == "corrupt-tree":
                    snapshots = tmp_path / "snapshots"
                    deadline = time.monotonic() + 30
                    while len(list(snapshots.glob("snapshot-*.rgxsnap"))) < 2:
                        assert time.monotonic() < deadline, "fewer than 2 snapshots"
                        time.sleep(0.1)
                    newest = sorted((tmp_path / "snapshots").glob("snapshot-*.rgxsnap"))[-1]
                    blob = bytearray(newest.read_bytes())
                    blob[-40] ^= 0xFF
                    newest.write_bytes(bytes(blob))
                server.start()
                client = InboundClient(str(tmp_path), timeout=60)
        client.close()
        first, journaled = read_journal(journal_path(settings))
        assert first == 0
        assert np.array_equal(journaled["source_offset"], np.arange(len(journaled)))
        ids = journaled["order_id"][journaled["kind"] == 1]
        assert len(np.unique(ids)) == len(ids), "an order id repeats across runs"
        for stamped in acknowledged:
            positions = stamped["source_offset"]
            held = journaled[positions]
            for field in ("kind", "order_id", "client_order_id", "price", "quantity"):
                assert np.array_equal(held[field], stamped[field]), field
        reference = ReferenceMatcher(registry.pairs, order_capacity=settings.engine.order_capacity)
        expected = reference.process(journaled)
        store = SharedMemoryMarketData.attach(read_ring_names(tmp_path).marketdata, registry)
        deadline = time.monotonic() + 60
        while store.last_seq() < int(expected["seq"][-1]):
            assert time.monotonic() < deadline, f"market data stuck at {store.last_seq()}"
            time.sleep(0.05)
        store.close()
    finally:
        code = server.stop()
    log = server.tail(500_000)
    assert code == 0, log[-5000:]
    assert not list_segments(prefix)
    assert "unusable" in log and "checksum mismatch" in log  # the corrupt snapshot, reported
    state_hash, meta = newest_snapshot_hash(tmp_path, registry, settings.engine.order_capacity)
    assert meta["last_seq"] == int(expected["seq"][-1])
    assert state_hash == reference.state_hash()
