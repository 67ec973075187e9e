"""``ringex loadtest``: the end-to-end load test, through real Kafka (and the REST gateway).

::

    flow.py ─► routes.py (json, frame) ─────────────────────► Kafka `orders` ─► ringex serve
          └──► rest.py ─► rest_sender.py (HTTP) ─► gateway ─┘                  (exchange.py)
                         modes.py decides when                                     │
          verify.py ◄── latency.py ◄── receiver.py ◄── `order-events`, `trades` ◄──┘
                               │
             progress.py (stderr), cpu.py, report.py (JSON, PNG), sweep.py (rate table)

One module per idea: :mod:`~perf.loadtest.flow` (seeded order flow),
:mod:`~perf.loadtest.routes` (JSON / binary frames into `orders`),
:mod:`~perf.loadtest.rest` and :mod:`~perf.loadtest.rest_sender` (the REST route: keep-alive
lanes in sender processes, ids the gateway assigned, 409 refusals accounted),
:mod:`~perf.loadtest.modes` (max-throughput, open-loop without coordinated omission),
:mod:`~perf.loadtest.receiver` and :mod:`~perf.loadtest.latency` (arrival stamps,
attribution, HdrHistogram), :mod:`~perf.loadtest.freshness` (trade -> Redis market data,
``--md-freshness-ms``), :mod:`~perf.loadtest.verify` (one outcome per command; `trades`
equal to a matcher run over the `orders` topic), :mod:`~perf.loadtest.run` (one run),
:mod:`~perf.loadtest.cli`.

Run from a source checkout: ``ringex loadtest ...`` or ``python -m perf.loadtest ...``.
"""

from perf.loadtest.flow import Flow, Mix, generate_flow
from perf.loadtest.run import RunConfig, run_load

__all__ = ["Flow", "Mix", "generate_flow", "RunConfig", "run_load"]
