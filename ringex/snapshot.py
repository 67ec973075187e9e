"""The snapshot file format: a matcher's canonical state plus its pairs, checksummed.

Layout (all integers little-endian)::

    magic      8 bytes   b"RGXSNAP\\0"
    version    u32       SNAPSHOT_VERSION
    header_len u32
    header     JSON      {"record_version", "pairs": [...], "words": n, "meta": {...}}
    words      n * i64   canonical state words (docs/matching.md, "State hash")
    digest     32 bytes  BLAKE2b-256 of everything above

The canonical words are the whole semantic state (the book and the client-order-id window),
so a snapshot is small (88 bytes per resting order, 16 per done client order id held by the
window) and independent of pool layout. ``meta`` is free-form, JSON-serializable data
of the caller's (input positions, for recovery).
"""

from __future__ import annotations

import hashlib
import json
import struct
from decimal import Decimal
from typing import Any

import numpy as np

from ringex.errors import SnapshotError
from ringex.pairs import Pair
from ringex.records import RECORD_VERSION

__all__ = ["SNAPSHOT_VERSION", "encode_snapshot", "decode_snapshot", "write_snapshot",
           "read_snapshot_meta"]

#: 2: the words end with the client-order-id window (docs/matching.md, "State hash").
SNAPSHOT_VERSION = 2
_MAGIC = b"RGXSNAP\0"
_PREFIX = struct.Struct("<8sII")
_DIGEST_BYTES = 32


def _pair_to_json(pair: Pair) -> dict[str, Any]:
    return {
        "pair_id": pair.pair_id,
        "name": pair.name,
        "tick_size": str(pair.tick_size),
        "lot_size": str(pair.lot_size),
        "min_qty_lots": pair.min_qty_lots,
        "max_qty_lots": pair.max_qty_lots,
        "band_lo_ticks": pair.band_lo_ticks,
        "band_hi_ticks": pair.band_hi_ticks,
    }


def _pair_from_json(item: dict[str, Any]) -> Pair:
    return Pair(
        pair_id=int(item["pair_id"]),
        name=str(item["name"]),
        tick_size=Decimal(item["tick_size"]),
        lot_size=Decimal(item["lot_size"]),
        min_qty_lots=int(item["min_qty_lots"]),
        max_qty_lots=int(item["max_qty_lots"]),
        band_lo_ticks=int(item["band_lo_ticks"]),
        band_hi_ticks=int(item["band_hi_ticks"]),
    )


def _head(pairs, words: np.ndarray, meta: dict[str, Any] | None) -> bytes:
    header = json.dumps(
        {
            "record_version": RECORD_VERSION,
            "pairs": [_pair_to_json(p) for p in pairs],
            "words": int(words.shape[0]),
            "meta": meta or {},
        },
        sort_keys=True,
    ).encode()
    return _PREFIX.pack(_MAGIC, SNAPSHOT_VERSION, len(header)) + header


def encode_snapshot(pairs, words: np.ndarray, meta: dict[str, Any] | None = None) -> bytes:
    body = _head(pairs, words, meta) + np.ascontiguousarray(words, dtype="<i8").tobytes()
    return body + hashlib.blake2b(body, digest_size=_DIGEST_BYTES).digest()


def write_snapshot(file, pairs, words: np.ndarray, meta: dict[str, Any] | None = None,
                   chunk_words: int = 1 << 20) -> int:
    """Write the bytes :func:`encode_snapshot` would return to the binary ``file``, streaming
    the words (no copy of the whole state); returns the size. hashlib and file writes release
    the GIL, so a writer thread runs beside the compiled engine loop."""
    words = np.ascontiguousarray(words, dtype="<i8")
    head = _head(pairs, words, meta)
    digest = hashlib.blake2b(head, digest_size=_DIGEST_BYTES)
    file.write(head)
    for start in range(0, words.shape[0], chunk_words):
        chunk = memoryview(words[start:start + chunk_words]).cast("B")
        digest.update(chunk)
        file.write(chunk)
    file.write(digest.digest())
    return len(head) + 8 * words.shape[0] + _DIGEST_BYTES


def read_snapshot_meta(blob_head: bytes) -> dict[str, Any]:
    """The header's ``meta`` from the first bytes of a snapshot (no checksum check: for
    listing and diagnostics only)."""
    magic, version, header_len = _PREFIX.unpack_from(blob_head)
    if magic != _MAGIC:
        raise SnapshotError("not a ringex snapshot (bad magic)")
    start = _PREFIX.size
    try:
        return json.loads(blob_head[start:start + header_len]).get("meta", {})
    except ValueError as exc:
        raise SnapshotError(f"snapshot header is malformed: {exc}") from exc


def decode_snapshot(blob: bytes) -> tuple[list[Pair], np.ndarray, dict[str, Any]]:
    """``(pairs, words, meta)``; raises :class:`SnapshotError` naming what is wrong."""
    if len(blob) < _PREFIX.size + _DIGEST_BYTES:
        raise SnapshotError(f"snapshot truncated: {len(blob)} bytes")
    magic, version, header_len = _PREFIX.unpack_from(blob)
    if magic != _MAGIC:
        raise SnapshotError("not a ringex snapshot (bad magic)")
    if version != SNAPSHOT_VERSION:
        hint = (" (version 1 predates the client-order-id window; recover from the input "
                "instead)" if version == 1 else "")
        raise SnapshotError(
            f"snapshot version {version} is not supported (this build reads "
            f"{SNAPSHOT_VERSION}){hint}"
        )
    body, digest = blob[:-_DIGEST_BYTES], blob[-_DIGEST_BYTES:]
    if hashlib.blake2b(body, digest_size=_DIGEST_BYTES).digest() != digest:
        raise SnapshotError("snapshot checksum mismatch: the file is corrupt or partial")
    start = _PREFIX.size
    try:
        header = json.loads(body[start : start + header_len])
        pairs = [_pair_from_json(item) for item in header["pairs"]]
        n_words = int(header["words"])
        record_version = int(header["record_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"snapshot header is malformed: {exc}") from exc
    if record_version != RECORD_VERSION:
        raise SnapshotError(
            f"snapshot records are version {record_version}, this build uses {RECORD_VERSION}"
        )
    payload = body[start + header_len :]
    if len(payload) != 8 * n_words:
        raise SnapshotError(f"snapshot holds {len(payload)} bytes of words, expected {8 * n_words}")
    words = np.frombuffer(payload, dtype="<i8").astype(np.int64)
    return pairs, words, header.get("meta", {})
