"""The lease of an engine instance: which of several `ringex serve` processes that share one
``kafka.group_id`` runs it. Kafka decides; ringex has no cluster protocol of its own.

Every candidate joins the consumer group ``<group_id>-lease`` on the one-partition topic
``<orders_topic>.lease``. The member the group assigns that partition holds the lease. Nothing
is ever written to the topic, and nothing is read from it: the group's assignment is the whole
point.

* The assignor is ``cooperative-sticky``: a standby that joins never takes the partition away
  from the holder, so starting a standby does not disturb the running instance.
* A holder that stops cleanly closes its consumer, leaves the group, and a standby is assigned
  the partition at once.
* A holder that is killed (kill -9, a dead host) stops heartbeating; after
  ``session_ms`` the coordinator drops it and assigns the partition to a standby.
* A holder whose assignment is revoked or lost (its own session expired, say behind a network
  partition) sees :meth:`Lease.poll` return False. The caller must then stop everything it
  runs at once: another host may already be running the instance.

Static membership (``group.instance.id``) is deliberately not used: a killed static member
keeps its assignment until its session times out, and so does a dynamic one, but a restarted
static member would take the lease straight back from the standby that replaced it.

One :class:`Lease` per process, created after any fork (librdkafka is not fork-safe). The
caller must call :meth:`poll` at least every few seconds while it holds the lease.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Callable

from ringex.kafka.clients import consumer_config

__all__ = ["Lease", "lease_topic", "lease_group"]

log = logging.getLogger("ringex.kafka.lease")


def lease_topic(kafka) -> str:
    return f"{kafka.orders_topic}.lease"


def lease_group(kafka) -> str:
    return f"{kafka.group_id}-lease"


class Lease:
    """A candidate for the lease of ``group``; :meth:`acquire`, then :meth:`poll` to keep it."""

    def __init__(self, bootstrap: str, topic: str, group: str, *, session_ms: int = 6000,
                 client_id: str = "ringex-lease"):
        from confluent_kafka import Consumer

        self.topic, self.group = topic, group
        self.held = False
        self.lost_reason = ""
        self._closing = False
        self._consumer = Consumer(consumer_config(
            bootstrap, group, client_id=f"{client_id}-{uuid.uuid4().hex[:8]}",
            **{"partition.assignment.strategy": "cooperative-sticky",
               "session.timeout.ms": int(session_ms),
               "heartbeat.interval.ms": max(100, int(session_ms) // 6)}))
        self._consumer.subscribe([topic], on_assign=self._on_assign,
                                 on_revoke=self._on_revoke, on_lost=self._on_lost)

    def _on_assign(self, _consumer, partitions) -> None:
        if any(tp.topic == self.topic for tp in partitions):
            self.held = True
            log.info("lease %s: held", self.group)

    def _on_revoke(self, _consumer, partitions) -> None:
        if self._closing:
            return
        if self.held and any(tp.topic == self.topic for tp in partitions):
            self.held = False
            self.lost_reason = "revoked by a rebalance"
            log.error("lease %s: revoked", self.group)

    def _on_lost(self, _consumer, partitions) -> None:
        if self.held and any(tp.topic == self.topic for tp in partitions):
            self.held = False
            self.lost_reason = "lost (the session expired)"
            log.error("lease %s: lost; another instance may hold it now", self.group)

    def poll(self, timeout: float = 0.0) -> bool:
        """Serve the group protocol's callbacks; True while the lease is held."""
        message = self._consumer.poll(timeout)
        if message is not None and message.error() is not None:
            log.warning("lease %s: %s", self.group, message.error())
        return self.held

    def acquire(self, should_stop: Callable[[], bool] = lambda: False,
                timeout: float | None = None, interval: float = 0.2) -> bool:
        """Wait until the lease is held (True), or until ``should_stop()`` or ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        announced = False
        while not self.poll(interval):
            if should_stop() or (deadline is not None and time.monotonic() >= deadline):
                return False
            if not announced:
                log.info("lease %s: waiting (standby)", self.group)
                announced = True
        return True

    def close(self) -> None:
        """Leave the group: a standby gets the lease without waiting for a session timeout."""
        if self._closing:
            return
        self._closing = True
        try:
            self._consumer.close()
        finally:
            self.held = False
