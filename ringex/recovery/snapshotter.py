"""When the engine takes a snapshot, and the thread that writes it.

The engine process (the only writer of the book) owns one :class:`Snapshotter`, and only its
main thread calls it, between two calls of the compiled loop. A snapshot is due once
``engine.snapshot_every_events`` events, or ``engine.snapshot_interval_ms`` with something
new, have passed since the last one. The loop checks both at a batch boundary (the
``SNAPSHOT_AT_*`` cells :meth:`Snapshotter.arm` sets) and returns ``SNAPSHOT_DUE``, never with
a Kafka message half applied; when the loop is idle, the engine asks :meth:`Snapshotter.due`.

:meth:`Snapshotter.take` copies the canonical words (compiled, the only pause of matching);
a writer thread then hashes, writes, fsyncs and renames the file (:class:`SnapshotStore`)
while matching goes on (the loop runs without the GIL), and hands the covered input positions
to the engine's ``publish_covered`` for the bridges' commits.

:func:`positions_meta` / :func:`positions_from_meta`: the input positions (``positions`` and
the ``PREV_*`` control cells, :mod:`ringex.engine_control`) as a snapshot's ``meta["inputs"]``
and back.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from time import monotonic_ns  # CLOCK_MONOTONIC, the clock of the compiled loop

import numpy as np

from ringex.book.inspect import canonical_words
from ringex.config import Settings
from ringex.engine import MatchingEngine
from ringex.engine_control import (OPEN_MESSAGE, PREV_OFFSET, PREV_PARTITION, SNAPSHOT_AT_NS,
                                   SNAPSHOT_AT_SEQ)
from ringex.recovery.snapshots import SNAPSHOT_META_FORMAT, SnapshotStore
from ringex.statehash import hash_words
from ringex.var_layout import VarLayout

__all__ = ["Snapshotter", "snapshot_dir", "positions_meta", "positions_from_meta"]


def snapshot_dir(settings: Settings) -> Path:
    return Path(settings.engine.snapshot_dir or VarLayout(settings.runtime.var_dir).snapshots)


def positions_meta(positions: np.ndarray, control: np.ndarray) -> dict:
    """The input positions of ``meta``: what the state covers, per input."""
    kafka = {int(p - 1): int(positions[p]) for p in np.nonzero(positions[1:])[0] + 1}
    return {"journal": int(positions[0]), "kafka": {str(p): o for p, o in kafka.items()},
            "prev": [int(control[PREV_PARTITION]), int(control[PREV_OFFSET])]}


def positions_from_meta(inputs: dict, positions: np.ndarray, control: np.ndarray) -> None:
    positions[:] = 0
    positions[0] = int(inputs.get("journal", 0))
    for partition, offset in inputs.get("kafka", {}).items():
        positions[1 + int(partition)] = int(offset)
    prev = inputs.get("prev", [-1, 0])
    control[PREV_PARTITION], control[PREV_OFFSET] = int(prev[0]), int(prev[1])


class Snapshotter:
    """Decides when a snapshot is due and writes it in a background thread."""

    def __init__(self, settings: Settings, engine: MatchingEngine, store: SnapshotStore,
                 logger, publish_covered):
        self.every_events = settings.engine.snapshot_every_events
        self.interval_ns = settings.engine.snapshot_interval_ms * 1_000_000
        self.engine = engine
        self.store = store
        self.logger = logger
        self.publish_covered = publish_covered
        self.last_seq = engine.next_seq - 1
        self.last_ns = monotonic_ns()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.taken = 0

    def arm(self, control: np.ndarray) -> None:
        control[SNAPSHOT_AT_SEQ] = self.last_seq + self.every_events if self.every_events \
            else 0
        control[SNAPSHOT_AT_NS] = self.last_ns + self.interval_ns if self.interval_ns else 0

    def due(self, control: np.ndarray) -> bool:
        """For the idle path: is a snapshot due although no batch boundary asked for it?"""
        if self.engine.next_seq - 1 == self.last_seq or control[OPEN_MESSAGE]:
            return False
        at_seq, at_ns = control[SNAPSHOT_AT_SEQ], control[SNAPSHOT_AT_NS]
        return (0 < at_seq <= self.engine.next_seq - 1) or (0 < at_ns <= monotonic_ns())

    def take(self, positions, control, *, wait: bool = False) -> None:
        if self.error is not None:
            raise RuntimeError("snapshot writer failed") from self.error
        if self.thread is not None and self.thread.is_alive():
            if not wait:  # the previous one is still being written: ask again shortly
                control[SNAPSHOT_AT_SEQ] = 0
                control[SNAPSHOT_AT_NS] = monotonic_ns() + 20_000_000
                return
            self.thread.join()
        seq = self.engine.next_seq - 1
        if seq == self.last_seq and not wait:
            self.last_ns = monotonic_ns()
            self.arm(control)
            return
        started = time.perf_counter()
        words = canonical_words(self.engine.book_state)
        copied = time.perf_counter() - started
        meta = {"format": SNAPSHOT_META_FORMAT, "last_seq": seq,
                "next_command_index": self.engine.next_command_index,
                "live_orders": self.engine.live_orders,
                "inputs": positions_meta(positions, control), "created_ns": time.time_ns()}
        self.last_seq, self.last_ns = seq, monotonic_ns()
        self.arm(control)
        self.thread = threading.Thread(target=self._write, args=(words, meta, copied),
                                       name="snapshot-writer", daemon=True)
        self.thread.start()
        if wait:
            self.thread.join()

    def _write(self, words, meta, copied: float) -> None:
        try:
            started = time.perf_counter()
            meta["state_hash"] = hash_words(words)
            path = self.store.write(self.engine.pairs, words, meta)
            self.taken += 1
            self.logger.info("snapshot %s: last seq %d, %d live orders, %d bytes; matching "
                             "paused %.1f ms (copy), written in %.3f s", path.name,
                             meta["last_seq"], meta["live_orders"], 8 * words.shape[0],
                             copied * 1e3, time.perf_counter() - started)
            self.publish_covered(meta)
        except BaseException as exc:  # reported on the next take(); the engine stops then
            self.logger.exception("snapshot failed")
            self.error = exc

    def close(self) -> None:
        if self.thread is not None:
            self.thread.join(120)
