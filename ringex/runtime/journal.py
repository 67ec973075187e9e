"""The journal: in embedded mode, the input is on disk before the engine matches it.

The journal process is inbound consumer slot 0 and the engine depends on it, exactly like
the LMAX input Disruptor: a command reaches the matcher only after the journal has appended it
(and, with ``runtime.journal_fsync``, ``fdatasync``-ed it). Producers that must acknowledge
durability (gateway, ``ringex submit``) wait until the journal's sequence passes theirs.

File format: a 32-byte header (magic ``b"RGXJRNL1"``, record version, record size, first
sequence) followed by raw ``COMMAND_DTYPE`` records in ring-sequence order, so record ``i``
of the file is inbound sequence ``first + i``.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from ringex.config import Settings
from ringex.records import COMMAND_DTYPE, RECORD_VERSION
from ringex.ring.ring import Ring
from ringex.ring.wait import ALERTED
from ringex.runtime.process_common import child_setup
from ringex.runtime.stats import StatsTable
from ringex.runtime.topology import RingNames, slots_for

__all__ = ["journal_main", "JOURNAL_MAGIC", "journal_path", "read_journal"]

JOURNAL_MAGIC = b"RGXJRNL1"
_HEADER = struct.Struct("<8sIIq8x")


def journal_path(settings: Settings) -> Path:
    return Path(settings.runtime.var_dir) / "journal" / "commands.journal"


def read_journal(path: Path):
    """``(first_sequence, records)`` of a journal file (for tests and replay)."""
    import numpy as np

    data = path.read_bytes()
    magic, version, size, first = _HEADER.unpack_from(data)
    if magic != JOURNAL_MAGIC or version != RECORD_VERSION or size != COMMAND_DTYPE.itemsize:
        raise ValueError(f"{path} is not a journal of this record version")
    body = data[_HEADER.size:]
    whole = len(body) // COMMAND_DTYPE.itemsize * COMMAND_DTYPE.itemsize
    return first, np.frombuffer(body[:whole], dtype=COMMAND_DTYPE).copy()


def journal_main(settings: Settings, names: RingNames) -> None:
    logger = child_setup("journal", settings.runtime.log_level)
    slots = slots_for(names.embedded)
    ring = Ring.attach(names.inbound, COMMAND_DTYPE)
    consumer = ring.consumer(slots.journal)
    stats = StatsTable.attach(names.stats)
    row = stats.row("journal")
    path = journal_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    if os.fstat(fd).st_size == 0:
        os.write(fd, _HEADER.pack(JOURNAL_MAGIC, RECORD_VERSION, COMMAND_DTYPE.itemsize,
                                  consumer.sequence + 1))
    logger.info("journal at %s, fsync=%s", path, settings.runtime.journal_fsync)
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
