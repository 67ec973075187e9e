"""The JSON report (machine, versions, configuration, results) and the optional PNG.

The report is written to ``--report`` and printed as one JSON document on stdout. The PNG
(``--png``) needs matplotlib; without it the report says so and nothing else changes.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from perf.machine import host

__all__ = ["machine", "write_report", "write_png"]


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001
        return None


def machine(bootstrap: str = "", redis_url: str = "") -> dict:
    versions = {name: _version(name) for name in
                ("ringex", "numpy", "numba", "confluent-kafka", "msgspec", "hdrhistogram",
                 "redis", "psutil")}
    try:
        import confluent_kafka

        versions["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    try:
        import redis

        info = redis.Redis.from_url(redis_url, socket_timeout=5).info("server") if redis_url else {}
        versions["redis-server"] = info.get("redis_version")
    except Exception:  # noqa: BLE001
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {**host(), "python": platform.python_version(), "versions": versions,
            "load_average_at_end": load, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "same_box": "broker, Redis, every ringex process and the load tester share it"}


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_report(report: dict, path: str | None) -> str:
    text = json.dumps(_plain(report), indent=2, default=str)
    if path:
        Path(path).write_text(text + "\n")
    return text


def write_png(runs: list[dict], path: str) -> str | None:
    """Latency distribution (percentile plot) and throughput over time; None if no
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no PNG"
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for run in runs:
        label = run.get("label", "")
        for name, values in run["_latencies_ns"].items():
            if values.size == 0:
                continue
            ordered = np.sort(values) / 1e6
            quantile = np.arange(1, ordered.size + 1) / ordered.size
            tail = 1.0 / np.maximum(1.0 - quantile, 1.0 / ordered.size)
            left.plot(tail, ordered, label=f"{label} {name}")
        over = run["throughput_over_time"]
        x = np.arange(len(over["completed"])) * over["bin_s"]
        right.plot(x, np.array(over["completed"]) / over["bin_s"], label=f"{label} completed/s")
        x = np.arange(len(over["sent"])) * over["bin_s"]
        right.plot(x, np.array(over["sent"]) / over["bin_s"], "--", label=f"{label} sent/s")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xticks([2, 10, 100, 1000, 10000])
    left.set_xticklabels(["p50", "p90", "p99", "p99.9", "p99.99"])
    left.set_xlabel("percentile")
    left.set_ylabel("latency (ms)")
    left.set_title("latency distribution")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    right.set_xlabel("time since the first send (s)")
    right.set_ylabel("commands/s")
    right.set_title("throughput over time")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return None
