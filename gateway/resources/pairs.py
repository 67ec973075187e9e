"""``GET /pairs``: every pair with its tick, lot, quantity limits, price band and status.

The status is the market-data store's (``pair_status(pair_id)``) when the store offers it;
otherwise the configured starting status, ``TRADING`` (``docs/api.md`` says so).
"""

from __future__ import annotations

import falcon

from ringex.records import PairStatus

from gateway.http import send_json
from gateway.views import pair_view

__all__ = ["PairsResource"]


class PairsResource:
    def __init__(self, dependencies):
        self.registry = dependencies.registry
        self.market_data = dependencies.market_data

    def _status(self, pair_id: int) -> str:
        reader = getattr(self.market_data, "pair_status", None)
        if reader is None:
            return PairStatus.TRADING.name
        try:
            return PairStatus(int(reader(pair_id))).name
        except Exception:  # noqa: BLE001 - an unknown or unreachable status
            return "UNKNOWN"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send_json(resp, {"pairs": [pair_view(pair, self._status(pair.pair_id))
                                   for pair in self.registry]})
