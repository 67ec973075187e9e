"""`ringex serve` in embedded mode, as a user runs it: a real process tree, no Kafka, no Redis.

Orders in the Go design's JSON go through `ringex submit`'s client into the journal and the
engine; market data comes back from the shared-memory store. Everything is compared with the
reference matcher and the plain-Python OHLCV fold, then SIGTERM must stop the tree cleanly
and leave no segment behind.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ringex.config import load_settings
from ringex.marketdata.interface import interval_ms
from ringex.marketdata.shm_store import SharedMemoryMarketData
from ringex.records import EventKind
from ringex.ring.segment import list_segments
from ringex.runtime.submit import InboundClient
from ringex.runtime.topology import read_ring_names
from ringex.spec.matcher import ReferenceMatcher
from ringex.spec.ohlcv import fold_candles
from ringex.wire.json_commands import decode_command


def _clean_env(tmp_path, prefix):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
    env.update(RINGEX_RUNTIME_SEGMENT_PREFIX=prefix, RINGEX_RUNTIME_METRICS_PORT="0",
               RINGEX_RUNTIME_VAR_DIR=str(tmp_path), RINGEX_GATEWAY_ENABLED="false")
    return env


def _seed_orders(n):
    rng = np.random.default_rng(11)
    orders = []
    for i in range(n):
        side = "BUY" if rng.random() < 0.5 else "sell"
        offset = int(rng.integers(-3, 12))
        price = 65000 + (-offset if side == "BUY" else offset)
        kind = "MARKET" if i % 17 == 16 else "LIMIT"
        order = {"id": f"c-{i}", "pair": "BTC/USDT" if i % 2 else "BTC-USDT", "side": side,
                 "type": kind, "amount": f"0.{int(rng.integers(1, 99)):02d}000"}
        if kind == "LIMIT":
            order["price"] = f"{price}.50"
        orders.append({"action": "new", "order": order})
    return orders


@pytest.mark.timeout(240)
def test_serve_embedded_end_to_end(tmp_path):
    prefix = f"rgxserve{os.getpid()}"
    env = _clean_env(tmp_path, prefix)
    server = subprocess.Popen([sys.executable, "-m", "ringex.cli", "serve"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "run" / "rings.json").exists():
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.1)
        settings = load_settings(environ={}, flags={"runtime": {"var_dir": str(tmp_path)}})
        registry = settings.registry()
        names = read_ring_names(tmp_path)
        client = InboundClient(str(tmp_path), timeout=60)
        payloads = [json.dumps(o).encode() for o in _seed_orders(400)]
        commands = np.concatenate([
            decode_command(p, registry, order_id=1, timestamp_ns=1_700_000_000_000_000_000 + i
                           * 250_000_000, default_account=1 + i % 3)
            for i, p in enumerate(payloads)])
        sequences = client.submit(commands)
        client.close()
        commands["order_id"] = sequences + 1
        commands["source_partition"] = -1
        commands["source_offset"] = sequences

        reference = ReferenceMatcher(registry.pairs)
        expected = reference.process(commands)
        trades = expected[expected["kind"] == EventKind.TRADE]
        assert len(trades) > 20

        store = SharedMemoryMarketData.attach(names.marketdata, registry)
        deadline = time.monotonic() + 60
        while store.last_seq() < int(expected["seq"][-1]):
            assert time.monotonic() < deadline, f"market data stuck at {store.last_seq()}"
            time.sleep(0.05)
        for interval in ("1s", "1m"):
            folded = fold_candles(trades, interval_ms(interval))
            got = {(c.pair_id, c.start_ms): c for c in store.candles("BTC-USDT", interval,
                                                                      limit=10_000)}
            assert got == {k: v for k, v in folded.items() if k[0] == 0}
        newest = store.trades("BTC-USDT", limit=5)
        assert [t.seq for t in newest] == sorted(trades["seq"][-5:].tolist(), reverse=True)
        last_trade = trades[-1]
        taker = store.order(int(last_trade["order_id"]))
        assert taker is not None and taker.filled_qty == int(last_trade["filled_qty"])
        deadline = time.monotonic() + 10
        bids, asks = reference.depth(0, 10)
        while True:
            book = store.book("BTC-USDT", depth=10)
            if book is not None and book.seq == int(expected["seq"][-1]):
                break
            assert time.monotonic() < deadline, f"book snapshot stuck at {book}"
            time.sleep(0.05)
        assert [tuple(level) for level in book.bids] == bids
        assert [tuple(level) for level in book.asks] == asks
        store.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output
    assert not list_segments(prefix), output
