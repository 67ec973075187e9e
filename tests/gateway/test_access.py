"""Accounts, owners, limits and backpressure: 401, 404 for another account's order (which
stays untouched), 429 with Retry-After, 413, 503 when the sequencer times out."""

import pytest
from falcon import testing

from gateway.app import create_app
from tests.gateway.conftest import ALICE_HEADERS, BOB, BOB_HEADERS, make_dependencies

pytestmark = pytest.mark.timeout(60)

ORDER = {"pair": "BTC-USDT", "side": "BUY", "order_type": "LIMIT", "price": "65000.00",
         "quantity": "0.5"}


def test_writes_and_own_reads_need_a_valid_key(client, engine_sink):
    for headers in ({}, {"X-API-Key": "nope"}, {"Authorization": "Bearer nope"}):
        for result in (client.simulate_post("/orders", json=ORDER, headers=headers),
                       client.simulate_post("/order", json=ORDER, headers=headers),
                       client.simulate_post("/orders/batch", json={"orders": [ORDER]},
                                            headers=headers),
                       client.simulate_delete("/orders", headers=headers),
                       client.simulate_delete("/orders/1", headers=headers),
                       client.simulate_patch("/orders/1", json={}, headers=headers),
                       client.simulate_get("/orders/1", headers=headers),
                       client.simulate_get("/orders", headers=headers)):
            assert result.status_code == 401, result.text
            assert result.json["field"] == "X-API-Key"
    assert engine_sink.submitted == []
    assert client.simulate_post("/orders", json=ORDER,
                                headers={"Authorization": "Bearer alice-key"}).status_code == 202
    assert client.simulate_get("/book/BTC-USDT").status_code == 200  # public


def test_another_accounts_order_is_404_and_untouched(client, engine_sink):
    order_id = client.simulate_post("/orders", json=ORDER, headers=ALICE_HEADERS).json["order_id"]
    before = engine_sink.engine.order(order_id)
    hash_before = engine_sink.engine.state_hash()
    submitted = len(engine_sink.submitted)
    for result in (client.simulate_get(f"/orders/{order_id}", headers=BOB_HEADERS),
                   client.simulate_delete(f"/orders/{order_id}", headers=BOB_HEADERS),
                   client.simulate_patch(f"/orders/{order_id}", headers=BOB_HEADERS,
                                         json={"price": "65000.00", "quantity": "0.1"})):
        assert result.status_code == 404, result.text
        assert result.json["field"] == "order_id"
    # the same answer as for an order that does not exist at all
    missing = client.simulate_get("/orders/999999", headers=BOB_HEADERS)
    assert missing.status_code == 404 and missing.json["detail"].startswith("no order 999999")
    assert len(engine_sink.submitted) == submitted  # nothing was sent
    assert engine_sink.engine.order(order_id) == before
    assert engine_sink.engine.state_hash() == hash_before
    assert client.simulate_get("/orders", headers=BOB_HEADERS).json["orders"] == []
    # Bob's cancel-all does not reach Alice's order
    assert client.simulate_delete("/orders", headers=BOB_HEADERS).status_code == 202
    assert client.simulate_get(f"/orders/{order_id}", headers=ALICE_HEADERS).json["status"] \
        == "NEW"


def test_owner_can_cancel_before_market_data_has_the_order(engine_sink, registry):
    app = create_app(make_dependencies(engine_sink, registry))
    client = testing.TestClient(app)
    engine_sink.store_apply = engine_sink.store.apply
    lagging = []
    engine_sink.store.apply = lagging.append  # market data lags behind the sequencer
    try:
        order_id = client.simulate_post("/orders", json=ORDER,
                                        headers=ALICE_HEADERS).json["order_id"]
        pending = client.simulate_get(f"/orders/{order_id}", headers=ALICE_HEADERS)
        assert pending.status_code == 200 and pending.json["status"] == "RECEIVED"
        assert client.simulate_get(f"/orders/{order_id}", headers=BOB_HEADERS).status_code == 404
        assert client.simulate_delete(f"/orders/{order_id}",
                                      headers=ALICE_HEADERS).status_code == 202
    finally:
        del engine_sink.store.apply
    assert engine_sink.engine.order(order_id) is None  # the matcher canceled it


