"""Prometheus metrics of the gateway.

Each app gets its own ``CollectorRegistry`` (tests build many apps in one process). Under
gunicorn, ``ringex.runtime.gateway_process`` sets ``PROMETHEUS_MULTIPROC_DIR`` before anything
imports ``prometheus_client``: then every worker writes its samples to files there and
``GET /metrics`` (answered by any one worker) aggregates all of them.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

__all__ = ["GatewayMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class GatewayMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("ringex_gateway_requests_total", "HTTP requests answered",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("ringex_gateway_request_seconds", "Request latency",
                                 ["route", "method"], buckets=_BUCKETS, registry=self.registry)
        self.commands = Counter("ringex_gateway_commands_total",
                                "Commands made durable in the sequencer", ["kind"],
                                registry=self.registry)
        self.rejected = Counter("ringex_gateway_rejected_total",
                                "Requests refused before the sequencer", ["reason"],
                                registry=self.registry)
        self.unavailable = Counter("ringex_gateway_sequencer_unavailable_total",
                                   "Writes answered 503", registry=self.registry)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
