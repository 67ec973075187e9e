"""``--route rest``: the flow sent as HTTP requests to the REST gateway (``docs/api.md``).

::

    mode ─► RestRoute.send(lo, hi): control[DUE] = hi
                 │ shared arrays (status, request_ns, response_ns, order_id, retries)
                 ▼
    sender processes (rest_sender.py) ─ lanes: one keep-alive connection each ─► gunicorn
         POST /orders | POST /orders/batch | DELETE, PATCH /orders/{id}      ─► Kafka `orders`

The gateway assigns order ids (``kafka_order_id`` of the message it produced), so a cancel
or amend names the id its order's ``202`` carried; the lane of a flow account is
``(account - 1) % connections`` (why lanes: :mod:`perf.loadtest.rest_sender`). Accounts map
to API keys through ``api_keys`` (``{account: key}``): with ``--start-exchange`` one key per
flow account (``perf.loadtest.exchange``); against a running gateway with a few keys, flow
account ``a`` uses the ``(a - 1) % len(keys)``-th of them, deterministically.

What the route reports beyond the Kafka routes':

- **HTTP latency**: ``http_response`` from the send time (the scheduled time in open loop)
  to the durable ``2xx`` (Kafka ``acks=all``), and ``http_round_trip`` from writing the
  request to reading the answer;
- **refusals**: a cancel or amend of an order that market data already shows closed is
  refused ``409`` by the gateway and never reaches the matcher. Its outcome is that answer,
  so it must have *no* event (``refused`` mask for
  :func:`perf.loadtest.verify.check_outcomes`), and its order must really be closed
  (:func:`check_refusals`). Any other non-2xx answer is an error and fails the run.

Commands are counted ``sent`` once answered (the lanes write each row when the answer is
read), ``acked`` once answered 2xx. The route never stops the gateway; :meth:`close` stops
its own sender processes.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
import urllib.request

import numpy as np

from perf.loadtest.rest_sender import (CONNECTION_FAILED, NO_ORDER_ID, RESULT_ARRAYS, Control,
                                       run_rest_sender)
from ringex.records import CommandKind

__all__ = ["RestRoute", "RestCounters", "check_options", "check_refusals", "wait_gateway"]

MAX_SENDERS = 16
MAX_CONNECTIONS = 256


def check_options(batch: int, senders: int, connections: int) -> None:
    """``ValueError`` naming the first option out of bounds."""
    if not 1 <= batch <= 10_000:
        raise ValueError(f"--rest-batch must be 1 .. 10000, not {batch}")
    if not 1 <= senders <= MAX_SENDERS:
        raise ValueError(f"--rest-senders must be 1 .. {MAX_SENDERS}, not {senders}")
    if not senders <= connections <= MAX_CONNECTIONS:
        raise ValueError(f"--rest-connections must be {senders} (one per sender) .. "
                         f"{MAX_CONNECTIONS}, not {connections}")


def wait_gateway(url: str, timeout: float) -> float:
    """Poll ``GET /health`` until it answers 200; the seconds it took."""
    started = time.monotonic()
    last = ""
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
                last = f"status {answer.status}"
        except OSError as exc:  # refused while gunicorn starts; HTTPError 503 while attaching
            last = str(exc)
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the gateway at {url} was not healthy after {timeout}s: {last}")
        time.sleep(0.2)


class RestCounters:
    """The progress line's live view of the shared result arrays."""

    def __init__(self, status: np.ndarray):
        self.status = status

    @property
    def sent(self) -> int:
        return int(np.count_nonzero(self.status))

    @property
    def acked(self) -> int:
        return int(np.count_nonzero((self.status >= 200) & (self.status < 300)))

    @property
    def errors(self) -> int:
        status = self.status
        return int(np.count_nonzero((status >= 300) & (status != 409)))


