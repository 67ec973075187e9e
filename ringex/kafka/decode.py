"""One Kafka `orders` message -> the command records the bridge writes into the inbound ring.

Why it exists: every message of `orders` must have exactly one outcome in `order-events`,
even a malformed one. So this module never lets a bad message vanish: it either decodes it,
or (:func:`invalid_command`) turns it into a one-record command of ``kind = 0`` that the
matcher rejects with ``INVALID_COMMAND``.

**Format rule** (a header wins over sniffing):

1. a header ``content-type`` (name case-insensitive) of ``application/json`` (parameters
   like ``; charset=utf-8`` allowed) means JSON; ``application/x-ringex-frame`` means a binary
   frame; any other value is a malformed message (field ``content-type``);
2. without that header, a payload starting with the frame magic ``b"RGXF"`` is a binary frame;
3. anything else is JSON (one command per message).

**Fields set by the bridge on every record**: ``source_partition`` and ``source_offset``
(where the message sits in `orders`) and ``timestamp_ns`` (the Kafka message timestamp in
ns, so a replay gives the same value; 0 when the message has none). JSON NEW orders get
``order_id = kafka_order_id(partition, offset)``. Records of a binary frame keep the
``order_id`` they carry (the frame's producer assigns ids; see docs/kafka.md).

**Batches**: :func:`decode_json_messages` decodes many JSON messages in one compiled pass
(:func:`ringex.wire.json_commands.decode_batch`), with exactly the records and errors that
:func:`decode_message` gives one by one; a bridge that collects the JSON messages of a poll
can use it instead of a call per message.

Pure functions over message fields; no client is touched here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ringex.errors import ValidationError
from ringex.records import COMMAND_DTYPE
from ringex.wire.frames import decode_frame
from ringex.wire.ids import OFFSET_BITS, kafka_order_id
from ringex.wire.json_commands import (decode_batch, decode_command, message_identity,
                                       rejection_reason)
from ringex.wire.record_checks import command_errors

__all__ = ["FRAME_MAGIC", "CONTENT_TYPE_JSON", "CONTENT_TYPE_FRAME", "message_format",
           "decode_message", "decode_json_messages", "frame_record_errors", "invalid_command",
           "timestamp_ns_of", "pair_id_of_key", "records_of_message"]

FRAME_MAGIC = b"RGXF"
_OFFSET_LIMIT = (1 << OFFSET_BITS) - 1  # kafka_order_id refuses offsets from here on
CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_FRAME = "application/x-ringex-frame"


def message_format(payload: bytes | None, headers) -> str:
    """``"json"`` or ``"frame"`` by the rule above; ``ValidationError('content-type')``."""
    for name, value in headers or ():
        if name.lower() != "content-type":
            continue
        text = (value or b"").decode("latin-1") if isinstance(value, (bytes, bytearray)) \
            else str(value or "")
        media_type = text.split(";", 1)[0].strip().lower()
        if media_type == CONTENT_TYPE_JSON:
            return "json"
        if media_type == CONTENT_TYPE_FRAME:
            return "frame"
        raise ValidationError("content-type", f"unsupported content type {text[:80]!r} "
                              f"(expected {CONTENT_TYPE_JSON} or {CONTENT_TYPE_FRAME})")
    if payload is not None and payload[:4] == FRAME_MAGIC:
        return "frame"
    return "json"


def timestamp_ns_of(message) -> int:
    """The Kafka timestamp of ``message`` in ns (0 if it has none)."""
    kind, millis = message.timestamp()
    return millis * 1_000_000 if kind != 0 and millis > 0 else 0


def decode_message(payload: bytes | None, headers, registry, *, partition: int, offset: int,
                   timestamp_ns: int, default_account: int) -> tuple[np.ndarray, str]:
    """``(COMMAND_DTYPE records, "json" | "frame")`` of one message; ``ValidationError`` if
    it is malformed."""
    if payload is None or len(payload) == 0:
        raise ValidationError("payload", "empty message (no value)")
    if (headers or payload[:4] == FRAME_MAGIC) and message_format(payload, headers) == "frame":
        commands = np.array(decode_frame(payload), dtype=COMMAND_DTYPE, copy=True).reshape(-1)
        if commands.shape[0] == 0:
            raise ValidationError("payload", "a frame with no records")
        commands["source_partition"] = partition
        commands["source_offset"] = offset
        commands["timestamp_ns"] = timestamp_ns
        return commands, "frame"
    command = decode_command(payload, registry, order_id=kafka_order_id(partition, offset),
                             timestamp_ns=timestamp_ns, default_account=default_account,
                             source_partition=partition, source_offset=offset)
    return command, "json"


def decode_json_messages(payloads: Sequence[bytes | None], registry, *, partition: int,
                         offsets: Sequence[int], timestamps_ns: Sequence[int],
                         default_account: int, keys: Sequence[bytes | None] | None = None
                         ) -> tuple[np.ndarray, list[tuple[int, ValidationError]]]:
    """JSON messages of one partition (their format already decided as ``"json"``), decoded
    together: ``(one record per message, [(index, error), ...])``.

    Record ``i`` is what :func:`decode_message` returns for message ``i``, or, if that raises,
    :func:`invalid_command` (with the pair of ``keys[i]``, when given); ``errors`` holds the
    ``ValidationError`` s :func:`decode_message` would raise, for the DLQ and the metrics.
    """
    count = len(payloads)
    if len(offsets) != count or len(timestamps_ns) != count:
        raise ValueError("offsets and timestamps_ns need one entry per payload")
    positions = np.array(offsets, dtype=np.int64).reshape(count)
    if count and not (positions.min() >= 0 and positions.max() < _OFFSET_LIMIT):
        for offset in offsets:
            kafka_order_id(partition, offset)  # raises the ValueError naming the bad one
    order_ids = positions + (kafka_order_id(partition, 0) if count else 0)
    empty = [index for index, payload in enumerate(payloads) if not payload]
    records, errors = decode_batch([payload or b"" for payload in payloads], registry,
                                   order_ids=order_ids, timestamp_ns=timestamps_ns,
                                   default_account=default_account,
                                   source_partition=partition, source_offsets=offsets)
    if empty:
        empty_error = ValidationError("payload", "empty message (no value)")
        by_index = dict(errors) | {index: empty_error for index in empty}
        errors = sorted(by_index.items())
    if keys is not None:
        for index, _ in errors:
            records["pair_id"][index] = pair_id_of_key(keys[index], registry)
    return records, errors


def frame_record_errors(commands: np.ndarray, registry) -> list:
    """``[(index, ValidationError('records[i].<field>'))]``: the stateless checks of a frame's
    records. Such records still go to the engine (its ``REJECTED`` event gives the exact
    reason); the bridge only copies the frame to the DLQ for people to see."""
    return command_errors(commands, registry)


def pair_id_of_key(key: bytes | None, registry) -> int:
    """The pair named by a message key (`orders` is keyed by pair), or -1."""
    if not key or len(key) > 40:
        return -1
    try:
        return registry.get(key.decode("ascii")).pair_id
    except (UnicodeDecodeError, ValidationError):
        return -1


def invalid_command(*, partition: int, offset: int, timestamp_ns: int, pair_id: int = -1,
                    error: ValidationError | None = None, payload: bytes | None = None,
                    default_account: int = 0) -> np.ndarray:
    """The stand-in record of a malformed message: ``kind = 0``, so the matcher emits one
    ``REJECTED`` event carrying ``order_id = kafka_order_id(partition, offset)``, the
    message's position and its key's pair (or -1). Its reason is the decoder's
    (:func:`~ringex.wire.json_commands.rejection_reason` of ``error``, in ``status``;
    ``INVALID_COMMAND`` without one), and its account and client order id are the message's
    own when they can be read (:func:`~ringex.wire.json_commands.message_identity`)."""
    record = np.zeros(1, dtype=COMMAND_DTYPE)
    record["order_id"] = kafka_order_id(partition, offset)
    record["pair_id"] = pair_id
    if error is not None:
        record["status"] = rejection_reason(error)
    if payload is not None and payload[:4] != FRAME_MAGIC:
        record["account"], record["client_order_id"] = message_identity(payload,
                                                                        default_account)
    record["source_partition"] = partition
    record["source_offset"] = offset
    record["timestamp_ns"] = timestamp_ns
    return record


def records_of_message(message, registry, *, default_account: int
                       ) -> tuple[np.ndarray, ValidationError | None]:
    """``(records, error)``: what the bridge writes for one consumed ``message`` (one
    instance owning every partition), its decoded commands (error None) or the stand-in of a
    malformed message with its reason and identity. For oracles that replay `orders` as the
    bridge decodes it."""
    stamp = timestamp_ns_of(message)
    try:
        records, _ = decode_message(message.value(), message.headers(), registry,
                                    partition=message.partition(), offset=message.offset(),
                                    timestamp_ns=stamp, default_account=default_account)
        return records, None
    except ValidationError as exc:
        return invalid_command(partition=message.partition(), offset=message.offset(),
                               timestamp_ns=stamp,
                               pair_id=pair_id_of_key(message.key(), registry), error=exc,
                               payload=message.value(), default_account=default_account), exc
