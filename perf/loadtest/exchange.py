"""The exchange under test: a ``ringex serve --kafka --redis`` subprocess of our own, or a
running one named by its bootstrap address and topics.

:func:`start_exchange` runs ``python -m ringex.cli serve`` with a clean environment (no
inherited ``RINGEX_*`` variable), topics and a shared-memory prefix unique to this run, its
var dir (and log) in a temporary directory, and metrics off. With ``gateway=True`` it also
serves REST on a free loopback port with one API key per account
(``loadtest-<tag>-<account>``, for accounts 1 .. ``accounts``) and rate limits high enough
not to be the thing measured. :meth:`Exchange.stop` sends SIGTERM and waits (bounded), then
deletes the run's topics and Redis keys unless told to keep them.

``roles()`` reads the supervisor's "started <role> (pid N)" log lines, so CPU shares can be
reported per process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Exchange", "start_exchange", "attach_exchange"]

_STARTED = re.compile(r"started (\S+) \(pid (\d+)\)")


@dataclass
class Exchange:
    bootstrap: str
    redis_url: str
    topics: dict  # orders, dlq, trades, events -> name
    partitions: int
    settings_env: dict = field(default_factory=dict)
    process: subprocess.Popen | None = None
    var_dir: str = ""
    log_path: str = ""
    gateway_url: str = ""
    api_keys: dict = field(default_factory=dict)  # account -> key
    redis_prefix: str = ""

    @property
    def owned(self) -> bool:
        return self.process is not None

    def settings(self):
        from ringex.config import load_settings

        return load_settings(environ=self.settings_env)

    def roles(self) -> dict[str, int]:
        if not self.log_path or not Path(self.log_path).exists():
            return {}
        text = Path(self.log_path).read_text(errors="replace")
        roles = {role: int(pid) for role, pid in _STARTED.findall(text)}
        if self.process is not None:
            roles["supervisor"] = self.process.pid
        return roles

    def log_tail(self, chars: int = 4000) -> str:
        if not self.log_path or not Path(self.log_path).exists():
            return ""
        return Path(self.log_path).read_text(errors="replace")[-chars:]

    def stop(self, *, keep: bool = False, timeout: float = 120.0) -> int | None:
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait(timeout=30)
            if not keep:
                _delete_topics(self.bootstrap, list(self.topics.values()))
                _flush_redis(self.redis_url, self.redis_prefix)
                shutil.rmtree(self.var_dir, ignore_errors=True)
        return code


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_exchange(bootstrap: str, redis_url: str, *, partitions: int = 1, bridges: int = 1,
                   gateway: bool = False, accounts: int = 100, tag: str = "",
                   extra_env: dict | None = None) -> Exchange:
    tag = tag or f"{os.getpid()}-{time.time_ns() % 10**9}"
    var_dir = tempfile.mkdtemp(prefix=f"ringex-loadtest-{tag}-")
    topics = {name: f"loadtest-{tag}-{name}" for name in ("orders", "dlq", "trades", "events")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGEX_")}
    settings_env = {
        "RINGEX_KAFKA_BOOTSTRAP": bootstrap, "RINGEX_REDIS_URL": redis_url,
        "RINGEX_REDIS_PREFIX": f"loadtest:{tag}:",
        "RINGEX_KAFKA_ORDERS_TOPIC": topics["orders"], "RINGEX_KAFKA_DLQ_TOPIC": topics["dlq"],
        "RINGEX_KAFKA_TRADES_TOPIC": topics["trades"],
        "RINGEX_KAFKA_EVENTS_TOPIC": topics["events"],
        "RINGEX_KAFKA_PARTITIONS": str(partitions), "RINGEX_KAFKA_BRIDGES": str(bridges),
        "RINGEX_KAFKA_GROUP_ID": f"loadtest-{tag}",
        "RINGEX_RUNTIME_SEGMENT_PREFIX": f"rgxlt{tag.replace('-', '')}"[:24],
        "RINGEX_RUNTIME_VAR_DIR": var_dir, "RINGEX_RUNTIME_METRICS_PORT": "0",
        "RINGEX_GATEWAY_ENABLED": "true" if gateway else "false",
    }
    api_keys = {}
    gateway_url = ""
    if gateway:
        port = _free_port()
        api_keys = {account: f"loadtest-{tag}-{account}" for account in range(1, accounts + 1)}
        settings_env.update({
            "RINGEX_GATEWAY_BIND": f"127.0.0.1:{port}",
            "RINGEX_GATEWAY_API_KEYS": ",".join(f"{key}:{account}"
                                                for account, key in api_keys.items()),
            "RINGEX_GATEWAY_RATE_LIMIT_PER_S": "100000000",
            "RINGEX_GATEWAY_RATE_LIMIT_BURST": "100000000",
        })
        gateway_url = f"http://127.0.0.1:{port}"
    settings_env.update(extra_env or {})
    env.update(settings_env)
    log_path = str(Path(var_dir) / "serve.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "ringex.cli", "serve"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    exchange = Exchange(bootstrap=bootstrap, redis_url=redis_url, topics=topics,
                        partitions=partitions, settings_env=settings_env, process=process,
                        var_dir=var_dir, log_path=log_path, gateway_url=gateway_url,
                        api_keys=api_keys, redis_prefix=settings_env["RINGEX_REDIS_PREFIX"])
    deadline = time.monotonic() + 120
    while not (Path(var_dir) / "run" / "rings.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = exchange.log_tail()
            exchange.stop()
            raise RuntimeError(f"ringex serve did not start:\n{tail}")
        time.sleep(0.1)
    return exchange


def attach_exchange(bootstrap: str, redis_url: str, *, orders: str, trades: str, events: str,
                    dlq: str = "orders.dlq", gateway_url: str = "", api_keys: tuple = ()
                    ) -> Exchange:
    """A running exchange: nothing is started or deleted. ``api_keys`` (REST route): the
    keys to use, numbered 1, 2, ... (flow accounts are mapped onto them in turn)."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    if orders not in metadata.topics:
        raise RuntimeError(f"topic {orders!r} does not exist at {bootstrap}")
    partitions = len(metadata.topics[orders].partitions)
    return Exchange(bootstrap=bootstrap, redis_url=redis_url,
                    topics={"orders": orders, "dlq": dlq, "trades": trades, "events": events},
                    partitions=partitions, gateway_url=gateway_url,
                    api_keys={i + 1: key for i, key in enumerate(api_keys)})


def _delete_topics(bootstrap: str, names: list[str]) -> None:
    from confluent_kafka.admin import AdminClient

    try:
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        futures = admin.delete_topics(names, operation_timeout=30, request_timeout=30)
        for future in futures.values():
            try:
                future.result(timeout=30)
            except Exception as exc:  # noqa: BLE001 - a topic that never got created
                print(f"loadtest: could not delete a topic: {exc}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - cleanup must not hide the run's result
        print(f"loadtest: could not delete topics {names}: {exc}", file=sys.stderr)


def _flush_redis(url: str, prefix: str) -> None:
    if not prefix:
        return
    try:
        import redis

        from ringex.runtime.rebuild_redis import flush_prefix

        client = redis.Redis.from_url(url, socket_timeout=10)
        flush_prefix(client, prefix)
        client.close()
    except Exception:  # noqa: BLE001
        pass
