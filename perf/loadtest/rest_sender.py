"""A REST sender process: its lanes, each one keep-alive HTTP connection to the gateway.

Why lanes: the gateway assigns order ids, so a cancel or amend can only be sent once its
order's ``202`` came back, and must go through the *same* keep-alive connection. A
connection lives in one gunicorn worker, and that worker remembers the orders it just placed
(``gateway.access.RecentOrders``), so it accepts the cancel before Redis market data has the
order; another worker would answer 404. Every command of a flow account goes through the lane
``(account - 1) % lanes``, one request at a time, so both hold.

Each lane is a thread (the GIL is released while it waits on its socket); a process holds a
few lanes. The parent (:class:`perf.loadtest.rest.RestRoute`) releases commands by raising
``control[DUE]``; a lane sends its own commands below that mark:

- a NEW order is ``POST /orders``, or with ``batch > 1`` waits for up to ``batch`` NEWs of its
  account (what this lane has been released, no more) and goes out in one
  ``POST /orders/batch``;
- a cancel or amend is ``DELETE`` / ``PATCH /orders/{id}`` with the id the gateway answered
  for its order; if that order is still waiting for its batch, the batch goes first. (So
  with batches a cancel can overtake NEW orders of its account that came before it in the
  flow; the check reads the order the commands entered `orders` in.) A 404
  (another worker, after a reconnect, before market data has the order: nothing was sent to
  the matcher) is retried every 5 ms for at most ``retry_404_s``.

Results, per command, in shared ``int64`` arrays (one writer per element: the lane that owns
the command): ``status`` (the HTTP status, the item's status in a batch; 599 = connection
failure, 598 = not sent because its order has no id, 597 = the lane failed on an answer it
could not read and gave up its remaining commands), ``request_ns`` / ``response_ns``
(``time.monotonic_ns`` when the request was written / the answer read), ``order_id`` (the
gateway's id for a NEW, the receipt for a cancel or amend) and ``retries``. Nothing is
retried except a 404 (safe: the gateway sent nothing); a failed request is counted, never
hidden.
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from urllib.parse import urlsplit

import msgspec
import numpy as np

from ringex.records import CommandKind, OrderType, Side, TimeInForce
from ringex.wire.units import registry_units

__all__ = ["Control", "RESULT_ARRAYS", "format_bodies", "run_rest_sender", "CONNECTION_FAILED",
           "NO_ORDER_ID", "SENDER_FAILED"]

RESULT_ARRAYS = ("status", "request_ns", "response_ns", "order_id", "retries")
CONNECTION_FAILED = 599
NO_ORDER_ID = 598
SENDER_FAILED = 597
_IDLE_RECONNECT_S = 3.0  # gunicorn closes an idle keep-alive connection after 5 s
_RETRY_SLEEP_S = 0.005
_IDLE_SLEEP_S = 0.0005

_SIDE = {Side.BUY: "BUY", Side.SELL: "SELL"}
_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}


class Control:
    """Indices into the shared control array: ``DUE`` and ``STOP`` (parent writes), then per
    sender process ``s`` (that process writes): ``READY + s``, and ``cpu_slot(s, senders)``,
    the CPU time (ns) it spent sending, set when it exits (the parent's CPU sampler cannot
    read a process that is gone)."""

    DUE, STOP, READY = 0, 1, 2

    @staticmethod
    def size(senders: int) -> int:
        return Control.READY + 2 * senders

    @staticmethod
    def cpu_slot(sender: int, senders: int) -> int:
        return Control.READY + senders + sender


def format_bodies(records: np.ndarray, registry, indices: np.ndarray) -> list[bytes]:
    """The request body of each command: a native ``new`` order (without ``account``: the
    gateway takes it from the key), or the ``{"price","quantity"}`` of an amend (a cancel
    has no body)."""
    units = registry_units(registry).by_id
    names = [p.name for p in registry.pairs]
    bodies = []
    for i in indices.tolist():
        record = records[i]
        kind = int(record["kind"])
        pair_id = int(record["pair_id"])
        pair = units[pair_id]
        if kind == CommandKind.NEW:
            side = _SIDE[int(record["side"])]
            quantity = pair.quantity.format(int(record["quantity"]))
            if int(record["order_type"]) == OrderType.MARKET:
                body = (f'{{"type":"new","pair":"{names[pair_id]}","side":"{side}",'
                        f'"order_type":"MARKET","quantity":"{quantity}",')
            else:
                body = (f'{{"type":"new","pair":"{names[pair_id]}","side":"{side}",'
                        f'"order_type":"LIMIT","price":"{pair.price.format(int(record["price"]))}",'
                        f'"quantity":"{quantity}","time_in_force":"{_TIF[int(record["tif"])]}",')
            body += f'"client_order_id":{int(record["client_order_id"])}}}'
        elif kind == CommandKind.AMEND:
            body = (f'{{"price":"{pair.price.format(int(record["price"]))}",'
                    f'"quantity":"{pair.quantity.format(int(record["quantity"]))}"}}')
        else:
            body = ""
        bodies.append(body.encode())
    return bodies


class _Lane:
    """One keep-alive connection and the commands of the accounts it serves, in flow order."""

    def __init__(self, host: str, port: int, indices: np.ndarray, bodies: list[bytes],
                 kinds: np.ndarray, accounts: np.ndarray, target: np.ndarray, keys: dict,
                 batch: int, retry_404_s: float, control, results: dict):
        self.host, self.port = host, port
        self.indices = indices
        self.body_of = dict(zip(indices.tolist(), bodies))
        self.kinds, self.accounts, self.target = kinds, accounts, target
        self.keys = keys
        self.batch = batch
        self.retry_404_s = retry_404_s
        self.control = control
        self.results = results
        self.connection = None
        self.last_used = 0.0
        self.decode = msgspec.json.decode
        self.warm_up_body = b""
        self.warmed = threading.Event()

    # -- HTTP ---------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        now = time.monotonic()
        if self.connection is not None and now - self.last_used > _IDLE_RECONNECT_S:
            self._drop()
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.last_used = now
        return self.connection

    def _drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _call(self, method: str, path: str, body: bytes, key: str):
        """``(status, answer bytes, request_ns, response_ns)``; status 599 on a broken
        connection (the connection is then replaced)."""
        headers = {"X-API-Key": key}
        if body:
            headers["Content-Type"] = "application/json"
        started = time.monotonic_ns()
        try:
            connection = self._connection()
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            status = response.status
            if response.will_close:
                self._drop()
        except (OSError, http.client.HTTPException):
            self._drop()
            return CONNECTION_FAILED, b"", started, time.monotonic_ns()
        self.last_used = time.monotonic()
        return status, answer, started, time.monotonic_ns()

    # -- commands -----------------------------------------------------------------------
    def _record(self, index: int, status: int, started: int, ended: int, order_id: int = 0):
        results = self.results
        results["request_ns"][index] = started
        results["response_ns"][index] = ended
        results["order_id"][index] = order_id
        results["status"][index] = status  # last: a non-zero status means the row is complete

    def _place(self, account: int, pending: list[int]) -> None:
        key = self.keys[account]
        if self.batch == 1:
            index = pending[0]
            status, answer, started, ended = self._call("POST", "/orders", self.body_of[index],
                                                        key)
            order_id = self.decode(answer)["order_id"] if status == 202 else 0
            self._record(index, status, started, ended, order_id)
            return
        body = b'{"orders":[' + b",".join(self.body_of[i] for i in pending) + b"]}"
        status, answer, started, ended = self._call("POST", "/orders/batch", body, key)
        if status != 200:
            for index in pending:
                self._record(index, status, started, ended)
            return
        for index, item in zip(pending, self.decode(answer)["results"]):
            order_id = item["order"]["order_id"] if item["status"] == 202 else 0
            self._record(index, item["status"], started, ended, order_id)

    def _operate(self, index: int) -> None:
        """A cancel or amend of the order the gateway answered for ``target[index]``."""
        account = int(self.accounts[index])
        order_id = int(self.results["order_id"][int(self.target[index])])
        if order_id <= 0:
            now = time.monotonic_ns()
            self._record(index, NO_ORDER_ID, now, now)
            return
        cancel = int(self.kinds[index]) == CommandKind.CANCEL
        method, body = ("DELETE", b"") if cancel else ("PATCH", self.body_of[index])
        deadline = time.monotonic() + self.retry_404_s
        retries = 0
        while True:
            status, answer, started, ended = self._call(method, f"/orders/{order_id}", body,
                                                        self.keys[account])
            if status != 404 or time.monotonic() > deadline:
                break
            retries += 1
            time.sleep(_RETRY_SLEEP_S)
        self.results["retries"][index] = retries
        receipt = self.decode(answer).get("receipt", 0) if status == 202 else 0
        self._record(index, status, started, ended, receipt)

    def _run_slice(self, indices: list[int]) -> None:
        pending: dict[int, list[int]] = {}
        for index in indices:
            account = int(self.accounts[index])
            if int(self.kinds[index]) == CommandKind.NEW:
                waiting = pending.setdefault(account, [])
                waiting.append(index)
                if len(waiting) >= self.batch:
                    self._place(account, pending.pop(account))
                continue
            waiting = pending.get(account)
            if waiting is not None and int(self.target[index]) in waiting:
                self._place(account, pending.pop(account))
            self._operate(index)
        for account, waiting in pending.items():
            self._place(account, waiting)

    def warm_up(self) -> None:
        """One real write through this connection before anything is timed: the first
        order a gateway worker produces waits for its Kafka producer's first send (about a
        second, measured), which would otherwise be charged to the flow. A post-only BUY of
        the minimum quantity at the bottom of the band (it can never trade) is placed and
        cancelled at once; both are sequenced before any command of the flow, and their
        client order id is outside the flow's range, so they are not this run's outcomes."""
        if not self.warm_up_body or not self.indices.size:
            return
        key = self.keys[int(self.accounts[self.indices[0]])]
        status, answer, _s, _e = self._call("POST", "/orders", self.warm_up_body, key)
        if status == 202:
            order_id = self.decode(answer)["order_id"]
            status, _answer, _s, _e = self._call("DELETE", f"/orders/{order_id}", b"", key)
        if status != 202:
            print(f"loadtest REST lane: warm-up answered {status}", file=sys.stderr)

    def run(self) -> None:
        control, indices = self.control, self.indices
        position, count = 0, indices.size
        try:
            try:
                self.warm_up()
            finally:
                self.warmed.set()
            while position < count and not control[Control.STOP]:
                end = int(np.searchsorted(indices, control[Control.DUE]))
                if end == position:
                    time.sleep(_IDLE_SLEEP_S)
                    continue
                self._run_slice(indices[position:end].tolist())
                position = end
        except Exception as exc:  # noqa: BLE001 - an answer we cannot read: say so, stop
            mine = self.indices
            unanswered = mine[self.results["status"][mine] == 0]
            self.results["status"][unanswered] = SENDER_FAILED
            print(f"loadtest REST lane: {type(exc).__name__}: {exc}; {unanswered.size} "
                  f"commands marked {SENDER_FAILED}", file=sys.stderr)
        finally:
            self._drop()


def _warm_up_body(registry, client_order_id: int) -> bytes:
    pair = registry.pairs[0]
    units = registry_units(registry).by_id[pair.pair_id]
    return (f'{{"type":"new","pair":"{pair.name}","side":"BUY","order_type":"LIMIT",'
            f'"price":"{units.price.format(pair.band_lo_ticks)}",'
            f'"quantity":"{units.quantity.format(pair.min_qty_lots)}","time_in_force":"GTC",'
            f'"post_only":true,"client_order_id":{client_order_id}}}').encode()


def run_rest_sender(sender: int, senders: int, lanes: list[int], flow_path: str, registry,
                    gateway_url: str, keys: dict, batch: int, retry_404_s: float, control,
                    shared: dict, warm_up_coid: int = 0) -> None:
    """The body of one sender process (spawned): format its lanes' bodies, warm each
    connection up (``warm_up_coid + lane`` is its warm-up order's client order id; 0: no
    warm-up), say ready, send."""
    with np.load(flow_path) as npz:
        records, target, lane_of = npz["records"], npz["target"], npz["lane"]
    results = {name: np.frombuffer(shared[name], dtype=np.int64) for name in RESULT_ARRAYS}
    address = urlsplit(gateway_url)
    workers = []
    for lane in lanes:
        indices = np.flatnonzero(lane_of == lane)
        bodies = format_bodies(records, registry, indices)
        workers.append(_Lane(address.hostname, address.port or 80, indices, bodies,
                             records["kind"], records["account"], target, keys, batch,
                             retry_404_s, control, results))
        if warm_up_coid:
            workers[-1].warm_up_body = _warm_up_body(registry, warm_up_coid + lane)
    threads = [threading.Thread(target=worker.run, name=f"rest-lane-{lane}", daemon=True)
               for worker, lane in zip(workers, lanes)]
    for thread in threads:
        thread.start()
    for worker in workers:
        worker.warmed.wait(120)
    control[Control.READY + sender] = 1
    cpu_before = time.process_time_ns()
    for thread in threads:
        thread.join()
    control[Control.cpu_slot(sender, senders)] = time.process_time_ns() - cpu_before
