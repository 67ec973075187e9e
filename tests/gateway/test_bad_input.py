"""Every rejection of issue 6, field by field: a 400 ``application/problem+json`` naming the
field, nothing sequenced, never a 500."""

import pytest

from tests.gateway.conftest import ALICE_HEADERS

pytestmark = pytest.mark.timeout(60)

GOOD = (b'{"pair":"BTC-USDT","side":"BUY","order_type":"LIMIT","price":"65000.00",'
        b'"quantity":"0.5"}')


def _with(field: str, raw: str) -> bytes:
    """GOOD with ``field`` replaced by the raw JSON text ``raw`` (or removed if raw is None)."""
    import json

    body = json.loads(GOOD)
    text = "{" + ",".join(f'"{k}":{json.dumps(v)}' for k, v in body.items() if k != field)
    if raw is not None:
        text += f',"{field}":{raw}'
    return (text + "}").encode()


CASES = [
    # (body, field, words in the detail)
    (_with("price", '"65000.001"'), "price", "fractional digits"),  # finer than the tick
    (_with("price", '"65000.1234567890123"'), "price", "fractional digits"),  # too many digits
    (_with("quantity", '"0.000001"'), "quantity", "fractional digits"),  # finer than the lot
    (_with("price", '"NaN"'), "price", "not a finite number"),
    (_with("price", '"Infinity"'), "price", "not a finite number"),
    (_with("price", "NaN"), "body", "malformed"),  # not JSON at all
    (_with("quantity", '"-1"'), "quantity", "signs"),
    (_with("quantity", "-1"), "quantity", "signs"),
    (_with("price", '"-65000.00"'), "price", "signs"),
    (_with("quantity", '"0"'), "quantity", "greater than zero"),
    (_with("quantity", "0"), "quantity", "greater than zero"),
    (_with("price", '"0"'), "price", "greater than zero"),
    (_with("quantity", '"1000000000000000000000000"'), "quantity", ""),  # huge
    (_with("price", "1e400"), "price", "exponent"),
    (_with("price", '"59999.99"'), "price", "outside the band"),
    (_with("quantity", '"100.00001"'), "quantity", ""),  # above max_qty
    (_with("price", None), "price", "missing"),
    (_with("quantity", None), "quantity", "missing"),
    (_with("side", None), "side", "missing"),
    (_with("pair", None), "pair", "missing"),
    (_with("order_type", None), "order_type", "missing"),
    (_with("colour", '"red"'), "colour", "unknown field"),
    (_with("side", '"HOLD"'), "side", "not one of"),
    (_with("side", "1"), "side", "Expected `str`"),
    (_with("price", "true"), "price", "decimal string or a JSON number"),
    (_with("price", "[1]"), "price", "decimal string or a JSON number"),
    (_with("post_only", '"yes"'), "post_only", "Expected `bool`"),
    (_with("time_in_force", '"DAY"'), "time_in_force", "not one of"),
    (_with("stp", '"SOMETIMES"'), "stp", "not one of"),
    (_with("pair", '"DOGE-USDT"'), "pair", "unknown pair"),
    (_with("client_order_id", '""'), "client_order_id", "empty"),
    (_with("client_order_id", "-5"), "client_order_id", ""),
    (_with("account", "22"), "account", "API key"),  # someone else's account
    (GOOD[:-1] + b',"price":"65000.01"}', "price", "duplicate key"),
    (GOOD[:-1] + b',"side":"SELL"}', "side", "duplicate key"),
    (GOOD.replace(b"BTC-USDT", b"BTC-USDT\xff"), "body", "UTF-8"),
    (b'{"pair":"BTC-USDT"', "body", "JSON object"),
    (b'{"pair":"BTC-USDT",}', "body", "malformed"),
    (b"[]", "body", "JSON object"),
    (b"", "body", "missing"),
    (_with("order_type", '"MARKET"').replace(b'"price":"65000.00",', b"")
     .replace(b"}", b',"time_in_force":"GTC"}'), "time_in_force", "MARKET"),
    (_with("post_only", "true").replace(b"}", b',"time_in_force":"IOC"}'), "post_only",
     "GTC LIMIT"),
    (_with("type", '"cancel"'), "", ""),  # a cancel is not placed through POST /orders
]


@pytest.mark.parametrize("body, field, words", CASES,
                         ids=[f"{i}-{c[1] or 'type'}" for i, c in enumerate(CASES)])
def test_post_orders_rejects_with_the_field(client, engine_sink, body, field, words):
    result = client.simulate_post("/orders", body=body, headers=ALICE_HEADERS)
    assert result.status_code == 400, result.text
    assert result.headers["content-type"] == "application/problem+json"
    problem = result.json
    assert problem["status"] == 400
    if field:
        assert problem["field"] == field, problem
    assert words in problem.get("detail", ""), problem
    assert engine_sink.submitted == []


