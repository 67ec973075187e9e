"""The binary frame: many fixed-size records in one Kafka message, for throughput.

Two kinds share one container: the command frame (magic ``RGXF``, ``COMMAND_DTYPE`` records,
into `orders`) and the event frame (magic ``RGXE``, ``EVENT_DTYPE`` records of 144 bytes, out
of the publisher into `order-events` and `trades` when ``kafka.events_format = "frame"``).

Why it exists: JSON costs microseconds per order; a frame costs a header check, a CRC and one
``np.frombuffer``. Layout (all integers little-endian)::

    offset  size  field
         0     4  magic           b"RGXF"
         4     2  frame_version   u16, FRAME_VERSION (1)
         6     2  record_version  u16, ringex.records.RECORD_VERSION
         8     4  record_size     u32, COMMAND_DTYPE.itemsize (72)
        12     4  count           u32, number of records, at most max_records
        16  72*n  records         COMMAND_DTYPE, packed back to back
    16+72n     4  crc32           u32, zlib CRC-32 of every byte before it

Nothing follows the CRC. The CRC is there because librdkafka does not verify Kafka's own
checksums by default (``check.crcs=false``) and a frame is applied record by record.

Version rule: ``frame_version`` changes when this header or trailer changes;
``record_version`` follows ``RECORD_VERSION``, which changes with ``COMMAND_DTYPE`` or
``EVENT_DTYPE``. A decoder
accepts exactly the versions it was built with and rejects any other, naming the field.

:func:`decode_frame` validates the container only and returns a read-only zero-copy view; the
records' values are checked by :mod:`ringex.wire.record_checks`; :func:`decode_event_frame`
does the same for event frames. Pure functions.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ringex.errors import ValidationError
from ringex.records import COMMAND_DTYPE, EVENT_DTYPE, RECORD_VERSION

__all__ = [
    "FRAME_MAGIC",
    "FRAME_VERSION",
    "FRAME_HEADER_SIZE",
    "FRAME_TRAILER_SIZE",
    "DEFAULT_MAX_RECORDS",
    "encode_frame",
    "decode_frame",
    "is_frame",
    "EVENT_FRAME_MAGIC",
    "encode_event_frame",
    "decode_event_frame",
    "is_event_frame",
]

FRAME_MAGIC = b"RGXF"
#: The event frame: the same container around ``EVENT_DTYPE`` records (the publisher's
#: ``kafka.events_format = "frame"`` output).
EVENT_FRAME_MAGIC = b"RGXE"
FRAME_VERSION = 1
DEFAULT_MAX_RECORDS = 65_536

_HEADER = struct.Struct("<4sHHII")
_TRAILER = struct.Struct("<I")
FRAME_HEADER_SIZE = _HEADER.size
FRAME_TRAILER_SIZE = _TRAILER.size


def encode_frame(commands: np.ndarray) -> bytes:
    """``commands`` (a 1-d ``COMMAND_DTYPE`` array) as one frame."""
    return _encode(FRAME_MAGIC, COMMAND_DTYPE, commands, "encode_frame")


def encode_event_frame(events: np.ndarray) -> bytes:
    """``events`` (a 1-d ``EVENT_DTYPE`` array) as one event frame (magic ``RGXE``)."""
    return _encode(EVENT_FRAME_MAGIC, EVENT_DTYPE, events, "encode_event_frame")


def is_frame(payload: bytes) -> bool:
    """Whether ``payload`` claims to be a frame (starts with the magic); JSON never does."""
    return payload[:4] == FRAME_MAGIC


def is_event_frame(payload: bytes) -> bool:
    """Whether ``payload`` claims to be an event frame; a JSON event never does."""
    return payload[:4] == EVENT_FRAME_MAGIC


def decode_frame(payload: bytes, *, max_records: int = DEFAULT_MAX_RECORDS) -> np.ndarray:
    """The records of a frame as a read-only view into ``payload`` (no copy).

    Raises ``ValidationError`` naming the field: ``payload`` (not bytes), ``header``
    (shorter than 16 bytes), ``magic``, ``frame_version``, ``record_version``,
    ``record_size``, ``count`` (over ``max_records``), ``length`` (truncated or trailing
    bytes), ``crc32``. Copy the view into the ring; it lives as long as ``payload``.
    """
    return _decode(FRAME_MAGIC, COMMAND_DTYPE, "COMMAND_DTYPE", payload, max_records)


def decode_event_frame(payload: bytes, *,
                       max_records: int = DEFAULT_MAX_RECORDS) -> np.ndarray:
    """The ``EVENT_DTYPE`` records of an event frame, a read-only view into ``payload``.

    Same container and the same named errors as :func:`decode_frame`, with magic ``RGXE``.
    """
    return _decode(EVENT_FRAME_MAGIC, EVENT_DTYPE, "EVENT_DTYPE", payload, max_records)


def _encode(magic: bytes, dtype: np.dtype, records: np.ndarray, name: str) -> bytes:
    if not isinstance(records, np.ndarray) or records.dtype != dtype:
        raise TypeError(f"{name} takes a {'COMMAND' if dtype is COMMAND_DTYPE else 'EVENT'}"
                        "_DTYPE array")
    if records.ndim != 1:
        raise ValueError(f"{name} takes a 1-d array")
    if len(records) > 0xFFFF_FFFF:
        raise ValueError("too many records for one frame")
    header = _HEADER.pack(magic, FRAME_VERSION, RECORD_VERSION, dtype.itemsize, len(records))
    body = np.ascontiguousarray(records).data
    crc = zlib.crc32(body, zlib.crc32(header))
    return b"".join((header, body, _TRAILER.pack(crc)))


def _decode(magic_expected: bytes, dtype: np.dtype, dtype_name: str, payload,
            max_records: int) -> np.ndarray:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ValidationError("payload", f"expected bytes, got {type(payload).__name__}")
    view = memoryview(payload).cast("B")
    if len(view) < FRAME_HEADER_SIZE:
        raise ValidationError(
            "header", f"truncated: {len(view)} bytes, a frame header has {FRAME_HEADER_SIZE}"
        )
    magic, frame_version, record_version, record_size, count = _HEADER.unpack_from(view)
    if magic != magic_expected:
        raise ValidationError("magic", f"expected {magic_expected!r}, got {bytes(magic)!r}")
    if frame_version != FRAME_VERSION:
        raise ValidationError(
            "frame_version", f"unsupported version {frame_version}; this decoder reads {FRAME_VERSION}"
        )
    if record_version != RECORD_VERSION:
        raise ValidationError(
            "record_version",
            f"unsupported record version {record_version}; this decoder reads {RECORD_VERSION}",
        )
    if record_size != dtype.itemsize:
        raise ValidationError(
            "record_size", f"{record_size} bytes; {dtype_name} records are {dtype.itemsize}"
        )
    if count > max_records:
        raise ValidationError("count", f"{count} records exceeds the limit of {max_records}")
    expected = FRAME_HEADER_SIZE + count * record_size + FRAME_TRAILER_SIZE
    if len(view) < expected:
        raise ValidationError(
            "length", f"truncated: {count} records need {expected} bytes, got {len(view)}"
        )
    if len(view) > expected:
        raise ValidationError(
            "length", f"{len(view) - expected} trailing bytes after the CRC ({expected} expected)"
        )
    crc_at = expected - FRAME_TRAILER_SIZE
    (crc,) = _TRAILER.unpack_from(view, crc_at)
    if zlib.crc32(view[:crc_at]) != crc:
        raise ValidationError("crc32", "checksum mismatch: the frame is corrupt")
    records = np.frombuffer(view, dtype=dtype, count=count, offset=FRAME_HEADER_SIZE)
    records.flags.writeable = False
    return records
