"""``--sweep``: open-loop runs at rising rates, printed as exchange-core prints its latency
tables: one row per rate, one column per percentile (milliseconds).

Each rate is a separate open-loop run against the same exchange (the book carries over, as
it would at a venue). A rate whose run stalls or fails verification is still printed, marked,
and the sweep stops there: higher rates would only be slower.
"""

from __future__ import annotations

import dataclasses

from perf.loadtest.latency import PERCENTILES

__all__ = ["sweep_rates", "format_table"]

DEFAULT_RATES = (5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 75_000, 100_000)


def sweep_rates(config, exchange, registry, rates, *, run, metric: str = "order_to_trade",
                **kwargs) -> list[dict]:
    rows = []
    for rate in rates:
        result = run(dataclasses.replace(config, mode="open", rate=float(rate)), exchange,
                     registry, **kwargs)
        result["label"] = f"{rate}/s"
        rows.append(result)
        if not result["verification"]["ok"] or result["stalled"]:
            break
    return rows


def format_table(rows: list[dict], metric: str) -> str:
    columns = [f"p{p:g}" for p in PERCENTILES] + ["max"]
    header = f"{'rate/s':>9} {'achieved/s':>10} " + " ".join(f"{c:>9}" for c in columns) + "  ok"
    lines = [f"latency {metric.replace('_', ' ')} (ms)", header]
    for row in rows:
        stats = row["latency_ms"][metric]
        cells = " ".join(f"{stats.get(c, float('nan')):>9.2f}" for c in columns)
        achieved = row.get("completed_per_s_10_to_90pct", 0)
        ok = "yes" if row["verification"]["ok"] else "NO"
        lines.append(f"{row['sending']['rate']:>9,.0f} {achieved:>10,} {cells}  {ok}")
    return "\n".join(lines)
