"""The journal: in embedded mode, the input is on disk before the engine matches it.

The journal process is inbound consumer slot 0 and the engine depends on it, exactly like
the LMAX input Disruptor: a command reaches the matcher only after the journal has appended it
(and, with ``runtime.journal_fsync``, ``fdatasync``-ed it). Producers that must acknowledge
durability (gateway, ``ringex submit``) wait until the journal's sequence passes theirs.

File format: a 32-byte header (magic ``b"RGXJRNL1"``, record version, record size, first
position, 0 for every file this version creates) followed by raw ``COMMAND_DTYPE`` records;
record ``i`` of the file is **journal position** ``first + i``. The file spans every run of
the exchange on this ``var_dir``:

* at start the supervisor calls :func:`prepare_journal`: a partial last record (a kill during
  a write) is cut off, and the number of whole records becomes the run's **base**, written to
  ``<var>/run/journal.json`` with the inbound ring's name;
* inbound sequence ``s`` of the run is journal position ``base + s``; embedded clients stamp
  it as ``source_offset`` and give a NEW order the id ``base + s + 1``, so order ids never
  repeat across restarts;
* a restarted journal process first truncates the file to ``base + its consumer sequence + 1``
  records: what it wrote but had not released is still in the ring and is written again.

The engine recovers by replaying positions ``[snapshot position, ...)`` (:func:`read_range`).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from ringex.config import Settings
from ringex.records import COMMAND_DTYPE, RECORD_VERSION
from ringex.ring.ring import Ring
from ringex.ring.wait import ALERTED
from ringex.runtime.process_common import child_setup
from ringex.runtime.stats import StatsTable
from ringex.runtime.topology import RingNames, slots_for
from ringex.var_layout import VarLayout

__all__ = ["journal_main", "JOURNAL_MAGIC", "journal_path", "read_journal", "prepare_journal",
           "read_range", "journal_base", "write_journal_base"]

JOURNAL_MAGIC = b"RGXJRNL1"
_HEADER = struct.Struct("<8sIIq8x")
_RECORD = COMMAND_DTYPE.itemsize


def journal_path(settings: Settings) -> Path:
    return VarLayout(settings.runtime.var_dir).journal


def _check_header(data: bytes, path: Path) -> int:
    magic, version, size, first = _HEADER.unpack_from(data)
    if magic != JOURNAL_MAGIC or version != RECORD_VERSION or size != _RECORD:
        raise ValueError(f"{path} is not a journal of this record version")
    return first


def read_journal(path: Path):
    """``(first_position, records)`` of a journal file (for tests and replay)."""
    data = path.read_bytes()
    first = _check_header(data, path)
    body = data[_HEADER.size:]
    whole = len(body) // _RECORD * _RECORD
    return first, np.frombuffer(body[:whole], dtype=COMMAND_DTYPE).copy()


def prepare_journal(path: Path) -> int:
    """Create the file if missing, cut a partial last record; returns the next position."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size < _HEADER.size:
            os.ftruncate(fd, 0)
            os.write(fd, _HEADER.pack(JOURNAL_MAGIC, RECORD_VERSION, _RECORD, 0))
            os.fsync(fd)
            return 0
        first = _check_header(os.pread(fd, _HEADER.size, 0), path)
        records = (size - _HEADER.size) // _RECORD
        if _HEADER.size + records * _RECORD != size:
            os.ftruncate(fd, _HEADER.size + records * _RECORD)
            os.fsync(fd)
        return first + records
    finally:
        os.close(fd)


def read_range(path: Path, start: int, stop: int) -> np.ndarray:
    """Records of journal positions ``[start, stop)`` (clipped to what the file holds)."""
    with open(path, "rb") as f:
        first = _check_header(f.read(_HEADER.size), path)
        start = max(start, first)
        if stop <= start:
            return np.zeros(0, dtype=COMMAND_DTYPE)
        f.seek(_HEADER.size + (start - first) * _RECORD)
        return np.fromfile(f, dtype=COMMAND_DTYPE, count=stop - start)


def write_journal_base(var_dir, inbound: str, base: int) -> None:
    path = VarLayout(var_dir).journal_base
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"inbound": inbound, "base": int(base)}))
    os.replace(temporary, path)


def journal_base(var_dir, inbound: str) -> int:
    """The journal position of inbound sequence 0 of the run that owns ring ``inbound``."""
    path = VarLayout(var_dir).journal_base
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: is `ringex serve` running?") from None
    if content.get("inbound") != inbound:
        raise RuntimeError(f"{path} belongs to another run ({content.get('inbound')!r})")
    return int(content["base"])


def journal_main(settings: Settings, names: RingNames) -> None:
    logger = child_setup("journal", settings.runtime.log_level)
    slots = slots_for(names.embedded)
    ring = Ring.attach(names.inbound, COMMAND_DTYPE)
    consumer = ring.consumer(slots.journal)
    stats = StatsTable.attach(names.stats)
    row = stats.row("journal")
    path = journal_path(settings)
    base = journal_base(settings.runtime.var_dir, names.inbound)
    fd = os.open(path, os.O_RDWR | os.O_APPEND, 0o600)
    first = _check_header(os.pread(fd, _HEADER.size, 0), path)
    expected = _HEADER.size + (base + consumer.sequence + 1 - first) * _RECORD
    size = os.fstat(fd).st_size
    if size < expected:
        raise RuntimeError(f"{path} holds {size} bytes, fewer than the {expected} released")
    if size > expected:  # written, not released, by a journal process that died
        logger.warning("journal: cutting %d records written but not released",
                       (size - expected) // _RECORD)
        os.ftruncate(fd, expected)
    logger.info("journal at %s (base %d), fsync=%s", path, base, settings.runtime.journal_fsync)
    try:
        while True:
            batch = consumer.wait(timeout=0.5)
            if batch is None:
                if consumer.last_status == ALERTED:
                    break
                continue
            for view in batch.views:
                os.write(fd, memoryview(view).cast("B"))
            if settings.runtime.journal_fsync:
                os.fdatasync(fd)
            consumer.release(batch)
            row[0] += batch.high - batch.low + 1
            row[1] += 1
    finally:
        os.close(fd)
        consumer.close()
        ring.close()
        stats.close()
        logger.info("journal stopped")
