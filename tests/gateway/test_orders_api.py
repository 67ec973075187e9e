"""Placing, reading, listing, canceling and amending orders through the app (TestClient)."""

import json

import pytest

from tests.gateway.conftest import ALICE, ALICE_HEADERS, BOB, BOB_HEADERS

pytestmark = pytest.mark.timeout(60)


def _place(client, **fields):
    body = {"pair": "BTC-USDT", "side": "BUY", "order_type": "LIMIT", "price": "65000.00",
            "quantity": "0.5", **fields}
    result = client.simulate_post("/orders", json=body, headers=ALICE_HEADERS)
    assert result.status_code == 202, result.text
    return result.json


def test_post_order_original_payload_is_durable_and_carries_the_id(client, engine_sink):
    result = client.simulate_post("/order", headers=ALICE_HEADERS, json={
        "pair": "BTC-USDT", "side": "buy", "type": "limit", "price": "65000.01",
        "amount": "0.25"})
    assert result.status_code == 202, result.text
    assert result.json["order_id"] == 1 and result.json["pair"] == "BTC-USDT"
    record = engine_sink.submitted[0][0]
    assert int(record["account"]) == ALICE
    assert int(record["price"]) == 6500001 and int(record["quantity"]) == 25000
    order = client.simulate_get("/orders/1", headers=ALICE_HEADERS).json
    assert order["status"] == "NEW" and order["price"] == "65000.01"
    assert order["quantity"] == "0.25000" and order["leaves_quantity"] == "0.25000"


def test_market_order_original_payload(client, engine_sink):
    _place(client, side="SELL", price="65000.00", quantity="1")
    result = client.simulate_post("/order", headers=ALICE_HEADERS, json={
        "pair": "btc/usdt", "side": "BUY", "type": "MARKET", "amount": 0.4})
    assert result.status_code == 202, result.text
    assert client.simulate_get("/orders/2", headers=ALICE_HEADERS).json["status"] == "FILLED"


def test_native_order_with_every_option(client, engine_sink):
    answer = _place(client, time_in_force="GTC", post_only=True, client_order_id="abc-1",
                    stp="expire_taker")
    record = engine_sink.submitted[-1][0]
    assert int(record["flags"]) == 1 and int(record["stp"]) == 1
    assert answer["client_order_id"] == int(record["client_order_id"]) != 0
    same = _place(client, type="new", price=65000.5, quantity=0.1)
    assert same["order_id"] == 2


def test_json_numbers_are_exact_never_floats(client, engine_sink):
    result = client.simulate_post("/orders", headers=ALICE_HEADERS, body=(
        b'{"pair":"BTC-USDT","side":"BUY","order_type":"LIMIT","price":65000.07,'
        b'"quantity":0.00003}'))
    assert result.status_code == 202, result.text
    record = engine_sink.submitted[-1][0]
    assert int(record["price"]) == 6500007 and int(record["quantity"]) == 3


def test_batch_answers_each_order_on_its_own(client, engine_sink):
    orders = [{"pair": "BTC-USDT", "side": "SELL", "order_type": "LIMIT",
               "price": f"{65001 + i}.00", "quantity": "0.1"} for i in range(5)]
    orders[2]["price"] = "65000.001"
    orders[4]["colour"] = "red"
    result = client.simulate_post("/orders/batch", json={"orders": orders},
                                  headers=ALICE_HEADERS)
    assert result.status_code == 200, result.text
    body = result.json
    assert body["accepted"] == 3 and body["rejected"] == 2
    statuses = [item["status"] for item in body["results"]]
    assert statuses == [202, 202, 400, 202, 400]
    assert body["results"][2]["error"]["field"] == "orders[2].price"
    assert body["results"][4]["error"]["field"] == "orders[4].colour"
    assert [item["order"]["order_id"] for item in body["results"] if item["status"] == 202] \
        == [1, 2, 3]
    assert len(engine_sink.submitted) == 1  # one durable write for the whole batch


