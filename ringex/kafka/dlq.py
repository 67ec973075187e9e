"""The dead-letter copy of a malformed `orders` message.

The copy keeps the original key and headers and adds headers naming the error and where the
message came from (:func:`dlq_headers`). The copy is for people; the authoritative outcome of a
malformed message is its ``REJECTED`` event in `order-events`. So DLQ delivery never holds up
the ring: copies are produced asynchronously by an idempotent producer that retries without a
deadline, a permanent failure is logged with the original position and counted
(``errors{kind="dlq"}``), and the bridge flushes what is pending when it stops.

A payload above :data:`MAX_COPY_BYTES` (the broker's default message limit is about 1 MB) is
truncated, and the header ``ringex-truncated-from`` gives its original size.
"""

from __future__ import annotations

import logging

from ringex.kafka.clients import describe_error, producer_config
from ringex.kafka.metrics import NO_METRICS, KafkaMetrics

__all__ = ["DeadLetters", "dlq_headers", "MAX_COPY_BYTES", "HEADER_PREFIX"]

log = logging.getLogger("ringex.kafka.dlq")

MAX_COPY_BYTES = 512 * 1024
HEADER_PREFIX = "ringex-"


def dlq_headers(message, error) -> list[tuple[str, bytes]]:
    """The original headers, then ``ringex-error-field``, ``ringex-error-message``,
    ``ringex-original-topic``, ``ringex-original-partition``, ``ringex-original-offset``,
    ``ringex-original-timestamp`` (ms; -1 if none)."""
    _, millis = message.timestamp()
    headers = [(name, value) for name, value in (message.headers() or ())
               if not name.startswith(HEADER_PREFIX)]
    field = getattr(error, "field", "payload")
    text = getattr(error, "message", str(error))
    headers += [
        ("ringex-error-field", str(field).encode("utf-8", "replace")),
        ("ringex-error-message", str(text)[:1000].encode("utf-8", "replace")),
        ("ringex-original-topic", message.topic().encode()),
        ("ringex-original-partition", str(message.partition()).encode()),
        ("ringex-original-offset", str(message.offset()).encode()),
        ("ringex-original-timestamp", str(millis if millis is not None else -1).encode()),
    ]
    return headers


class DeadLetters:
    """An idempotent producer to the DLQ topic; create it inside the bridge process."""

    def __init__(self, bootstrap: str, topic: str, *, client_id: str,
                 metrics: KafkaMetrics = NO_METRICS):
        from confluent_kafka import Producer

        self.topic = topic
        self.metrics = metrics
        self.pending = 0
        self._producer = Producer(producer_config(bootstrap, client_id=client_id,
                                                  linger_ms=20))

    def copy(self, message, error, extra=()) -> None:
        payload = message.value() or b""
        headers = dlq_headers(message, error) + list(extra)
        if len(payload) > MAX_COPY_BYTES:
            headers.append(("ringex-truncated-from", str(len(payload)).encode()))
            payload = payload[:MAX_COPY_BYTES]
        position = f"{message.topic()}/{message.partition()}@{message.offset()}"

        def delivered(err, _msg) -> None:
            self.pending -= 1
            if err is not None:
                self.metrics.error("dlq")
                log.error("DLQ copy of %s lost: %s", position, describe_error(err))

        while True:
            try:
                self._producer.produce(self.topic, payload, key=message.key(),
                                       headers=headers, on_delivery=delivered)
                break
            except BufferError:
                self._producer.poll(0.1)
        self.pending += 1
        self.metrics.inc("dlq")
        self._producer.poll(0)

    def poll(self) -> None:
        self._producer.poll(0)

    def close(self, timeout: float = 5.0) -> None:
        left = self._producer.flush(timeout)
        if left:
            log.error("%d DLQ copies still undelivered at shutdown", left)
