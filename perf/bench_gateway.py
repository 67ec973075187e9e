"""Gateway throughput and latency over loopback, with a bare Falcon baseline in the same run.

What it measures (one JSON line each with ``--json``):

* ``baseline``: a bare Falcon app under gunicorn with the same workers, worker class and
  threads as the gateway, answering a JSON POST (msgspec decode + encode): the ceiling of any
  Falcon gateway on this machine;
* ``single``: ``POST /order`` into a real embedded exchange (``ringex serve``: journal with
  fsync, engine, market data), each 202 durable in the journal;
* ``batch``: ``POST /orders/batch`` with ``--batch`` orders per request.

The load comes from ``--loaders`` separate processes, each keeping ``--connections``
requests in flight (closed loop, non-blocking sockets). By default each connection is kept
alive and carries one request after another; ``--no-keepalive`` opens a connection per
request (then latency includes the connect). Latency is the client-side round trip. A loader
that fails reports its traceback, and the run stops with an ``error`` line naming it.
Verification: every answer must be 2xx, and the journal must hold at least as many orders as
were acknowledged.

    .venv/bin/python perf/bench_gateway.py --json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from perf.machine import host, versions  # noqa: E402

API_KEY = "bench-key"
ACCOUNT = 7


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine_line() -> dict:
    return {"machine": host(), "versions": versions("falcon", "gunicorn", "msgspec", "numba")}


# -- servers ------------------------------------------------------------------------------
_BARE_APP = textwrap.dedent('''
    import falcon, msgspec
    _decode, _encode = msgspec.json.decode, msgspec.json.encode

    class Echo:
        def on_post(self, req, resp):
            body = _decode(req.bounded_stream.read())
            resp.data = _encode({"order_id": 1, "pair": body.get("pair"), "status": "RECEIVED"})
            resp.content_type = "application/json"
            resp.status = 202

    app = falcon.App()
    app.add_route("/order", Echo())
''')


def _wait_http(port: int, path: str, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no 200 from {path} within {timeout}s")


def start_bare(workdir: Path, workers: int, threads: int,
               worker_class: str) -> tuple[subprocess.Popen, int]:
    (workdir / "bare_app.py").write_text(_BARE_APP)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
         "--worker-class", worker_class, "--bind",
         f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning",
         "--chdir", str(workdir), "bare_app:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("bare falcon did not start")


def start_exchange(workdir: Path, workers: int, threads: int,
                   worker_class: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
        "RINGEX_RUNTIME_SEGMENT_PREFIX": f"rgxbench{os.getpid()}",
        "RINGEX_RUNTIME_METRICS_PORT": str(free_port()),
        "RINGEX_RUNTIME_LOG_LEVEL": "warning",
        "RINGEX_GATEWAY_WORKERS": str(workers),
        "RINGEX_GATEWAY_THREADS": str(threads),
        "RINGEX_GATEWAY_WORKER_CLASS": worker_class,
        "RINGEX_GATEWAY_API_KEYS": f"{API_KEY}:{ACCOUNT}",
        "RINGEX_GATEWAY_RATE_LIMIT_PER_S": "10000000",
        "RINGEX_GATEWAY_RATE_LIMIT_BURST": "10000000",
        "RINGEX_GATEWAY_MAX_BATCH_ORDERS": "1000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ringex.cli", "serve", "--var-dir", str(workdir / "var"),
         "--bind", f"127.0.0.1:{port}"],
        cwd=REPO, env=environ, stdout=open(workdir / "serve.log", "wb"),
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_http(port, "/health", 90, process)
    except RuntimeError as exc:
        stop(process)
        log = (workdir / "serve.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"ringex serve: {exc}; its log ends with:\n{log}") from None
    # /health says the journal is attached; the first durable order says every process is
    # past its start-up (a cold numba cache compiles for many seconds on 2 busy cores)
    status = _first_order(port, timeout=120)
    if status != 202:
        stop(process)
        log = (workdir / "serve.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"ringex serve: the first order got {status}; its log ends "
                           f"with:\n{log}")
    return process, port


def _first_order(port: int, timeout: float) -> int:
    import http.client

    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request("POST", "/order", body=order_bodies(1)[0],
                               headers={"X-API-Key": API_KEY,
                                        "Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            status = response.status
        finally:
            connection.close()
        if status != 503:  # 503: not durable in time yet, try again
            return status
    return status


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


# -- load -----------------------------------------------------------------------------------
def request_bytes(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {API_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def _loader(index: int, port: int, requests: list[bytes], connections: int, duration: float,
            warmup: float, keepalive: bool, results) -> None:
    """One load process: its counts, or the traceback of what stopped it, go to ``results``."""
    try:
        outcome = _closed_loop(port, requests, connections, duration, warmup, keepalive)
    except BaseException:  # noqa: BLE001 - the parent reports it; a silent death helps nobody
        import traceback

        outcome = {"error": traceback.format_exc()}
    results.put({"loader": index, **outcome})


def _closed_loop(port: int, requests: list[bytes], connections: int, duration: float,
                 warmup: float, keepalive: bool) -> dict:
    """Closed loop over ``connections`` sockets; round trips after ``warmup`` are kept. With
    ``keepalive`` the next request goes on the same connection unless the server closes it."""
    selector = selectors.DefaultSelector()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent_counter = [0]
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    def next_state() -> dict:
        payload = requests[sent_counter[0] % len(requests)]
        sent_counter[0] += 1
        return {"t0": time.perf_counter(), "out": payload, "in": b""}

    def launch() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE, next_state())

    for _ in range(connections):
        launch()
    while True:
        now = time.perf_counter()
        if now >= stop_at:
            break
        for key, events in selector.select(timeout=0.5):
            sock, state = key.fileobj, key.data
            if events & selectors.EVENT_WRITE:
                sent = sock.send(state["out"])
                state["out"] = state["out"][sent:]
                if not state["out"]:
                    selector.modify(sock, selectors.EVENT_READ, state)
                continue
            chunk = sock.recv(65536)
            state["in"] += chunk
            head, sep, body = state["in"].partition(b"\r\n\r\n")
            if not sep:
                if not chunk:
                    raise RuntimeError(f"connection closed before an answer "
                                       f"(got {len(state['in'])} bytes: {state['in'][:200]!r})")
                continue
            length = 0
            closing = not keepalive
            for line in head.split(b"\r\n")[1:]:
                name = line[:16].lower()
                if name.startswith(b"content-length:"):
                    length = int(line[15:])
                elif name.startswith(b"connection:"):
                    closing = closing or b"close" in line.lower()
            if len(body) < length:
                continue
            done = time.perf_counter()
            status = int(head[9:12])
            if state["t0"] >= measure_from:
                latencies.append(done - state["t0"])
                statuses[status] = statuses.get(status, 0) + 1
            if closing or done >= stop_at:
                selector.unregister(sock)
                sock.close()
                if done < stop_at:
                    launch()
            else:
                selector.modify(sock, selectors.EVENT_WRITE, next_state())
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    return {"latencies": latencies, "statuses": statuses}


class LoadFailed(RuntimeError):
    """A load process failed or vanished; the message says which and why."""


def _collect(processes, results, deadline: float) -> list[dict]:
    """Every loader's counts. A loader that reports an error, or dies without reporting, or
    a deadline that passes, raises :class:`LoadFailed` naming the loader and its cause."""
    import queue

    collected: dict[int, dict] = {}
    while len(collected) < len(processes):
        try:
            outcome = results.get(timeout=0.5)
        except queue.Empty:
            for index, process in enumerate(processes):
                if index not in collected and process.exitcode is not None:
                    # it may have put its outcome just before exiting: one last look
                    try:
                        outcome = results.get(timeout=1.0)
                    except queue.Empty:
                        raise LoadFailed(f"loader {index} exited with code {process.exitcode} "
                                         "without reporting (killed? out of memory?)") from None
                    break
            else:
                if time.monotonic() > deadline:
                    missing = sorted(set(range(len(processes))) - set(collected))
                    raise LoadFailed(f"loaders {missing} did not report before the deadline")
                continue
        if "error" in outcome:
            raise LoadFailed(f"loader {outcome['loader']} failed:\n{outcome['error']}")
        collected[outcome["loader"]] = outcome
    return [collected[index] for index in sorted(collected)]


def run_load(port: int, requests: list[bytes], *, loaders: int, connections: int,
             duration: float, warmup: float, keepalive: bool = False) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_loader, args=(i, port, requests[i::loaders] or requests,
                                                       connections, duration, warmup,
                                                       keepalive, results))
                 for i in range(loaders)]
    for process in processes:
        process.start()
    try:
        deadline = time.monotonic() + duration + warmup + 60
        collected = _collect(processes, results, deadline)
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    latencies = sorted(l for c in collected for l in c["latencies"])
    statuses: dict[int, int] = {}
    for c in collected:
        for status, count in c["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    count = len(latencies)

    def percentile(p: float) -> float:
        return latencies[min(count - 1, int(p * count))] * 1e3 if count else float("nan")

    return {"requests": count, "requests_per_s": round(count / duration, 1),
            "p50_ms": round(percentile(0.50), 3), "p99_ms": round(percentile(0.99), 3),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def order_bodies(count: int) -> list[bytes]:
    """Alternating buys and sells at one price: each pair trades, the book stays small."""
    bodies = []
    for i in range(count):
        side = "buy" if i % 2 == 0 else "sell"
        bodies.append(json.dumps({"pair": "BTC-USDT", "side": side, "type": "limit",
                                  "price": "65000.00", "amount": "0.01000"}).encode())
    return bodies


def batch_body(size: int, offset: int) -> bytes:
    orders = [{"pair": "BTC-USDT", "side": "BUY" if (offset + i) % 2 == 0 else "SELL",
               "order_type": "LIMIT", "price": "65000.00", "quantity": "0.01000"}
              for i in range(size)]
    return json.dumps({"orders": orders}).encode()


def journal_orders(var_dir: Path) -> int:
    from ringex.runtime.journal import read_journal

    path = next(var_dir.glob("journal/*.journal"))
    _, records = read_journal(path)
    return int((records["kind"] == 1).sum())


def _run_cases(args, load: dict, emit):
    """baseline, then single and batch against one exchange; the journal counts with them."""
    with tempfile.TemporaryDirectory(prefix="rgx-bench-gw-") as tmp:
        workdir = Path(tmp)
        bare, port = start_bare(workdir, args.workers, args.threads, args.worker_class)
        try:
            baseline = run_load(port, [request_bytes("/order", b) for b in order_bodies(2)],
                                **load)
        finally:
            stop(bare)
        emit({"case": "baseline_bare_falcon_json_post", **baseline,
              "orders_per_s": baseline["requests_per_s"]})

        exchange, port = start_exchange(workdir, args.workers, args.threads, args.worker_class)
        try:
            before = journal_orders(workdir / "var")
            single = run_load(port, [request_bytes("/order", b) for b in order_bodies(64)],
                              **load)
            single_journal = journal_orders(workdir / "var") - before
            batches = [request_bytes("/orders/batch", batch_body(args.batch, i))
                       for i in range(2)]
            batch = run_load(port, batches, **load)
            total_journal = journal_orders(workdir / "var") - before
        finally:
            stop(exchange)
    return baseline, single, single_journal, batch, total_journal


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16, help="per gthread gateway worker")
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    parser.add_argument("--loaders", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8, help="in flight per loader")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--keepalive", action=argparse.BooleanOptionalAction, default=True,
                        help="reuse each connection (default); --no-keepalive: one connection "
                             "per request")
    parser.add_argument("--json", action="store_true", help="JSON lines only")
    args = parser.parse_args(argv)

    def emit(record: dict) -> None:
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            print("  ".join(f"{k}={v}" for k, v in record.items()), flush=True)

    emit({"bench": "gateway", **machine_line(),
          "conditions": {"workers": args.workers, "threads": args.threads,
                         "worker_class": args.worker_class, "keepalive": args.keepalive,
                         "loaders": args.loaders,
                         "connections_per_loader": args.connections, "batch": args.batch,
                         "duration_s": args.duration, "warmup_s": args.warmup,
                         "journal_fsync": True}})
    load = dict(loaders=args.loaders, connections=args.connections, duration=args.duration,
                warmup=args.warmup, keepalive=args.keepalive)
    ok = True
    try:
        baseline, single, single_journal, batch, total_journal = _run_cases(args, load, emit)
    except (LoadFailed, RuntimeError) as exc:
        emit({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    acknowledged_single = single["statuses"].get("202", 0)
    emit({"case": "single_post_order", **single, "orders_per_s": single["requests_per_s"],
          "ratio_to_baseline": round(single["requests_per_s"] / baseline["requests_per_s"], 3),
          "journaled_orders_at_least": single_journal})
    emit({"case": f"batch_{args.batch}", **batch,
          "orders_per_s": round(batch["requests_per_s"] * args.batch, 1),
          "journaled_orders_total": total_journal})
    # Verification: only 2xx, and nothing acknowledged is missing from the journal.
    for name, result, good in (("baseline", baseline, "202"), ("single", single, "202"),
                               ("batch", batch, "200")):
        if set(result["statuses"]) - {good}:
            ok = False
            emit({"error": f"{name}: non-2xx answers {result['statuses']}"})
        if not result["requests"]:
            ok = False
            emit({"error": f"{name}: no answer at all in the measured {args.duration:g}s"})
    acknowledged = acknowledged_single + batch["statuses"].get("200", 0) * args.batch
    if total_journal < acknowledged:
        ok = False
        emit({"error": f"journal holds {total_journal} orders, {acknowledged} were acknowledged"})
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
