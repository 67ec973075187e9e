"""Public market data: ``GET /book/{pair}``, ``/candles/{pair}``, ``/trades/{pair}``.

Read from the market-data store (shared memory in embedded mode, Redis in distributed
mode), which the market-data publisher keeps up to date; every answer carries the event
``seq`` it reflects where the store has one. No API key needed.
"""

from __future__ import annotations

import falcon

from ringex.errors import ValidationError
from ringex.marketdata.interface import INTERVAL_NAMES
from ringex.wire.units import registry_units

from gateway.http import path_pair, query_int, send_json
from gateway.problems import Problem, bad_request
from gateway.views import book_view, candle_view, trade_view

__all__ = ["BookResource", "CandlesResource", "TradesResource"]

MAX_DEPTH = 50
MAX_CANDLES = 1000
MAX_TRADES = 1000
_MS_MAX = 2**63 // 1_000_000


def _store_call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except ValidationError:
        raise
    except Exception:  # noqa: BLE001 - an unreachable store is a 503, never a 500
        raise Problem(503, "market data unavailable", "try again shortly", field="market_data",
                      headers={"Retry-After": "1"}) from None


class BookResource:
    def __init__(self, dependencies):
        self.market_data = dependencies.market_data
        self.registry = dependencies.registry

    def on_get(self, req: falcon.Request, resp: falcon.Response, **params) -> None:
        pair = path_pair(self.registry, params)
        depth = query_int(req, "depth", 10, 1, MAX_DEPTH)
        book = _store_call(self.market_data.book, pair.pair_id, depth)
        send_json(resp, book_view(book, pair, self.registry))


class CandlesResource:
    def __init__(self, dependencies):
        self.market_data = dependencies.market_data
        self.registry = dependencies.registry

    def on_get(self, req: falcon.Request, resp: falcon.Response, **params) -> None:
        pair = path_pair(self.registry, params)
        interval = req.get_param("interval") or "1m"
        if interval not in INTERVAL_NAMES:
            raise bad_request("interval", f"{interval[:20]!r} is not one of "
                                          f"{', '.join(INTERVAL_NAMES)}")
        start = query_int(req, "start", None, 0, _MS_MAX)
        end = query_int(req, "end", None, 0, _MS_MAX)
        if start is not None and end is not None and start > end:
            raise bad_request("start", "must not be after end")
        limit = query_int(req, "limit", 500, 1, MAX_CANDLES)
        candles = _store_call(self.market_data.candles, pair.pair_id, interval, start, end,
                              limit)
        units = registry_units(self.registry).by_id[pair.pair_id]
        send_json(resp, {"pair": pair.name, "interval": interval,
                         "candles": [candle_view(c, units) for c in candles]})


class TradesResource:
    def __init__(self, dependencies):
        self.market_data = dependencies.market_data
        self.registry = dependencies.registry

    def on_get(self, req: falcon.Request, resp: falcon.Response, **params) -> None:
        pair = path_pair(self.registry, params)
        limit = query_int(req, "limit", 100, 1, MAX_TRADES)
        trades = _store_call(self.market_data.trades, pair.pair_id, limit)
        units = registry_units(self.registry).by_id[pair.pair_id]
        send_json(resp, {"pair": pair.name, "trades": [trade_view(t, units) for t in trades]})
