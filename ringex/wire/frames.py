"""The binary frame: many ``COMMAND_DTYPE`` records in one Kafka message, for throughput.

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
``record_version`` follows ``RECORD_VERSION``, which changes with ``COMMAND_DTYPE``. A decoder
accepts exactly the versions it was built with and rejects any other, naming the field.

:func:`decode_frame` validates the container only and returns a read-only zero-copy view; the
records' values are checked by :mod:`ringex.wire.record_checks`. Pure functions.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ringex.errors import ValidationError
from ringex.records import COMMAND_DTYPE, RECORD_VERSION

__all__ = [
    "FRAME_MAGIC",
    "FRAME_VERSION",
    "FRAME_HEADER_SIZE",
    "FRAME_TRAILER_SIZE",
    "DEFAULT_MAX_RECORDS",
    "encode_frame",
    "decode_frame",
    "is_frame",
]

FRAME_MAGIC = b"RGXF"
FRAME_VERSION = 1
DEFAULT_MAX_RECORDS = 65_536

_HEADER = struct.Struct("<4sHHII")
_TRAILER = struct.Struct("<I")
FRAME_HEADER_SIZE = _HEADER.size
FRAME_TRAILER_SIZE = _TRAILER.size


def encode_frame(commands: np.ndarray) -> bytes:
    """``commands`` (a 1-d ``COMMAND_DTYPE`` array) as one frame."""
    if not isinstance(commands, np.ndarray) or commands.dtype != COMMAND_DTYPE:
        raise TypeError("encode_frame takes a COMMAND_DTYPE array")
    if commands.ndim != 1:
        raise ValueError("encode_frame takes a 1-d array")
    if len(commands) > 0xFFFF_FFFF:
        raise ValueError("too many records for one frame")
    header = _HEADER.pack(
        FRAME_MAGIC, FRAME_VERSION, RECORD_VERSION, COMMAND_DTYPE.itemsize, len(commands)
    )
    body = np.ascontiguousarray(commands).tobytes()
    crc = zlib.crc32(body, zlib.crc32(header))
    return b"".join((header, body, _TRAILER.pack(crc)))


def is_frame(payload: bytes) -> bool:
    """Whether ``payload`` claims to be a frame (starts with the magic); JSON never does."""
    return payload[:4] == FRAME_MAGIC


def decode_frame(payload: bytes, *, max_records: int = DEFAULT_MAX_RECORDS) -> np.ndarray:
    """The records of a frame as a read-only view into ``payload`` (no copy).

    Raises ``ValidationError`` naming the field: ``payload`` (not bytes), ``header``
    (shorter than 16 bytes), ``magic``, ``frame_version``, ``record_version``,
    ``record_size``, ``count`` (over ``max_records``), ``length`` (truncated or trailing
    bytes), ``crc32``. Copy the view into the ring; it lives as long as ``payload``.
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ValidationError("payload", f"expected bytes, got {type(payload).__name__}")
    view = memoryview(payload).cast("B")
    if len(view) < FRAME_HEADER_SIZE:
        raise ValidationError(
            "header", f"truncated: {len(view)} bytes, a frame header has {FRAME_HEADER_SIZE}"
        )
    magic, frame_version, record_version, record_size, count = _HEADER.unpack_from(view)
    if magic != FRAME_MAGIC:
        raise ValidationError("magic", f"expected {FRAME_MAGIC!r}, got {bytes(magic)!r}")
    if frame_version != FRAME_VERSION:
        raise ValidationError(
            "frame_version", f"unsupported version {frame_version}; this decoder reads {FRAME_VERSION}"
        )
    if record_version != RECORD_VERSION:
        raise ValidationError(
            "record_version",
            f"unsupported record version {record_version}; this decoder reads {RECORD_VERSION}",
        )
    if record_size != COMMAND_DTYPE.itemsize:
        raise ValidationError(
            "record_size", f"{record_size} bytes; COMMAND_DTYPE records are {COMMAND_DTYPE.itemsize}"
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
    records = np.frombuffer(view, dtype=COMMAND_DTYPE, count=count, offset=FRAME_HEADER_SIZE)
    records.flags.writeable = False
    return records