def test_batch_items_are_checked_like_single_orders(client, engine_sink):
    """Another account, another command type, a non-object item and a malformed one are
    refused item by item; the good items keep their order and their indices."""
    good = {"pair": "BTC-USDT", "side": "SELL", "order_type": "LIMIT", "price": "65001.00",
            "quantity": "0.1"}
    body = (b'{"orders":[' + json.dumps(good).encode()
            + b',' + json.dumps({**good, "account": BOB}).encode()
            + b',{"type":"cancel","pair":"BTC-USDT","order_id":5}'
            + b',[1,2]'
            + b',' + json.dumps({**good, "account": ALICE, "client_order_id": "a-9"}).encode()
            + b',{"pair":"BTC-USDT","side":"SELL","pair":"ETH-USDT"}]}')
    result = client.simulate_post("/orders/batch", body=body, headers=ALICE_HEADERS)
    assert result.status_code == 200, result.text
    results = result.json["results"]
    assert [item["status"] for item in results] == [202, 400, 400, 400, 202, 400]
    assert [results[i]["error"]["field"] for i in (1, 2, 3, 5)] == \
        ["orders[1].account", "orders[2].type", "orders[3].body", "orders[5].pair"]
    submitted = engine_sink.submitted[-1]
    assert submitted["account"].tolist() == [ALICE, ALICE]
    assert submitted["client_order_id"].tolist()[0] == 0 and results[4]["order"][
        "client_order_id"] == submitted["client_order_id"].tolist()[1] != 0


def test_batch_limit(client):
    orders = [{"pair": "BTC-USDT", "side": "SELL", "order_type": "LIMIT", "price": "65001.00",
               "quantity": "0.1"}] * 101
    result = client.simulate_post("/orders/batch", json={"orders": orders},
                                  headers=ALICE_HEADERS)
    assert result.status_code == 400 and result.json["field"] == "orders"


def test_cancel_amend_and_list(client, engine_sink):
    first = _place(client)["order_id"]
    second = _place(client, pair="ETH-USDT", price="3000.00", quantity="1")["order_id"]
    amended = client.simulate_patch(f"/orders/{first}", headers=ALICE_HEADERS,
                                    json={"price": "65000.00", "quantity": "0.2"})
    assert amended.status_code == 202, amended.text
    order = client.simulate_get(f"/orders/{first}", headers=ALICE_HEADERS).json
    assert order["quantity"] == "0.20000" and order["status"] == "NEW"
    canceled = client.simulate_delete(f"/orders/{second}", headers=ALICE_HEADERS)
    assert canceled.status_code == 202
    assert client.simulate_get(f"/orders/{second}", headers=ALICE_HEADERS).json["status"] \
        == "CANCELED"
    again = client.simulate_delete(f"/orders/{second}", headers=ALICE_HEADERS)
    assert again.status_code == 409 and again.json["field"] == "order_id"
    listing = client.simulate_get("/orders", headers=ALICE_HEADERS).json["orders"]
    assert [o["order_id"] for o in listing] == [second, first]
    open_btc = client.simulate_get("/orders", params={"pair": "BTC-USDT", "status": "open"},
                                   headers=ALICE_HEADERS).json["orders"]
    assert [o["order_id"] for o in open_btc] == [first]
    canceled_only = client.simulate_get("/orders", params={"status": "canceled"},
                                        headers=ALICE_HEADERS).json["orders"]
    assert [o["order_id"] for o in canceled_only] == [second]


def test_cancel_all_on_one_pair_and_everywhere(client, engine_sink):
    btc = _place(client)["order_id"]
    eth = _place(client, pair="ETH-USDT", price="3000.00", quantity="1")["order_id"]
    result = client.simulate_delete("/orders", params={"pair": "BTC-USDT"},
                                    headers=ALICE_HEADERS)
    assert result.status_code == 202 and result.json["pair"] == "BTC-USDT"
    assert client.simulate_get(f"/orders/{btc}", headers=ALICE_HEADERS).json["status"] \
        == "CANCELED"
    assert client.simulate_get(f"/orders/{eth}", headers=ALICE_HEADERS).json["status"] == "NEW"
    assert client.simulate_delete("/orders", headers=ALICE_HEADERS).status_code == 202
    assert client.simulate_get(f"/orders/{eth}", headers=ALICE_HEADERS).json["status"] \
        == "CANCELED"


