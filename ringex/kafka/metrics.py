"""Optional Prometheus hooks for the Kafka edges.

The bridge and the publisher take a :class:`KafkaMetrics` (or ``None``) and only ever call
:meth:`KafkaMetrics.inc` / :meth:`KafkaMetrics.error`, so they run without prometheus-client
and tests need no registry. Each field is a prometheus-client ``Counter`` or ``None`` (that
hook is off); ``errors`` must carry exactly one label, ``kind``.

The owner of a process (the supervisor's child) builds it with :meth:`KafkaMetrics.create`;
in a multi-process deployment it is the caller's job to set up prometheus-client's
multiprocess mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["KafkaMetrics", "ERROR_KINDS"]

#: Values of the ``kind`` label of ``errors``.
ERROR_KINDS = (
    "consume",  # the consumer returned an error event (logged, the loop goes on)
    "decode",  # a malformed message (also counted in ``dlq``)
    "dlq",  # a copy to the dead-letter topic could not be delivered
    "delivery",  # a produce to trades / order-events failed (retried after a rebuild)
    "fatal",  # a fatal client error: the client was rebuilt
    "ring",  # the ring refused a write for longer than the retry interval
)


@dataclass(frozen=True)
class KafkaMetrics:
    messages_in: Any = None  # bridge: Kafka messages consumed from `orders`
    commands_out: Any = None  # bridge: command records written into the inbound ring
    dlq: Any = None  # bridge: malformed messages copied to the DLQ
    batches: Any = None  # bridge: ring writes; publisher: ring batches published
    events_out: Any = None  # publisher: messages acknowledged into `order-events`
    trades_out: Any = None  # publisher: messages acknowledged into `trades`
    skipped: Any = None  # publisher: events already in Kafka at start (resume rule)
    errors: Any = None  # both; label ``kind`` (see ERROR_KINDS)

    @classmethod
    def create(cls, role: str, registry=None, prefix: str = "ringex") -> "KafkaMetrics":
        """Counters named ``<prefix>_<role>_<field>_total`` in ``registry``."""
        from prometheus_client import REGISTRY, Counter

        registry = REGISTRY if registry is None else registry

        def counter(name: str, doc: str, labels=()):
            return Counter(f"{prefix}_{role}_{name}", doc, labels, registry=registry)

        return cls(
            messages_in=counter("messages_in", "Kafka messages consumed"),
            commands_out=counter("commands_out", "command records written into the ring"),
            dlq=counter("dlq", "malformed messages copied to the dead-letter topic"),
            batches=counter("batches", "batches moved"),
            events_out=counter("events_out", "events acknowledged by Kafka"),
            trades_out=counter("trades_out", "trades acknowledged by Kafka"),
            skipped=counter("skipped", "events skipped because Kafka already had them"),
            errors=counter("errors", "Kafka and ring errors", ("kind",)),
        )

    def inc(self, name: str, amount: int = 1) -> None:
        counter = getattr(self, name)
        if counter is not None and amount:
            counter.inc(amount)

    def error(self, kind: str) -> None:
        if self.errors is not None:
            self.errors.labels(kind=kind).inc()


#: What the loops use when the caller passes ``metrics=None``.
NO_METRICS = KafkaMetrics()