class RestRoute:
    name = "rest"

    def __init__(self, gateway_url: str, api_keys: dict, registry, *, batch: int = 1,
                 senders: int = 2, connections: int = 8, retry_404_s: float = 5.0):
        if not gateway_url:
            raise ValueError("--route rest needs a gateway: --start-exchange, or --gateway-url")
        if not api_keys:
            raise ValueError("--route rest needs API keys: --start-exchange, or --api-keys")
        check_options(batch, senders, connections)
        self.gateway_url = gateway_url.rstrip("/")
        self.api_keys = dict(api_keys)
        self.registry = registry
        self.batch, self.senders, self.connections = batch, senders, connections
        self.retry_404_s = retry_404_s
        self.processes: list = []
        self.workdir = ""
        self.counters = None

    def key_of(self, account: int) -> str:
        if account in self.api_keys:
            return self.api_keys[account]
        keys = [self.api_keys[a] for a in sorted(self.api_keys)]
        return keys[(account - 1) % len(keys)]

    def prepare(self, flow) -> None:
        records = flow.records.copy()
        new = records["kind"] == CommandKind.NEW
        records["client_order_id"] = np.where(new, flow.client_order_ids(), 0)
        lane = (records["account"].astype(np.int64) - 1) % self.connections
        self.keys = {int(a): self.key_of(int(a)) for a in np.unique(records["account"])}
        self.workdir = tempfile.mkdtemp(prefix="ringex-loadtest-rest-")
        self.flow_path = os.path.join(self.workdir, "flow.npz")
        np.savez(self.flow_path, records=records, target=flow.target, lane=lane)
        self.kind = records["kind"]
        self.target = flow.target
        # warm-up orders (one per lane) take the client order ids just past the flow's
        self.warm_up_coid = flow.coid_base + len(flow) + 1
        n = len(flow)
        self.context = multiprocessing.get_context("spawn")
        self.shared = {name: self.context.RawArray("q", n) for name in RESULT_ARRAYS}
        self.results = {name: np.frombuffer(self.shared[name], dtype=np.int64)
                        for name in RESULT_ARRAYS}
        self.control = self.context.RawArray("q", Control.size(self.senders))

    def open(self, producer, counters) -> None:
        self.counters = RestCounters(self.results["status"])

    def wait_ready(self, timeout: float) -> float:
        """Wait for the gateway to be healthy, then start the sender processes (they format
        their bodies and warm their connections up) and wait until they are ready for
        ``DUE``; the seconds it took."""
        started = time.monotonic()
        wait_gateway(self.gateway_url, timeout)
        for sender in range(self.senders):
            lanes = [lane for lane in range(self.connections) if lane % self.senders == sender]
            process = self.context.Process(
                target=run_rest_sender, name=f"loadtest-rest-sender-{sender}", daemon=True,
                args=(sender, self.senders, lanes, self.flow_path, self.registry, self.gateway_url,
                      self.keys, self.batch, self.retry_404_s, self.control, self.shared,
                      self.warm_up_coid))
            process.start()
            self.processes.append(process)
        while not all(self.control[Control.READY + s] for s in range(self.senders)):
            dead = [p.name for p in self.processes if not p.is_alive()]
            if dead or time.monotonic() - started > timeout:
                raise RuntimeError(f"REST sender processes did not start: {dead or 'timeout'}")
            time.sleep(0.05)
        return time.monotonic() - started

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each sender process spent sending (0 until it has finished)."""
        return {f"loadtest-rest-sender-{s}":
                self.control[Control.cpu_slot(s, self.senders)] / 1e9
                for s in range(self.senders)}

    def send(self, lo: int, hi: int) -> None:
        self.control[Control.DUE] = hi

    def finish(self, deadline: float) -> None:
        """Wait (until ``deadline``, monotonic) for every released command's answer; then
        the lanes are stopped."""
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
        self.control[Control.STOP] = 1
        for process in self.processes:
            process.join(10)

    def close(self) -> None:
        if self.processes:
            self.control[Control.STOP] = 1
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(10)
        self.processes = []
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = ""

    # -- results ------------------------------------------------------------------------
    def answered(self) -> np.ndarray:
        return self.results["status"] != 0

    def succeeded(self) -> np.ndarray:
        status = self.results["status"]
        return (status >= 200) & (status < 300)

    def refused(self) -> np.ndarray:
        return self.results["status"] == 409

    def stats(self, send_ns: np.ndarray, start_ns: int) -> dict:
        from perf.loadtest.latency import percentiles

        status, retries = self.results["status"], self.results["retries"]
        request_ns, response_ns = self.results["request_ns"], self.results["response_ns"]
        answered, good = self.answered(), self.succeeded()
        codes, counts = np.unique(status[answered], return_counts=True)
        requests = int(np.unique(request_ns[answered]).size + retries.sum())
        new = answered & (self.kind == CommandKind.NEW)
        placing = int(np.unique(request_ns[new]).size)  # POST /orders or /orders/batch
        last = int(response_ns[answered].max()) if answered.any() else start_ns
        span_s = max(1e-9, (last - start_ns) / 1e9)
        return {
            "gateway_url": self.gateway_url, "batch": self.batch, "senders": self.senders,
            "connections": self.connections,
            "answered": int(answered.sum()), "http_requests": requests,
            "placing_requests": placing,
            "new_orders_per_placing_request": round(int(new.sum()) / max(1, placing), 2),
            "status_counts": {str(int(c)): int(k) for c, k in zip(codes, counts)},
            "refused_409": int(self.refused().sum()),
            "errors": int((answered & ~good & ~self.refused()).sum()),
            "connection_failures": int((status == CONNECTION_FAILED).sum()),
            "not_sent_no_order_id": int((status == NO_ORDER_ID).sum()),
            "retried_404": int((retries > 0).sum()), "retries_404": int(retries.sum()),
            "answered_s": round(span_s, 3),
            "slowest_round_trip_at_s": _slowest_at(request_ns, response_ns, good, start_ns),
            "commands_2xx_per_s": round(int(good.sum()) / span_s),
            "http_requests_per_s": round(requests / span_s),
            "latency_ms": {
                "http_response": percentiles((response_ns - send_ns)[good]),
                "http_round_trip": percentiles((response_ns - request_ns)[good]),
            },
        }


def _slowest_at(request_ns, response_ns, good, start_ns: int) -> float | None:
    """When (s after the start) the slowest 2xx request was written: a stall at the start is
    warm-up, one in the middle is not."""
    if not good.any():
        return None
    at = np.flatnonzero(good)[np.argmax((response_ns - request_ns)[good])]
    return round((int(request_ns[at]) - start_ns) / 1e9, 3)


def check_refusals(route: RestRoute, flow, attribution) -> dict:
    """Every command answered; no answer but 2xx or 409; a 409 only for a cancel or amend
    whose order is closed (it was rejected, or has its final event in `order-events`)."""
    status = route.results["status"]
    unanswered = np.flatnonzero(status == 0)
    refused = np.flatnonzero(status == 409)
    errors = np.flatnonzero((status != 0) & ~route.succeeded() & (status != 409))
    refused_new = refused[route.kind[refused] == CommandKind.NEW]
    ops = refused[route.kind[refused] != CommandKind.NEW]
    orders = route.target[ops]
    closed = (attribution.final_count[orders] > 0) | ~attribution.accepted[orders]
    refused_open = ops[~closed]
    ok = not (unanswered.size or errors.size or refused_new.size or refused_open.size)
    return {"ok": bool(ok), "unanswered": int(unanswered.size), "errors": int(errors.size),
            "first_errors": [{"command": int(i), "status": int(status[i])} for i in errors[:5]],
            "refused_409": int(refused.size), "refused_new_orders": int(refused_new.size),
            "refused_while_open": int(refused_open.size),
            "first_refused_while_open": refused_open[:5].tolist()}
