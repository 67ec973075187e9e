"""Real gunicorn on loopback in front of a real embedded exchange (``ringex serve``).

A 202 means the journal has the order: the test reads it back from the journal file. The
order then reaches the matcher and market data: trades, the book and order states follow.
"""

import pytest

from ringex.runtime.journal import journal_path, read_journal
from tests.support.exchange import wait_for

pytestmark = pytest.mark.timeout(400)


def _auth(exchange):
    return {"X-API-Key": exchange.api_key, "Content-Type": "application/json"}


def test_demo_key_orders_trades_book_and_owner(embedded_exchange):
    exchange = embedded_exchange
    headers = _auth(exchange)
    status, _, health = exchange.request("GET", "/health")
    assert status == 200 and health["sequencer"]["journal_alive"] is True
    assert "demo API key" in exchange.log()

    status, _, sell = exchange.request("POST", "/order", {
        "pair": "SOL-USDT", "side": "sell", "type": "limit", "price": "150.000",
        "amount": "2.00"}, headers)
    assert status == 202, sell
    status, _, buy = exchange.request("POST", "/orders", {
        "pair": "SOL-USDT", "side": "BUY", "order_type": "LIMIT", "price": "150.000",
        "quantity": "0.50", "client_order_id": "e2e-1"}, headers)
    assert status == 202, buy

    # durable: both are in the journal when the 202 came back
    settings_var = str(exchange.var_dir)
    from ringex.config import load_settings

    settings = load_settings(environ={}, flags={"runtime": {"var_dir": settings_var}})
    _, journal = read_journal(journal_path(settings))
    journal_ids = set(journal["order_id"].tolist())
    assert {sell["order_id"], buy["order_id"]} <= journal_ids

    def filled():
        code, _, order = exchange.request("GET", f"/orders/{buy['order_id']}", headers=headers)
        return order if code == 200 and order["status"] == "FILLED" else None

    order = wait_for(filled, timeout=90)
    assert order["filled_quantity"] == "0.50" and order["price"] == "150.000"
    code, _, trades = exchange.request("GET", "/trades/SOL-USDT?limit=5")
    assert code == 200 and trades["trades"][0]["quantity"] == "0.50"

    def book_shows_rest():
        code, _, book = exchange.request("GET", "/book/SOL%2FUSDT?depth=5")
        return book if code == 200 and book["asks"] == [["150.000", "1.50", 1]] else None

    wait_for(book_shows_rest, timeout=90)

    # a key that is not the demo key is refused; reads of market data are public
    status, _, problem = exchange.request("POST", "/orders", {"pair": "SOL-USDT"},
                                          {"X-API-Key": "wrong"})
    assert status == 401 and problem["field"] == "X-API-Key"

    # cancel the resting sell; it is gone from the book
    status, _, _ = exchange.request("DELETE", f"/orders/{sell['order_id']}", headers=headers)
    assert status == 202

    def canceled():
        code, _, state = exchange.request("GET", f"/orders/{sell['order_id']}", headers=headers)
        return code == 200 and state["status"] == "CANCELED"

    wait_for(canceled, timeout=90)
    status, _, listing = exchange.request("GET", "/orders?pair=SOL-USDT", headers=headers)
    assert status == 200
    assert [o["order_id"] for o in listing["orders"]][:2] == [buy["order_id"], sell["order_id"]]

    status, _, metrics = exchange.request("GET", "/metrics")
    assert status == 200 and "ringex_gateway_commands_total" in metrics


def test_batch_and_errors_over_http(embedded_exchange):
    exchange = embedded_exchange
    headers = _auth(exchange)
    orders = [{"pair": "ETH-USDT", "side": "BUY", "order_type": "LIMIT",
               "price": f"{2500 + i}.00", "quantity": "0.1"} for i in range(100)]
    status, _, batch = exchange.request("POST", "/orders/batch", {"orders": orders}, headers)
    assert status == 200 and batch["accepted"] == 100, batch
    ids = [item["order"]["order_id"] for item in batch["results"]]
    assert ids == list(range(ids[0], ids[0] + 100))  # one claim: consecutive sequences
    status, response_headers, problem = exchange.request(
        "POST", "/orders", b'{"pair":"ETH-USDT","side":"BUY","order_type":"LIMIT",'
                           b'"price":"2500.001","quantity":"0.1"}', headers)
    assert status == 400 and problem["field"] == "price"
    assert response_headers["content-type"] == "application/problem+json"
    status, _, problem = exchange.request("POST", "/orders", b"x" * (2 << 20), headers)
    assert status == 413
