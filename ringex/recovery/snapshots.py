"""Snapshot files of the engine: written atomically, kept N deep, loaded newest-valid-first.

The engine process is the only writer of the directory. A snapshot is written to
``.snapshot-<seq>.tmp``, ``fsync``-ed, renamed to ``snapshot-<last seq, 20 digits>.rgxsnap``,
and the directory is ``fsync``-ed, so after a crash a snapshot file is either whole or absent
(a ``.tmp`` leftover is deleted on the next start). Each file carries its own BLAKE2b-256
checksum (``ringex.snapshot``), which catches a file corrupted later.

Loading tries the files from the newest: a file that fails (bad checksum, truncated, another
format version, other pairs than the configured ones, more orders than the pool holds) is
logged at ERROR with the reason, renamed to ``*.rejected`` (kept for inspection, never tried
again, not counted in the N kept), and the previous one is tried.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ringex.errors import SnapshotError
from ringex.snapshot import decode_snapshot, write_snapshot

__all__ = ["SnapshotStore", "Recovered", "SNAPSHOT_SUFFIX", "SNAPSHOT_META_FORMAT"]

log = logging.getLogger("ringex.recovery")

SNAPSHOT_SUFFIX = ".rgxsnap"
#: Version of the ``meta`` dictionary the engine process writes (``engine_process``).
SNAPSHOT_META_FORMAT = 1
_PREFIX = "snapshot-"


@dataclass
class Recovered:
    engine: Any  # MatchingEngine
    meta: dict
    path: Path
    load_seconds: float
    rejected: list[tuple[Path, str]]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pairs_key(pairs) -> list[tuple]:
    return [(p.pair_id, p.name, str(p.tick_size), str(p.lot_size), p.min_qty_lots,
             p.max_qty_lots, p.band_lo_ticks, p.band_hi_ticks) for p in pairs]


class SnapshotStore:
    def __init__(self, directory: str | os.PathLike, *, keep: int = 3):
        self.directory = Path(directory)
        self.keep = max(1, int(keep))

    def files(self) -> list[Path]:
        """Snapshot files, newest (highest seq) first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir()
                 if p.name.startswith(_PREFIX) and p.name.endswith(SNAPSHOT_SUFFIX)]
        return sorted(found, key=lambda p: p.name, reverse=True)

    def path_for(self, last_seq: int) -> Path:
        return self.directory / f"{_PREFIX}{last_seq:020d}{SNAPSHOT_SUFFIX}"

    def write(self, pairs: Sequence, words: np.ndarray, meta: dict) -> Path:
        """Write one snapshot atomically and prune to ``keep``; returns its path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(int(meta["last_seq"]))
        temporary = self.directory / f".{target.name}.{os.getpid()}.tmp"
        with open(temporary, "wb") as f:
            write_snapshot(f, pairs, words, meta)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
        _fsync_dir(self.directory)
        self.prune()
        return target

    def prune(self) -> None:
        for old in self.files()[self.keep:]:
            old.unlink(missing_ok=True)

    def clean_leftovers(self) -> None:
        if self.directory.is_dir():
            for leftover in self.directory.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)

    @staticmethod
    def seq_of(path: Path) -> int:
        """The last seq a snapshot file covers, from its name."""
        return int(path.name[len(_PREFIX):-len(SNAPSHOT_SUFFIX)])

    def load_latest(self, pairs: Sequence, *, order_capacity: int,
                    max_seq: int | None = None,
                    client_id_window: int | None = None) -> Recovered | None:
        """The engine of the newest valid snapshot, or None if there is none.

        ``max_seq``: only a snapshot whose last seq is at or below it (what every sink already
        holds), so that a replay regenerates every event a sink still lacks. Newer files are
        skipped, not rejected: they stay for a later recovery. ``client_id_window``: the
        engine's (``None``: the engine's default).
        """
        from ringex.engine import MatchingEngine
        from ringex.snapshot import SNAPSHOT_VERSION

        self.clean_leftovers()
        rejected: list[tuple[Path, str]] = []
        for path in self.files():
            if max_seq is not None and self.seq_of(path) > max_seq:
                log.info("snapshot %s covers events beyond seq %d, the last one every sink "
                         "holds; trying an older one", path.name, max_seq)
                continue
            started = time.perf_counter()
            try:
                blob = path.read_bytes()
                snapshot_pairs, _words, meta = decode_snapshot(blob)
                if _pairs_key(snapshot_pairs) != _pairs_key(pairs):
                    raise SnapshotError("incompatible snapshot: its pairs differ from the "
                                        "configured pairs")
                if meta.get("format") != SNAPSHOT_META_FORMAT:
                    raise SnapshotError(f"incompatible snapshot: meta format "
                                        f"{meta.get('format')!r}, this build writes "
                                        f"{SNAPSHOT_META_FORMAT} (file format {SNAPSHOT_VERSION})")
                window = {} if client_id_window is None else {"client_id_window": client_id_window}
                engine = MatchingEngine.restore(blob, order_capacity=order_capacity, **window)
                del blob
            except (SnapshotError, OSError) as exc:
                reason = str(exc)
                log.error("snapshot %s is unusable: %s; setting it aside as *.rejected and "
                          "trying the previous one", path.name, reason)
                rejected.append((path, reason))
                try:
                    path.rename(path.with_suffix(".rejected"))
                except OSError:
                    pass
                continue
            seconds = time.perf_counter() - started
            log.info("recovered from snapshot %s (last seq %s, %d live orders) in %.3fs",
                     path.name, meta.get("last_seq"), engine.live_orders, seconds)
            return Recovered(engine, meta, path, seconds, rejected)
        if rejected:
            log.error("no usable snapshot (%d rejected): recovering from the beginning of the "
                      "input", len(rejected))
        elif max_seq is not None and self.files():
            log.warning("every snapshot covers events beyond seq %d, the last one every sink "
                        "holds: recovering from the beginning of the input", max_seq)
        return None
