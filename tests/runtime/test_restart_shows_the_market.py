"""A clean stop and start of the embedded exchange shows the same market (issue: after a
restart REST showed an empty book, no trades, no candles, no open orders, and 404 for an
order that still rested and traded).

The engine recovers from the snapshot it wrote at SIGTERM; the market data of the new run is
rebuilt by matching the journal again from position 0 (checked against that snapshot), so
every endpoint answers as before the stop, the demo key included."""

from __future__ import annotations

import time

import pytest

from tests.support.exchange import start_exchange, stop_exchange, until

pytestmark = pytest.mark.slow

PAIR = "BTC-USDT"


def _orders(exchange, headers):
    placed = []
    for side, price, amount in [("SELL", "65000.00", "0.5"), ("SELL", "65010.00", "0.3"),
                                ("BUY", "64990.00", "0.4"), ("BUY", "64980.00", "0.2"),
                                ("BUY", "65000.00", "0.2"), ("SELL", "64990.00", "0.1")]:
        status, _, body = exchange.request("POST", "/order", {
            "pair": PAIR, "side": side, "type": "LIMIT", "price": price, "amount": amount},
            headers)
        assert status == 202, body
        placed.append(body["order_id"])
    status, _, body = exchange.request("DELETE", f"/orders/{placed[3]}", None, headers)
    assert status == 202, body
    return placed


def _market(exchange, headers, ids) -> dict:
    """Every read endpoint's answer, by path."""
    paths = [f"/book/{PAIR}", f"/book/{PAIR}?depth=50", f"/candles/{PAIR}?interval=1m",
             f"/candles/{PAIR}?interval=1h", f"/trades/{PAIR}", "/pairs", "/orders",
             "/orders?status=open", "/orders?status=closed",
             *(f"/orders/{order_id}" for order_id in ids)]
    answers = {}
    for path in paths:
        status, _, body = exchange.request("GET", path, None, headers)
        answers[path] = (status, body)
    return answers


def test_rest_after_a_restart_equals_rest_before_it(tmp_path):
    var_dir = tmp_path / "var"
    exchange = start_exchange(var_dir)
    try:
        headers = {"X-API-Key": exchange.api_key}
        ids = _orders(exchange, headers)
        deadline = time.monotonic() + 30
        # settled: the last order's state is final and the book shows the resting ones
        until(lambda: exchange.request("GET", f"/orders/{ids[-1]}", None, headers)[2]
              .get("status") == "FILLED", deadline, "the last order filled")
        until(lambda: len(exchange.request("GET", f"/trades/{PAIR}", None, headers)[2]
                          .get("trades", [])) == 2, deadline, "both trades in market data")
        until(lambda: exchange.request("GET", f"/orders/{ids[3]}", None, headers)[2]
              .get("status") == "CANCELED", deadline, "the cancel in market data")
        # L2 books are conflated (engine.book_interval_ms): the answers must hold still
        before, settled = _market(exchange, headers, ids), 0
        while settled < 3:
            assert time.monotonic() < deadline, "market data did not settle"
            time.sleep(0.3)
            now = _market(exchange, headers, ids)
            settled = settled + 1 if now == before else 0
            before = now
        key = exchange.api_key
    finally:
        assert stop_exchange(exchange) == 0, exchange.log()
    assert before[f"/book/{PAIR}"][1]["bids"] and before[f"/book/{PAIR}"][1]["asks"]

    exchange = start_exchange(var_dir)
    try:
        assert exchange.api_key == key  # the demo key survives the restart
        headers = {"X-API-Key": key}
        deadline = time.monotonic() + 30
        after = {}
        while time.monotonic() < deadline:
            after = _market(exchange, headers, ids)
            if after == before:
                break
            time.sleep(0.2)
        assert {path: answer for path, answer in after.items() if answer != before[path]} == \
            {path: answer for path, answer in before.items() if answer != after.get(path)}
        assert "matched again from the journal" in exchange.log_path.read_text()
        # and the resting orders are still the engine's: one trades, one cancels
        status, _, body = exchange.request("DELETE", f"/orders/{ids[2]}", None, headers)
        assert status == 202, body
        status, _, body = exchange.request("POST", "/order", {
            "pair": PAIR, "side": "BUY", "type": "LIMIT", "price": "65000.00",
            "amount": "0.1"}, headers)
        assert status == 202, body
        until(lambda: exchange.request("GET", f"/orders/{ids[0]}", None, headers)[2]
              .get("filled_quantity") == "0.30000", deadline, "the resting sell trading again")
    finally:
        assert stop_exchange(exchange) == 0, exchange.log()