def test_market_data_endpoints(client, engine_sink):
    _place(client, side="SELL", price="65010.00", quantity="1")
    _place(client, side="BUY", price="65000.00", quantity="2")
    result = client.simulate_post("/orders", headers=BOB_HEADERS, json={
        "pair": "BTC-USDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.4"})
    assert result.status_code == 202
    for path in ("/book/BTC-USDT", "/book/BTC%2FUSDT", "/book/btc-usdt"):
        book = client.simulate_get(path, params={"depth": 5})
        assert book.status_code == 200, (path, book.text)
        assert book.json["asks"] == [["65010.00", "0.60000", 1]]
        assert book.json["bids"] == [["65000.00", "2.00000", 1]]
    trades = client.simulate_get("/trades/BTC-USDT", params={"limit": 10}).json["trades"]
    assert len(trades) == 1 and trades[0]["price"] == "65010.00"
    assert trades[0]["quantity"] == "0.40000" and trades[0]["taker_side"] == "BUY"
    candles = client.simulate_get("/candles/BTC-USDT", params={"interval": "1m"}).json
    assert candles["candles"][0]["volume"] == "0.40000"
    assert candles["candles"][0]["open"] == "65010.00"
    pairs = client.simulate_get("/pairs").json["pairs"]
    assert pairs[0] == {"id": 0, "name": "BTC-USDT", "base": "BTC", "quote": "USDT",
                        "tick_size": "0.01", "lot_size": "0.00001", "min_qty": "0.00001",
                        "max_qty": "100.00000", "price_band": ["60000.00", "70000.00"],
                        "status": "TRADING"}


def test_pairs_show_the_status_market_data_saw(client, engine_sink):
    from ringex import commands as C
    from ringex.records import PairStatus

    engine_sink.submit(C.pack([C.set_status(1, PairStatus.HALTED),
                               C.set_status(2, PairStatus.POST_ONLY)]))
    statuses = [pair["status"] for pair in client.simulate_get("/pairs").json["pairs"]]
    assert statuses == ["TRADING", "HALTED", "POST_ONLY"]
    result = client.simulate_post("/orders", headers=ALICE_HEADERS, json={
        "pair": "ETH-USDT", "side": "BUY", "order_type": "LIMIT", "price": "3000.00",
        "quantity": "1"})
    assert result.status_code == 202  # durable; the matcher then rejects it: halted
    order = client.simulate_get(f"/orders/{result.json['order_id']}", headers=ALICE_HEADERS)
    assert order.json["status"] == "REJECTED"


def test_health_metrics_openapi(client, engine_sink):
    health = client.simulate_get("/health")
    assert health.status_code == 200 and health.json["status"] == "ok"
    engine_sink.failure = "down"
    assert client.simulate_get("/health").status_code == 503
    engine_sink.failure = None
    _place(client)
    metrics = client.simulate_get("/metrics")
    assert metrics.status_code == 200
    assert 'ringex_gateway_commands_total{kind="new"} 1.0' in metrics.text
    document = client.simulate_get("/openapi.json").json
    assert document["openapi"].startswith("3.")


@pytest.mark.parametrize("method,path", [
    ("GET", "/orders?client_order_id=x"), ("GET", "/orders?pair=BTC-USDT&limt=5"),
    ("DELETE", "/orders?pairs=BTC-USDT"), ("GET", "/book/BTC-USDT?dept=5"),
    ("GET", "/book/BTC/USDT?dept=5"), ("GET", "/candles/BTC-USDT?from=1"),
    ("GET", "/trades/BTC-USDT?count=5"), ("GET", "/orders/1?verbose=1"),
    ("GET", "/pairs?all=1"),
])
def test_an_unknown_query_parameter_is_refused_by_name(client, method, path):
    response = client.simulate_request(method, path, headers=ALICE_HEADERS)
    assert response.status_code == 400, response.text
    problem = response.json
    unknown = path.rpartition("?")[2].split("&")[-1].partition("=")[0]
    assert problem["title"] == "unknown query parameter" and problem["field"] == unknown


def test_documented_query_parameters_still_pass(client):
    for path in ("/orders?pair=BTC-USDT&status=open&limit=5", "/book/BTC-USDT?depth=5",
                 "/candles/BTC-USDT?interval=1m&start=0&end=1&limit=2",
                 "/trades/BTC-USDT?limit=3"):
        assert client.simulate_get(path, headers=ALICE_HEADERS).status_code == 200, path
