"""``GET /health`` (sequencer reachable, rings attached, market data readable),
``GET /metrics`` (Prometheus) and ``GET /openapi.json``."""

from __future__ import annotations

import os

import falcon
import msgspec

from gateway.http import send_json
from gateway.metrics import CONTENT_TYPE
from gateway.openapi import openapi_document

__all__ = ["HealthResource", "MetricsResource", "OpenApiResource"]


class HealthResource:
    def __init__(self, dependencies):
        self.sink = dependencies.order_sink
        self.market_data = dependencies.market_data
        self.mode = dependencies.mode

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            sequencer = self.sink.health()
        except Exception as exc:  # noqa: BLE001 - health reports, it never fails
            sequencer = {"ok": False, "detail": str(exc)}
        try:
            market_data = {"ok": True, **self.market_data.health()}
        except Exception as exc:  # noqa: BLE001
            market_data = {"ok": False, "detail": str(exc)}
        ok = bool(sequencer.get("ok")) and market_data["ok"]
        send_json(resp, {"status": "ok" if ok else "unavailable", "mode": self.mode,
                         "pid": os.getpid(), "sequencer": sequencer,
                         "market_data": market_data}, 200 if ok else 503)


class MetricsResource:
    def __init__(self, dependencies):
        self.metrics = dependencies.metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self.metrics.exposition()
        resp.content_type = CONTENT_TYPE


class OpenApiResource:
    def __init__(self, dependencies):
        self.document = msgspec.json.encode(openapi_document(dependencies))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self.document
        resp.content_type = falcon.MEDIA_JSON
