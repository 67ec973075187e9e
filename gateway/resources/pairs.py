"""``GET /pairs``: every pair with its tick, lot, quantity limits, price band and status.

The status is the market-data store's ``pair_status`` (the last ``PAIR_STATUS`` event,
``TRADING`` before any); ``UNKNOWN`` while the store cannot be read (the rest of the answer
is configuration and stays valid).
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
        try:
            status = self.market_data.pair_status(pair_id)
        except Exception:  # noqa: BLE001 - an unreachable store: the pairs are still known
            return "UNKNOWN"
        return status.name if isinstance(status, PairStatus) else "UNKNOWN"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send_json(resp, {"pairs": [pair_view(pair, self._status(pair.pair_id))
                                   for pair in self.registry]})