SEED_CASES = [
    (b'{"pair":"BTC-USDT","side":"BUY","type":"LIMIT","price":"65000.001","amount":"1"}',
     "price"),
    (b'{"pair":"BTC-USDT","side":"BUY","type":"LIMIT","price":"65000.00"}', "amount"),
    (b'{"pair":"BTC-USDT","side":"BUY","type":"LIMIT","amount":"1"}', "price"),
    (b'{"pair":"BTC-USDT","side":"BUY","type":"STOP","price":"65000.00","amount":"1"}', "type"),
    (b'{"pair":"BTC-USDT","side":"BUY","type":"LIMIT","price":"65000.00","amount":"1",'
     b'"amount":"2"}', "amount"),
    (b'{"pair":"BTC-USDT","side":"BUY","type":"LIMIT","price":"65000.00","amount":"1",'
     b'"quantity":"2"}', "quantity"),
    (b'{"pair":"BTC-USDT","side":"BUY","type":"MARKET","price":"65000.00","amount":"1"}',
     "price"),
    (b'"just a string"', "body"),
]


@pytest.mark.parametrize("body, field", SEED_CASES)
def test_post_order_rejects_with_the_field(client, engine_sink, body, field):
    result = client.simulate_post("/order", body=body, headers=ALICE_HEADERS)
    assert result.status_code == 400, result.text
    assert result.json["field"] == field, result.json
    assert engine_sink.submitted == []


def test_amend_rejections(client, engine_sink):
    placed = client.simulate_post("/orders", body=GOOD, headers=ALICE_HEADERS).json["order_id"]
    for body, field in [
        (b'{"price":"65000.00"}', "quantity"),
        (b'{"quantity":"0.1"}', "price"),
        (b'{"price":"65000.001","quantity":"0.1"}', "price"),
        (b'{"price":"65000.00","quantity":"0.1","side":"SELL"}', "side"),
        (b'{"price":"65000.00","quantity":"0.1","order_id":5}', "order_id"),
        (b'{"price":"65000.00","quantity":"0.1","quantity":"0.2"}', "quantity"),
    ]:
        result = client.simulate_patch(f"/orders/{placed}", body=body, headers=ALICE_HEADERS)
        assert result.status_code == 400, (body, result.text)
        assert result.json["field"] == field, (body, result.json)
    assert len(engine_sink.submitted) == 1


def test_batch_body_rejections(client):
    for body, field in [(b'{"orders":[]}', "orders"), (b'{"orders":{}}', "orders"),
                        (b'{"order":[]}', "order"), (b"{}", "orders"),
                        (b'{"orders":[],"orders":[]}', "orders"), (b"[1]", "body")]:
        result = client.simulate_post("/orders/batch", body=body, headers=ALICE_HEADERS)
        assert result.status_code == 400, (body, result.text)
        assert result.json["field"] == field, (body, result.json)


@pytest.mark.parametrize("path, params, field", [
    ("/book/BTC-USDT", {"depth": "0"}, "depth"),
    ("/book/BTC-USDT", {"depth": "51"}, "depth"),
    ("/book/BTC-USDT", {"depth": "ten"}, "depth"),
    ("/candles/BTC-USDT", {"interval": "7m"}, "interval"),
    ("/candles/BTC-USDT", {"start": "-1"}, "start"),
    ("/candles/BTC-USDT", {"start": "10", "end": "5"}, "start"),
    ("/candles/BTC-USDT", {"limit": "100000"}, "limit"),
    ("/trades/BTC-USDT", {"limit": "1.5"}, "limit"),
])
def test_query_rejections(client, path, params, field):
    result = client.simulate_get(path, params=params)
    assert result.status_code == 400 and result.json["field"] == field, result.text


def test_unknown_pair_and_order_ids(client):
    for path in ("/book/DOGE-USDT", "/candles/BTC-EUR", "/trades/x"):
        result = client.simulate_get(path)
        assert result.status_code == 404 and result.json["field"] == "pair", result.text
    for raw in ("abc", "0", "01", "9" * 25, "-3"):
        result = client.simulate_get(f"/orders/{raw}", headers=ALICE_HEADERS)
        assert result.status_code == 400 and result.json["field"] == "order_id", result.text


def test_every_error_is_problem_json(client):
    for result in (client.simulate_get("/nowhere"), client.simulate_put("/orders"),
                   client.simulate_post("/pairs")):
        assert result.headers["content-type"] == "application/problem+json"
        assert result.json["status"] == result.status_code
