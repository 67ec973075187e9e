"""Drive the README's quick start against a copy of the source tree, timing each step.

Used by perf/compile_profile.py and perf/bench_first_start.py. :func:`copy_tree` makes a copy
of ``ringex/`` and ``gateway/`` with no ``__pycache__`` (numba's on-disk cache lives there), so
the copy starts with a cold cache; running it again reuses that copy's now warm cache.
:func:`serve_first_order` starts ``python -m ringex.cli serve`` (embedded defaults, a private
var dir, a free port), polls ``GET /health``, sends the README's first order (POST /order with
the demo key) and polls ``GET /orders/{id}`` until the order rests (``NEW``) or fills.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README_ORDER = {"pair": "BTC-USDT", "side": "SELL", "type": "LIMIT", "price": "65000.00",
                "amount": "0.5"}


def copy_tree(destination: Path) -> Path:
    """``ringex/`` and ``gateway/`` of this checkout under ``destination``, without caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", "*.lock")
    for package in ("ringex", "gateway"):
        shutil.copytree(REPO / package, destination / package, ignore=ignore)
    return destination


def clean_environment(tree: Path, extra_path: list[str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINGEX_", "NUMBA_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *extra_path])
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(method: str, url: str, body: dict | None = None, key: str | None = None,
          timeout: float = 30.0) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if key:
        request.add_header("X-API-Key", key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def run_warmup_pipeline(tree: Path, env: dict[str, str], timeout: float = 1800.0) -> dict:
    started, cpu0 = time.perf_counter(), os.times()
    result = subprocess.run([sys.executable, "-m", "ringex.warmup", "--pipeline"], env=env,
                            cwd=tree, capture_output=True, text=True, timeout=timeout)
    cpu1 = os.times()
    return {"seconds": round(time.perf_counter() - started, 2),
            "children_cpu_s": round(cpu1.children_user + cpu1.children_system
                                    - cpu0.children_user - cpu0.children_system, 2),
            "returncode": result.returncode, "stderr": result.stderr[-2000:],
            "stdout": result.stdout[-500:]}


def serve_first_order(tree: Path, env: dict[str, str], timeout: float = 1800.0) -> dict:
    """Seconds from ``ringex serve`` to: first /health 200, the POST's answer, the order
    resting or filled; plus what /health said meanwhile and the children's CPU seconds."""
    timings: dict[str, object] = {}
    health_seen: list[tuple[float, int, object]] = []
    with tempfile.TemporaryDirectory(prefix="ringex-first-start-") as var_dir:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(env, RINGEX_RUNTIME_VAR_DIR=var_dir, RINGEX_RUNTIME_METRICS_PORT="0",
                   RINGEX_GATEWAY_BIND=f"127.0.0.1:{port}",
                   RINGEX_RUNTIME_SEGMENT_PREFIX=f"rgxfs{os.getpid()}")
        log_path = Path(var_dir) / "serve.log"
        started, cpu0 = time.perf_counter(), os.times()
        with open(log_path, "w") as log:
            server = subprocess.Popen([sys.executable, "-m", "ringex.cli", "serve"], env=env,
                                      cwd=tree, stdout=log, stderr=subprocess.STDOUT)
        deadline = started + timeout
        key_path = Path(var_dir) / "run" / "demo-key"

        def now() -> float:
            return round(time.perf_counter() - started, 2)

        try:
            # the README's user: wait for the key, then send the order (no waiting for /health);
            # meanwhile /health's answers are recorded each time they change
            last_answer = None
            while not key_path.exists():
                if server.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError(f"serve exited or timed out before the demo key: "
                                       f"{log_path.read_text()[-3000:]}")
                try:
                    status, body = _http("GET", f"{base}/health", timeout=2)
                    answer = (status, body.get("detail") if isinstance(body, dict) else body)
                except (ConnectionError, urllib.error.URLError, OSError) as exc:
                    status, body = 0, f"no answer: {type(exc).__name__}"
                    answer = (0, body)
                if answer != last_answer:
                    health_seen.append((now(), status, body))
                    last_answer = answer
                time.sleep(0.25)
            key = key_path.read_text().strip()
            timings["demo_key_s"] = now()
            while True:  # a client that retries until the gateway accepts the connection
                try:
                    status, body = _http("GET", f"{base}/health", timeout=10)
                    break
                except (ConnectionError, urllib.error.URLError, OSError):
                    if time.perf_counter() > deadline:
                        raise
                    time.sleep(0.05)
            timings["gateway_listening_s"] = now()
            health_seen.append((now(), status, body))
            post_status = None
            while post_status not in (200, 201, 202):
                sent = time.perf_counter()
                post_status, post_body = _http("POST", f"{base}/order", README_ORDER, key,
                                               timeout=600)
                timings.setdefault("first_post_answer_s", round(time.perf_counter() - sent, 2))
                timings.setdefault("first_post_status", post_status)
                timings["longest_post_answer_s"] = max(
                    timings.get("longest_post_answer_s", 0), round(time.perf_counter() - sent, 2))
                if post_status not in (200, 201, 202):
                    timings.setdefault("post_errors", []).append([now(), post_status, post_body])
                    status, body = _http("GET", f"{base}/health", timeout=10)
                    health_seen.append((now(), status, body))
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"POST /order never accepted: {post_body}")
                    time.sleep(0.5)
            timings["order_accepted_s"] = now()
            order_id = post_body["order_id"]
            while True:
                status, body = _http("GET", f"{base}/orders/{order_id}", key=key)
                if status == 200 and body.get("status") in ("NEW", "FILLED", "PARTIALLY_FILLED"):
                    timings["order_in_book_s"] = now()
                    timings["order_status"] = body["status"]
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"order {order_id} never reached the book: {body}")
                time.sleep(0.1)
            while True:
                status, body = _http("GET", f"{base}/health", timeout=10)
                if status == 200:
                    timings["health_ok_s"] = now()
                    break
                time.sleep(0.2)
            health_seen.append((now(), status, body))
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            cpu1 = os.times()
            timings["children_cpu_s"] = round(cpu1.children_user + cpu1.children_system
                                              - cpu0.children_user - cpu0.children_system, 2)
            timings["returncode"] = server.returncode
            log_text = log_path.read_text()
            timings["log_tail"] = log_text[-4000:]
            timings["startup_lines"] = [line for line in log_text.splitlines()
                                        if line.startswith("ringex:")]
    timings["health_seen"] = health_seen
    return timings
