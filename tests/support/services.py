"""Pytest plugin: the real Kafka broker and Redis server used by the tests.

Registered by ``tests/conftest.py`` (``pytest_plugins = ["tests.support.services"]``). The
services are started by ``scripts/kafka.sh start`` and ``scripts/redis.sh start``
(``scripts/test.sh`` does both). A test that asks for a service which is not running FAILS with
a message saying how to start it: it is never skipped.

Fixtures
    kafka_bootstrap   "127.0.0.1:9092" (or $RINGEX_KAFKA_BOOTSTRAP) once the broker answers
    kafka_admin       a confluent_kafka AdminClient on it
    kafka_topics      factory: ``kafka_topics(partitions=1, prefix="t", config=None) -> name``;
                      creates uniquely named topics and deletes them after the test
    redis_url         "redis://127.0.0.1:6379/0" (or $RINGEX_REDIS_URL) once Redis answers
    redis_client      a redis.Redis (bytes responses) on it
    redis_prefix      a unique key prefix "test:<id>:"; every key under it is deleted after
                      the test

Helpers (plain functions, usable outside fixtures): ``unique_name``, ``check_kafka``,
``check_redis``, ``create_topics``, ``delete_topics``, ``flush_prefix``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator

import pytest

KAFKA_BOOTSTRAP = os.environ.get("RINGEX_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS_URL = os.environ.get("RINGEX_REDIS_URL", "redis://127.0.0.1:6379/0")

_KAFKA_HINT = "start it with `scripts/kafka.sh start` (scripts/test.sh starts it for the suite)"
_REDIS_HINT = "start it with `scripts/redis.sh start` (scripts/test.sh starts it for the suite)"


def unique_name(prefix: str = "t") -> str:
    """A name no other test, run or checkout will use: prefix-pid-random."""
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:10]}"


def _quiet_admin(bootstrap: str, **extra):
    from confluent_kafka.admin import AdminClient

    conf = {
        "bootstrap.servers": bootstrap,
        "socket.connection.setup.timeout.ms": 3000,
        "log_level": 0,  # librdkafka's "Connection refused" lines are noise here
        "error_cb": lambda err: None,
    }
    conf.update(extra)
    return AdminClient(conf)


# --- Kafka ---------------------------------------------------------------------------------


def check_kafka(bootstrap: str = KAFKA_BOOTSTRAP, timeout: float = 10.0) -> str | None:
    """None when a broker answers a metadata request at ``bootstrap``, else the reason."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError as exc:
        return f"confluent-kafka is not installed ({exc}); run `pip install -e '.[all]'`"
    admin = _quiet_admin(bootstrap)
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(timeout=max(0.5, min(3.0, deadline - time.monotonic())))
            if md.brokers:
                return None
            last = "metadata lists no brokers"
        except Exception as exc:  # KafkaException(_TRANSPORT) while nothing listens
            last = str(exc)
        time.sleep(0.2)
    return last


def create_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 1,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create topics and wait (bounded) until every partition has a leader."""
    from confluent_kafka.admin import NewTopic

    names = list(names)
    admin = _quiet_admin(bootstrap)
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1, config=dict(config or {}))
         for n in names],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for fut in futures.values():
        fut.result(timeout=timeout)
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {sorted(pending)} have no leader after {timeout}s")
        md = admin.list_topics(timeout=5)
        for name in list(pending):
            t = md.topics.get(name)
            if (t is not None and t.error is None and len(t.partitions) == partitions
                    and all(p.leader >= 0 for p in t.partitions.values())):
                pending.discard(name)
        if pending:
            time.sleep(0.1)


def delete_topics(bootstrap: str, names: Iterable[str], timeout: float = 30.0) -> None:
    """Delete topics; a topic that is already gone is fine."""
    from confluent_kafka import KafkaError, KafkaException

    names = list(names)
    if not names:
        return
    admin = _quiet_admin(bootstrap)
    futures = admin.delete_topics(names, operation_timeout=timeout, request_timeout=timeout)
    for fut in futures.values():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise


def read_committed(bootstrap: str, topic: str, *, enough=None, timeout: float = 30.0,
                   client_id: str = "check") -> list:
    """Every committed message of ``topic`` (``ringex.kafka.reading.read_to_end``), read again
    until ``enough(messages)`` holds or ``timeout`` passes; the last read either way.

    Why read again: the broker answers a commit once the transaction's outcome is in its log
    and writes the partitions' commit markers after that, so a read started right after a
    publisher's last commit can still stop below that transaction. A lost message stays
    missing after the wait, and the caller's comparison names it."""
    from ringex.kafka.reading import read_to_end

    deadline = time.monotonic() + timeout
    while True:
        messages = read_to_end(bootstrap, topic, timeout=max(1.0, deadline - time.monotonic()),
                               client_id=client_id)
        if enough is None or enough(messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.2)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The broker's bootstrap address, after checking that it answers (fails loudly if not)."""
    reason = check_kafka(KAFKA_BOOTSTRAP)
    if reason is not None:
        pytest.fail(
            f"the Kafka broker at {KAFKA_BOOTSTRAP} does not answer ({reason}); {_KAFKA_HINT}",
            pytrace=False,
        )
    return KAFKA_BOOTSTRAP


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap):
    return _quiet_admin(kafka_bootstrap)


@pytest.fixture
def kafka_topics(kafka_bootstrap) -> Iterator:
    """Factory of uniquely named topics, all deleted when the test ends."""
    created: list[str] = []

    def make(partitions: int = 1, prefix: str = "t", config: dict[str, str] | None = None) -> str:
        name = unique_name(prefix)
        create_topics(kafka_bootstrap, [name], partitions=partitions, config=config)
        created.append(name)
        return name

    yield make
    delete_topics(kafka_bootstrap, created)


# --- Redis ---------------------------------------------------------------------------------


def check_redis(url: str = REDIS_URL, timeout: float = 5.0) -> str | None:
    """None when Redis answers PING at ``url``, else the reason."""
    try:
        import redis
    except ImportError as exc:
        return f"redis-py is not installed ({exc}); run `pip install -e '.[all]'`"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            if client.ping():
                return None
        except redis.RedisError as exc:
            last = str(exc)
        finally:
            client.close()
        time.sleep(0.2)
    return last


def flush_prefix(client, prefix: str, batch: int = 500) -> int:
    """Delete every key that starts with ``prefix`` (SCAN + UNLINK); returns how many."""
    if not prefix or prefix in ("*", ":"):
        raise ValueError("refusing to flush an empty or catch-all prefix")
    pattern = prefix.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?").replace("[", "\\[") + "*"
    removed = 0
    keys = []
    for key in client.scan_iter(match=pattern, count=batch):
        keys.append(key)
        if len(keys) >= batch:
            removed += client.unlink(*keys)
            keys.clear()
    if keys:
        removed += client.unlink(*keys)
    return removed


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis URL, after checking that it answers PING (fails loudly if not)."""
    reason = check_redis(REDIS_URL)
    if reason is not None:
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({reason}); {_REDIS_HINT}", pytrace=False)
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted when the test ends."""
    prefix = f"test:{unique_name('k')}:"
    yield prefix
    flush_prefix(redis_client, prefix)
