"""``ringex loadtest``: the end-to-end load tester, through real Kafka.

::

    flow.py ─► routes.py ─► modes.py ─► Kafka `orders` ─► ringex serve (exchange.py)
                                                              │
          verify.py ◄── latency.py ◄── receiver.py ◄── `order-events`, `trades`
                               │
             progress.py (stderr), cpu.py, report.py (JSON, PNG), sweep.py (rate table)

One module per idea: :mod:`~perf.loadtest.flow` (seeded order flow),
:mod:`~perf.loadtest.routes` (JSON / binary frames into `orders`), :mod:`~perf.loadtest.modes`
(max-throughput, open-loop without coordinated omission), :mod:`~perf.loadtest.receiver` and
:mod:`~perf.loadtest.latency` (arrival stamps, attribution, HdrHistogram),
:mod:`~perf.loadtest.verify` (one outcome per command; `trades` equal to a matcher run over
the `orders` topic), :mod:`~perf.loadtest.run` (one run), :mod:`~perf.loadtest.cli`.

REST (``--route rest``) is not implemented yet, although the gateway and docs/api.md exist:
``POST /orders/batch`` would carry the NEW orders, but a cancel or amend goes to
``DELETE``/``PATCH /orders/{id}``, whose owner check reads Redis or a per-worker cache, so
one sent right after its NEW can be answered 404 by another gunicorn worker and never reach
the matcher. Such a command has no outcome in `order-events` and needs its own accounting
(and retry policy) before the one-outcome check can hold. ``--route rest`` says so and exits 2.

Run from a source checkout: ``ringex loadtest ...`` or ``python -m perf.loadtest ...``.
"""

from perf.loadtest.flow import Flow, Mix, generate_flow
from perf.loadtest.run import RunConfig, run_load

__all__ = ["Flow", "Mix", "generate_flow", "RunConfig", "run_load"]
