"""The OpenAPI 3.0 document served at ``GET /openapi.json``, written by hand.

It describes exactly what the resources do, every status code included; a schemathesis test
(``tests/gateway/test_schemathesis.py``) drives the running app from it and fails on any
response the document does not allow, and a unit test checks that every route of
``gateway.app.ROUTES`` is documented.
"""

from __future__ import annotations

from ringex.marketdata.interface import INTERVAL_NAMES

__all__ = ["openapi_document"]

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_DECIMAL_IN = {"oneOf": [{"type": "string", "maxLength": 64}, {"type": "number"}],
               "description": "a decimal string (preferred) or a JSON number, exact; a "
                              "multiple of the pair's tick (price) or lot (quantity)"}
_DECIMAL = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}
_NAMES = {
    "side": ["BUY", "SELL"],
    "order_type": ["LIMIT", "MARKET"],
    "time_in_force": ["GTC", "IOC", "FOK"],
    "stp": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"],
}


def _problem(description: str, headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/problem+json": {"schema": _PROBLEM}}}
    if headers:
        response["headers"] = headers
    return response


_RETRY = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
_COMMON = {
    "404": _problem("unknown route or resource"),
    "405": _problem("method not allowed"),
    "429": _problem("rate limit reached", _RETRY),
    "500": _problem("internal error (never expected; no details are exposed)"),
}
_WRITE = {
    "400": _problem("invalid input; `field` names it"),
    "401": _problem("missing or unknown API key"),
    "413": _problem("body larger than gateway.max_body_bytes"),
    "503": _problem("sequencer down, full or too slow; retry with the same client_order_id",
                    _RETRY),
}


def _json(schema: dict, description: str = "OK", headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _int_param(name: str, lo: int, hi: int, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "integer", "minimum": lo, "maximum": hi}}


def _pair_param() -> dict:
    return {"name": "pair", "in": "path", "required": True,
            "description": "BTC-USDT (BTC%2FUSDT is accepted too)",
            "schema": {"type": "string", "example": "BTC-USDT"}}


def _order_id_param() -> dict:
    return {"name": "order_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _schemas(max_batch: int) -> dict:
    nullable_int = {"type": "integer", "nullable": True}
    level = {"type": "array", "minItems": 3, "maxItems": 3,
             "items": {"oneOf": [_DECIMAL, {"type": "integer"}]},
             "description": "[price, quantity, order count]"}
    return {
        "Problem": {
            "type": "object", "required": ["type", "title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "integer"}, "detail": {"type": "string"},
                           "field": {"type": "string",
                                     "description": "the offending input field"},
                           "retry": {"type": "string"}},
        },
        "EnvelopeOrder": {
            "type": "object", "additionalProperties": False,
            "required": ["pair", "side", "type", "amount"],
            "description": "the original design's order (LIMIT needs price)",
            "properties": {"pair": {"type": "string"},
                           "side": {"type": "string", "description": "BUY/SELL, any case"},
                           "type": {"type": "string", "description": "LIMIT/MARKET, any case"},
                           "price": _DECIMAL_IN, "amount": _DECIMAL_IN,
                           "id": {"oneOf": [{"type": "string"}, {"type": "integer"}],
                                  "description": "the client's order id"}},
        },
        "NewOrder": {
            "type": "object", "additionalProperties": False,
            "required": ["pair", "side", "order_type", "quantity"],
            "properties": {
                "type": {"type": "string", "enum": ["new"]},
                "version": {"type": "integer", "enum": [1]},
                "pair": {"type": "string"},
                "side": {"type": "string", "description": "/".join(_NAMES["side"])},
                "order_type": {"type": "string", "description": "/".join(_NAMES["order_type"])},
                "price": _DECIMAL_IN, "quantity": _DECIMAL_IN,
                "time_in_force": {"type": "string",
                                  "description": "GTC (LIMIT default) / IOC (MARKET default) / FOK"},
                "post_only": {"type": "boolean"},
                "client_order_id": {"oneOf": [{"type": "string", "maxLength": 64},
                                              {"type": "integer"}]},
                "stp": {"type": "string", "description": "/".join(_NAMES["stp"])},
                "account": {"type": "integer", "description": "only the API key's own"},
            },
        },
        "Batch": {
            "type": "object", "additionalProperties": False, "required": ["orders"],
            "properties": {"orders": {"type": "array", "minItems": 1, "maxItems": max_batch,
                                      "items": _ref("NewOrder")}},
        },
        "Amend": {
            "type": "object", "additionalProperties": False, "required": ["price", "quantity"],
            "properties": {"price": _DECIMAL_IN,
                           "quantity": {**_DECIMAL_IN,
                                        "description": "the new total quantity, filled included"}},
        },
        "Receipt": {
            "type": "object", "required": ["order_id", "pair", "status"],
            "properties": {"order_id": {"type": "integer"}, "pair": {"type": "string"},
                           "client_order_id": nullable_int,
                           "status": {"type": "string", "enum": ["RECEIVED"]}},
        },
        "BatchResult": {
            "type": "object", "required": ["results", "accepted", "rejected"],
            "properties": {
                "accepted": {"type": "integer"}, "rejected": {"type": "integer"},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["status"],
                    "properties": {"status": {"type": "integer", "enum": [202, 400]},
                                   "order": _ref("Receipt"), "error": _PROBLEM}}},
            },
        },
        "Order": {
            "type": "object", "required": ["order_id", "pair", "status"],
            "properties": {
                "order_id": {"type": "integer"}, "pair": {"type": "string"},
                "client_order_id": nullable_int,
                "side": {"type": "string"}, "type": {"type": "string"},
                "time_in_force": {"type": "string"},
                "status": {"type": "string", "enum": ["RECEIVED", "NEW", "PARTIALLY_FILLED",
                                                      "FILLED", "CANCELED", "REJECTED"]},
                "reason": {"type": "string"},
                "price": {**_DECIMAL, "nullable": True},
                "quantity": _DECIMAL, "filled_quantity": _DECIMAL, "leaves_quantity": _DECIMAL,
                "seq": {"type": "integer"}, "timestamp_ns": {"type": "integer"},
            },
        },
        "OrderList": {"type": "object", "required": ["orders"],
                      "properties": {"orders": {"type": "array", "items": _ref("Order")}}},
        "CommandReceipt": {
            "type": "object", "required": ["receipt"],
            "properties": {"order_id": {"type": "integer"}, "receipt": {"type": "integer"},
                           "cancel": {"type": "string"}, "amend": {"type": "string"},
                           "cancel_all": {"type": "string"},
                           "pair": {"type": "string", "nullable": True}},
        },
        "Book": {
            "type": "object", "required": ["pair", "seq", "bids", "asks"],
            "properties": {"pair": {"type": "string"}, "seq": {"type": "integer"},
                           "bids": {"type": "array", "items": level},
                           "asks": {"type": "array", "items": level}},
        },
        "Candles": {
            "type": "object", "required": ["pair", "interval", "candles"],
            "properties": {
                "pair": {"type": "string"}, "interval": {"type": "string"},
                "candles": {"type": "array", "items": {
                    "type": "object",
                    "required": ["start", "open", "high", "low", "close", "volume", "trades"],
                    "properties": {"start": {"type": "integer", "description": "ms"},
                                   "open": _DECIMAL, "high": _DECIMAL, "low": _DECIMAL,
                                   "close": _DECIMAL, "volume": _DECIMAL,
                                   "trades": {"type": "integer"}}}},
            },
        },
        "Trades": {
            "type": "object", "required": ["pair", "trades"],
            "properties": {
                "pair": {"type": "string"},
                "trades": {"type": "array", "items": {
                    "type": "object",
                    "required": ["seq", "timestamp_ns", "price", "quantity", "taker_side"],
                    "properties": {"seq": {"type": "integer"},
                                   "timestamp_ns": {"type": "integer"},
                                   "price": _DECIMAL, "quantity": _DECIMAL,
                                   "taker_side": {"type": "string"},
                                   "taker_order_id": {"type": "integer"},
                                   "maker_order_id": {"type": "integer"}}}},
            },
        },
        "Pairs": {
            "type": "object", "required": ["pairs"],
            "properties": {"pairs": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "name", "tick_size", "lot_size", "min_qty", "max_qty",
                             "price_band", "status"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                               "base": {"type": "string"}, "quote": {"type": "string"},
                               "tick_size": _DECIMAL, "lot_size": _DECIMAL,
                               "min_qty": _DECIMAL, "max_qty": _DECIMAL,
                               "price_band": {"type": "array", "items": _DECIMAL,
                                              "minItems": 2, "maxItems": 2},
                               "status": {"type": "string"}}}}},
        },
        "Health": {
            "type": "object", "required": ["status", "mode", "sequencer", "market_data"],
            "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]},
                           "mode": {"type": "string"}, "pid": {"type": "integer"},
                           "sequencer": {"type": "object"}, "market_data": {"type": "object"}},
        },
    }


