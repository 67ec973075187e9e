"""A real embedded exchange (``ringex serve`` in a subprocess, gunicorn on an ephemeral
loopback port) for the end-to-end gateway tests, and a tiny HTTP client and bounded waits for
any gateway on loopback (the gateway and runtime tests).

The subprocess gets a clean environment (no ``RINGEX_KAFKA_BOOTSTRAP``/``RINGEX_REDIS_URL``
from ``scripts/test.sh``, which would switch it to distributed mode), its own ``var`` dir and
its own segment prefix. Every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningExchange:
    process: subprocess.Popen
    host: str
    port: int
    var_dir: Path
    log_path: Path
    api_key: str

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(self, method: str, path: str, body=None, headers=None, timeout: float = 10.0):
        """``(status, headers with lower-case names, parsed JSON or text)``."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            connection.request(method, path, body=payload, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
            content_type = response.getheader("Content-Type", "")
            parsed = json.loads(raw) if "json" in content_type and raw else raw.decode()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed
        finally:
            connection.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_exchange(var_dir: Path, *, extra_env: dict[str, str] | None = None,
                   workers: int = 2, startup_timeout: float = 90.0) -> RunningExchange:
    port = free_port()
    var_dir.mkdir(parents=True, exist_ok=True)
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(var_dir),
        "RINGEX_RUNTIME_SEGMENT_PREFIX": f"rgxgw{os.getpid() % 100000}{port}",
        "RINGEX_GATEWAY_WORKERS": str(workers),
        "RINGEX_RUNTIME_JOURNAL_FSYNC": "true",
        "RINGEX_RUNTIME_METRICS_PORT": str(free_port()),
        **(extra_env or {}),
    }
    for name in ("NUMBA_CACHE_DIR", "TMPDIR"):
        if name in os.environ:
            environ[name] = os.environ[name]
    log_path = var_dir / "serve.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ringex.cli", "serve", "--var-dir", str(var_dir),
         "--bind", f"127.0.0.1:{port}"],
        cwd=REPO, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    exchange = RunningExchange(process, "127.0.0.1", port, var_dir, log_path, "")
    deadline = time.monotonic() + startup_timeout
    key_path = var_dir / "run" / "demo-key"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ringex serve exited with {process.returncode}:\n{exchange.log()}")
        try:
            status, _, body = exchange.request("GET", "/health", timeout=2.0)
        except OSError:
            status = 0
        if status == 200 and (key_path.exists() or "RINGEX_GATEWAY_API_KEYS" in environ):
            if key_path.exists():
                exchange.api_key = key_path.read_text().strip()
            return exchange
        time.sleep(0.2)
    stop_exchange(exchange)
    raise RuntimeError(f"the gateway did not become healthy in {startup_timeout}s:\n"
                       f"{exchange.log()}")


def stop_exchange(exchange: RunningExchange, timeout: float = 40.0) -> int:
    process = exchange.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    return process.returncode


def gateway_request(port: int, method: str, path: str, body=None, key: str | None = None):
    """``(status, parsed JSON or None)`` of one JSON request to a gateway on loopback, as the
    account of API key ``key``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["X-API-Key"] = key
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def until(predicate, deadline: float, what: str, interval: float = 0.1):
    """The first truthy ``predicate()`` before ``deadline`` (``time.monotonic()``), else
    AssertionError naming ``what``; one deadline can bound several waits of a test."""
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """The first truthy ``predicate()`` within ``timeout`` seconds, else AssertionError."""
    return until(predicate, time.monotonic() + timeout, f"a condition for {timeout}s", interval)