def test_rate_limit_answers_429_with_retry_after(engine_sink, registry):
    now = [1000.0]
    app = create_app(make_dependencies(engine_sink, registry, rate=2, burst=3,
                                       clock=lambda: now[0]))
    client = testing.TestClient(app)
    codes = [client.simulate_post("/orders", json=ORDER, headers=ALICE_HEADERS).status_code
             for _ in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    limited = client.simulate_post("/orders", json=ORDER, headers=ALICE_HEADERS)
    assert limited.headers["retry-after"] == "1"
    assert limited.headers["content-type"] == "application/problem+json"
    # another key has its own bucket; health is never throttled
    assert client.simulate_post("/orders", json=ORDER, headers=BOB_HEADERS).status_code == 202
    assert client.simulate_get("/health").status_code == 200
    now[0] += 0.5  # one token back
    assert client.simulate_post("/orders", json=ORDER, headers=ALICE_HEADERS).status_code == 202
    assert client.simulate_post("/orders", json=ORDER, headers=ALICE_HEADERS).status_code == 429


def test_body_over_the_limit_is_413(engine_sink, registry):
    client = testing.TestClient(create_app(make_dependencies(engine_sink, registry,
                                                             max_body_bytes=200)))
    padded = {**ORDER, "client_order_id": "x" * 60}
    assert client.simulate_post("/orders", json=padded, headers=ALICE_HEADERS).status_code == 202
    big = b'{"orders":[' + b",".join([b'{"pair":"BTC-USDT"}'] * 20) + b"]}"
    result = client.simulate_post("/orders/batch", body=big, headers=ALICE_HEADERS)
    assert result.status_code == 413 and result.json["field"] == "body"
    # a chunked body (no Content-Length) is cut off too
    result = client.simulate_request("POST", "/orders", headers={**ALICE_HEADERS},
                                     body=big, extras={"CONTENT_LENGTH": "",
                                                             "wsgi.input_terminated": True})
    assert result.status_code == 413


def test_sequencer_timeout_is_503_and_the_retry_is_safe(client, engine_sink):
    engine_sink.failure = "not durable within 5s"
    body = {**ORDER, "client_order_id": "retry-me"}
    result = client.simulate_post("/orders", json=body, headers=ALICE_HEADERS)
    assert result.status_code == 503, result.text
    assert result.headers["retry-after"] == "1"
    assert result.json["field"] == "sequencer"
    engine_sink.failure = None
    first = client.simulate_post("/orders", json=body, headers=ALICE_HEADERS)
    assert first.status_code == 202
    # a second retry of the same client_order_id reaches the matcher, which refuses it
    second = client.simulate_post("/orders", json=body, headers=ALICE_HEADERS).json["order_id"]
    state = client.simulate_get(f"/orders/{second}", headers=ALICE_HEADERS).json
    assert state["status"] == "REJECTED" and state["reason"] == "DUPLICATE_CLIENT_ORDER_ID"
    assert engine_sink.engine.live_orders == 1


def test_unexpected_store_failure_is_503_not_500(client, engine_sink):
    def broken(*args, **kwargs):
        raise ConnectionError("redis went away")

    engine_sink.store.order = broken
    engine_sink.store.book = broken
    try:
        assert client.simulate_get("/orders/1", headers=ALICE_HEADERS).status_code == 503
        result = client.simulate_get("/book/BTC-USDT")
        assert result.status_code == 503 and result.json["field"] == "market_data"
    finally:
        del engine_sink.store.order
        del engine_sink.store.book
    assert BOB == 22