def openapi_document(dependencies) -> dict:
    settings = dependencies.settings
    secured = [{"ApiKey": []}]
    write = {**_COMMON, **_WRITE}
    read_own = {**_COMMON, "400": _problem("invalid parameter"),
                "401": _problem("missing or unknown API key"),
                "503": _problem("market data unavailable", _RETRY)}
    public = {**_COMMON, "400": _problem("invalid parameter"),
              "503": _problem("market data unavailable", _RETRY)}
    owned = {**write, "404": _problem("no such order for this account (another account's "
                                      "order is never revealed)"),
             "409": _problem("the order is closed (filled, canceled or rejected)")}
    market = {"parameters": [_pair_param()]}
    paths = {
        "/order": {"post": {
            "summary": "Place an order (the original design's payload)",
            "security": secured, "requestBody": _body(_ref("EnvelopeOrder")),
            "responses": {"202": _json(_ref("Receipt"), "durable in the sequencer"), **write}}},
        "/orders": {
            "post": {"summary": "Place an order", "security": secured,
                     "requestBody": _body(_ref("NewOrder")),
                     "responses": {"202": _json(_ref("Receipt"), "durable in the sequencer"),
                                   **write}},
            "get": {"summary": "The account's orders placed through the gateway, newest first",
                    "security": secured,
                    "parameters": [
                        {"name": "pair", "in": "query", "required": False,
                         "schema": {"type": "string"}},
                        {"name": "status", "in": "query", "required": False,
                         "schema": {"type": "string",
                                    "enum": ["open", "closed", "new", "partially_filled",
                                             "filled", "canceled", "rejected"]}},
                        _int_param("limit", 1, 1000, "default 100")],
                    "responses": {"200": _json(_ref("OrderList")), **read_own}},
            "delete": {"summary": "Cancel every open order of the account (on one pair)",
                       "security": secured,
                       "parameters": [{"name": "pair", "in": "query", "required": False,
                                       "schema": {"type": "string"}}],
                       "responses": {"202": _json(_ref("CommandReceipt")), **write}},
        },
        "/orders/batch": {"post": {
            "summary": f"Place up to {settings.max_batch_orders} orders; each answered on its own",
            "security": secured, "requestBody": _body(_ref("Batch")),
            "responses": {"200": _json(_ref("BatchResult")), **write}}},
        "/orders/{order_id}": {
            "parameters": [_order_id_param()],
            "get": {"summary": "One order of the account", "security": secured,
                    "responses": {"200": _json(_ref("Order")), **read_own,
                                  "404": owned["404"]}},
            "delete": {"summary": "Cancel", "security": secured,
                       "responses": {"202": _json(_ref("CommandReceipt")), **owned}},
            "patch": {"summary": "Amend: new price and total quantity (a smaller quantity at "
                                 "the same price keeps priority)",
                      "security": secured, "requestBody": _body(_ref("Amend")),
                      "responses": {"202": _json(_ref("CommandReceipt")), **owned}},
        },
        "/book/{pair}": {**market, "get": {
            "summary": "L2 snapshot", "parameters": [_int_param("depth", 1, 50, "default 10")],
            "responses": {"200": _json(_ref("Book")), **public}}},
        "/candles/{pair}": {**market, "get": {
            "summary": "OHLCV candles, ascending",
            "parameters": [
                {"name": "interval", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": list(INTERVAL_NAMES)}},
                _int_param("start", 0, 2**63 // 1_000_000, "ms, inclusive"),
                _int_param("end", 0, 2**63 // 1_000_000, "ms, inclusive"),
                _int_param("limit", 1, 1000, "default 500")],
            "responses": {"200": _json(_ref("Candles")), **public}}},
        "/trades/{pair}": {**market, "get": {
            "summary": "Recent trades, newest first",
            "parameters": [_int_param("limit", 1, 1000, "default 100")],
            "responses": {"200": _json(_ref("Trades")), **public}}},
        "/pairs": {"get": {"summary": "Pairs with tick, lot, limits and status",
                           "responses": {"200": _json(_ref("Pairs")), **_COMMON}}},
        "/health": {"get": {"summary": "Sequencer and market data reachable",
                            "responses": {"200": _json(_ref("Health")),
                                          "503": _json(_ref("Health"), "not ready"),
                                          **{k: v for k, v in _COMMON.items()
                                             if k not in ("429",)}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "text exposition format",
                                                   "content": {"text/plain": {
                                                       "schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": _json({"type": "object"})}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "ringex gateway", "version": "1",
                 "description": "Orders in, market data out. docs/api.md has the prose."},
        "paths": paths,
        "components": {
            "schemas": _schemas(settings.max_batch_orders),
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header",
                                           "name": "X-API-Key"}},
        },
    }
