"""What ``ringex serve`` checks before it creates anything.

Why it exists: a start that cannot work must fail at once, with one line that names the
problem, and exit non-zero. Without these checks a port in use showed up as a gateway child
that died and was restarted in a loop, a second exchange on the same runtime directory
overwrote the first one's ring names and journal base, and a Kafka or Redis that did not
answer surfaced deep inside a child process.

Each check raises :class:`ringex.errors.StartupError`; the CLI prints it and exits 2. The
runtime-directory lock is an ``flock`` held by the supervisor process for its whole life: the
kernel drops it when that process ends, however it ends, so a killed exchange never leaves a
stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket

from ringex.errors import StartupError
from ringex.var_layout import VarLayout

__all__ = ["hold_var_dir", "check_bind", "check_services"]

_SERVICE_TIMEOUT_S = 5.0


def hold_var_dir(var_dir: str | os.PathLike):
    """Lock ``var_dir`` for this process; returns the open lock file (keep it open)."""
    path = VarLayout(var_dir).serve_lock
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(path, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise StartupError(f"runtime directory {var_dir} is in use by another ringex serve "
                           f"(pid {holder}); stop it, or give this one its own --var-dir"
                           ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def check_bind(address: str, setting: str) -> None:
    """Can a server listen on ``host:port`` (as gunicorn would, with SO_REUSEADDR)?"""
    host, _, port = address.rpartition(":")
    try:
        port_number = int(port)
    except ValueError:
        raise StartupError(f"{setting} {address!r}: expected host:port") from None
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port_number))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"{setting} {address}: address already in use (another "
                                   f"ringex serve or another server?); choose a free one"
                                   ) from None
            raise StartupError(f"{setting} {address}: cannot listen there: "
                               f"{exc.strerror}") from None


def check_services(settings) -> None:
    """Distributed mode: Redis answers PING and the Kafka cluster answers a metadata request,
    each within a few seconds."""
    import redis

    try:
        client = redis.Redis.from_url(settings.redis.url, socket_timeout=_SERVICE_TIMEOUT_S,
                                      socket_connect_timeout=_SERVICE_TIMEOUT_S)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        raise StartupError(f"Redis at {settings.redis.url} does not answer: {exc}") from None

    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap,
                         "socket.connection.setup.timeout.ms": int(_SERVICE_TIMEOUT_S * 1000),
                         "logger": _quiet_logger()})
    try:
        admin.list_topics(timeout=_SERVICE_TIMEOUT_S * 2)
    except Exception as exc:  # noqa: BLE001 - KafkaException or a timeout: both mean "down"
        raise StartupError(f"Kafka at {settings.kafka.bootstrap} does not answer: "
                           f"{exc}") from None


def _quiet_logger():
    """librdkafka logs every failed connection attempt; the StartupError says it once."""
    import logging

    logger = logging.getLogger("ringex.preflight.kafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger
