"""Prometheus metrics of a running exchange, served by the supervisor.

Ring and engine metrics are read at scrape time from shared memory, so no process pays for
them on its hot path: ring cursors and consumer sequences come from the ring headers
(lag = cursor - consumer sequence), and per-process counters from the stats table each
process writes. The Kafka bridge and publisher count messages, DLQ copies and errors with
prometheus-client counters in their own processes; :func:`prepare_multiprocess_dir` puts
them in prometheus-client's multiprocess mode before the supervisor spawns them, and the
endpoint merges their files. Redis failures make the market-data publisher exit and restart:
they show as ``ringex_process_restarts_total{role="marketdata"}`` and in its log.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

from ringex.ring.gating import RETIRED
from ringex.runtime.engine_loop import COUNTER_NAMES
from ringex.runtime.stats import ROLES

__all__ = ["ExchangeCollector", "start_metrics_server", "prepare_multiprocess_dir"]

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(var_dir: str) -> Path:
    """A fresh directory for the children's counters; must run before any child starts."""
    directory = Path(var_dir).resolve() / "run" / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[_MULTIPROC_ENV] = str(directory)
    return directory

_ROLE_COUNTERS = {
    "engine": COUNTER_NAMES,
    "journal": ("commands", "batches"),
    "marketdata": ("events", "book_snapshots", "catch_ups", "applied_seq"),
}


class ExchangeCollector:
    def __init__(self, supervisor):
        self.supervisor = supervisor

    def collect(self):
        rings = self.supervisor.rings
        cursor = GaugeMetricFamily("ringex_ring_cursor", "Last published sequence", labels=["ring"])
        lag = GaugeMetricFamily("ringex_ring_lag", "Published but not yet consumed records",
                                labels=["ring", "slot"])
        for name, ring in rings.items():
            head = ring.cursor
            cursor.add_metric([name], head)
            for slot in range(ring.layout.consumers):
                sequence = ring.consumer_sequence(slot)
                if sequence >= RETIRED:  # a non-gating reader: its lag is its own metric
                    continue
                lag.add_metric([name, str(slot)], max(0, head - sequence))
        yield cursor
        yield lag
        stats = self.supervisor.stats
        if stats is None or stats.values is None:
            return
        for role, names in _ROLE_COUNTERS.items():
            row = stats.values[ROLES.index(role)]
            for index, counter in enumerate(names):
                if counter == "applied_seq":
                    gauge = GaugeMetricFamily("ringex_marketdata_applied_seq",
                                              "Last event sequence in the market-data store")
                    gauge.add_metric([], int(row[index]))
                    yield gauge
                    continue
                if counter == "last_seq":
                    gauge = GaugeMetricFamily("ringex_engine_last_seq", "Last event sequence")
                    gauge.add_metric([], int(row[index]))
                    yield gauge
                    continue
                family = CounterMetricFamily(f"ringex_{role}_{counter}",
                                             f"{counter} handled by the {role}")
                family.add_metric([], int(row[index]))
                yield family
        restarts = CounterMetricFamily("ringex_process_restarts", "Child restarts",
                                       labels=["role"])
        for child in self.supervisor.children:
            restarts.add_metric([child.role], child.restarts)
        yield restarts


def start_metrics_server(port: int, supervisor, address: str = "127.0.0.1") -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(ExchangeCollector(supervisor))
    if os.environ.get(_MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=os.environ[_MULTIPROC_ENV])
    start_http_server(port, addr=address, registry=registry)
    return registry
