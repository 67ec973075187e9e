"""librdkafka client configurations, and which settings the Kafka edges read.

Every client of the Kafka edges is built here, inside the process that uses it: librdkafka
is not fork-safe, so no producer or consumer may exist in a parent that forks afterwards.
The callers (``run_bridge``, ``run_kafka_publisher``, ``read_resume_seqs``) create their
clients on entry and destroy them before returning.

The Kafka edges read the ``kafka`` section of the settings only
(:class:`ringex.config.KafkaSettings`): their callers pass ``settings.kafka`` and whatever
else they need (the bridge's default account) as arguments.
"""

from __future__ import annotations

import logging
from typing import Any

from ringex.config import KafkaSettings

__all__ = ["kafka_section", "consumer_config", "producer_config",
           "transactional_producer_config", "describe_error"]

log = logging.getLogger("ringex.kafka")


def kafka_section(kafka: KafkaSettings) -> KafkaSettings:
    """``kafka``, once it is known to name a broker."""
    if not kafka.bootstrap:
        raise ValueError("kafka settings have no bootstrap address")
    return kafka


def _error_cb(name: str):
    def on_error(err) -> None:
        # librdkafka reports transient transport errors here and retries by itself; only a
        # fatal one needs the caller (it surfaces again from poll/produce/delivery reports).
        level = logging.ERROR if err.fatal() else logging.WARNING
        log.log(level, "%s: kafka client error: %s", name, describe_error(err))

    return on_error


def consumer_config(bootstrap: str, group_id: str, *, client_id: str,
                    reset: str = "earliest", **extra: Any) -> dict[str, Any]:
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": reset,
        "enable.partition.eof": False,
        "isolation.level": "read_committed",
        # librdkafka (>= 2.4) stops fetching a partition for this long once its local queue
        # holds queued.min.messages (100K): at 1 s, the default, a bridge that drained the
        # queue in 0.7 s then sat idle, and JSON orders went in at 110-170K/s instead of
        # as fast as it decodes
        "fetch.queue.backoff.ms": 1,
        "error_cb": _error_cb(client_id),
        "log_level": 3,
    }
    config.update(extra)
    return config


def producer_config(bootstrap: str, *, client_id: str, linger_ms: float = 2,
                    **extra: Any) -> dict[str, Any]:
    """An idempotent producer that never gives up on a message by itself.

    ``message.timeout.ms=0`` (infinite) means librdkafka retries retriable errors until it
    succeeds, so a delivery report carries only permanent errors; ``enable.gapless.guarantee``
    turns what would otherwise be a silent gap in a partition into a fatal error. Used for the
    DLQ copies and by clients (gateway, load tester); the publisher uses
    :func:`transactional_producer_config`.
    """
    config = {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "enable.gapless.guarantee": True,
        "max.in.flight.requests.per.connection": 5,
        "message.timeout.ms": 0,
        "linger.ms": linger_ms,
        "compression.type": "lz4",
        "error_cb": _error_cb(client_id),
        "log_level": 3,
    }
    config.update(extra)
    return config


def transactional_producer_config(bootstrap: str, transactional_id: str, *, client_id: str,
                                  linger_ms: float = 2, transaction_timeout_ms: int = 60_000,
                                  **extra: Any) -> dict[str, Any]:
    """The publisher's producer: transactional, so a successor fences its predecessor.

    librdkafka requires ``message.timeout.ms`` <= ``transaction.timeout.ms``, so unlike the
    plain idempotent producer a message can time out (broker down for longer than that). The
    failure then surfaces as an abortable transaction error, and the publisher aborts and
    sends the batch again: the wait is unbounded overall, one transaction at a time.
    ``enable.gapless.guarantee`` is an idempotent-producer option; transactions subsume it.
    """
    config = producer_config(bootstrap, client_id=client_id, linger_ms=linger_ms)
    del config["enable.gapless.guarantee"]
    config.update({
        "transactional.id": transactional_id,
        "transaction.timeout.ms": transaction_timeout_ms,
        "message.timeout.ms": max(1000, transaction_timeout_ms - 5000),
    })
    config.update(extra)
    return config


def describe_error(err) -> str:
    """``NAME (code): text [retriable|fatal]`` for a ``KafkaError``."""
    flags = [flag for flag, on in (("fatal", err.fatal()), ("retriable", err.retriable()),
                                   ("abortable", err.txn_requires_abort())) if on]
    suffix = f" [{', '.join(flags)}]" if flags else ""
    return f"{err.name()} ({err.code()}): {err.str()}{suffix}"
