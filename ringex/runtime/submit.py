"""Feeding a running embedded exchange: publish commands into the inbound ring and return
once the journal has them on disk.

This is what the embedded gateway workers and ``ringex submit`` use. A producer claims one
batch of slots, stamps each command with its **journal position** (``base + inbound
sequence``, where ``base`` is the number of records the journal held when this run started,
``ringex.runtime.journal``) and each NEW order with the id ``position + 1``, so ids are
unique and dense across every run on this ``var_dir``; it sets the current time if unset,
publishes, and then waits until the journal consumer's sequence passes the batch: only then
is the order durable and may be acknowledged. ``submit`` returns the journal positions (equal
to the inbound sequences on a fresh ``var_dir``), so ``order_id = position + 1``.

Waiting for durability is a group wait: the journal writes and ``fdatasync``s whatever was
published since its last write as one batch, so many threads of one process (a gunicorn
gthread worker) usually wait for the same fsync. One watcher thread per client polls the
journal's sequence (every ``poll_interval`` seconds, only while somebody waits, in compiled
code without the GIL) and wakes exactly the waiters it satisfied; a waiter never polls
itself. The journal process gives no wake-up of its own, so polling is the only way to learn
its progress.

Thread safety: ``submit`` and ``wait_durable_position`` may be called from any number of
threads of the process that created the client (claims are atomic in the ring).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time

import numpy as np

from ringex.jit import njit
from ringex.records import COMMAND_DTYPE, CommandKind
from ringex.ring import layout
from ringex.ring.atomics import load_acquire
from ringex.ring.kernel import monotonic_ns, sleep_ns
from ringex.ring.ring import Ring
from ringex.runtime.journal import journal_base
from ringex.runtime.topology import read_ring_names, slots_for

__all__ = ["InboundClient"]

_POLL_INTERVAL_S = 50e-6
_WATCH_SLICE_NS = 20_000_000  # the watcher returns to Python this often to see close()


@njit
def _poll_past(header, cell, known, interval_ns, slice_ns):
    """The sequence in ``header[cell]`` once it exceeds ``known``, polling every
    ``interval_ns``; ``known`` if ``slice_ns`` passes first. Compiled and GIL-free, so the
    polling costs the gateway's request threads nothing."""
    deadline = monotonic_ns() + slice_ns
    while True:
        sequence = load_acquire(header, cell)
        if sequence > known:
            return sequence
        if monotonic_ns() > deadline:
            return known
        sleep_ns(interval_ns)


class _DurableWatch:
    """The journal's sequence, read by one thread for every thread waiting on it.

    Each waiter parks on a lock of its own, in a heap by the sequence it needs; when the
    journal advances, the watcher releases exactly the waiters it satisfied (no thundering
    herd of threads that all retake one lock to find they must wait on)."""

    def __init__(self, read_sequence, poll_past):
        self._read = read_sequence
        self._poll_past = poll_past  # known -> a sequence > known, or known after a while
        self._lock = threading.Lock()
        self._wanted = threading.Condition(self._lock)  # the watcher sleeps here when idle
        self._parked: list[tuple[int, int, threading.Lock]] = []  # heap: (sequence, ticket, lock)
        self._tickets = itertools.count()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.durable = read_sequence()

    def wait(self, sequence: int, timeout: float) -> None:
        if self.durable >= sequence:
            return
        gate = threading.Lock()
        gate.acquire()
        with self._lock:
            if self.durable >= sequence:  # advanced since the look above
                return
            if self._closed:
                raise TimeoutError(f"the journal did not reach sequence {sequence}: closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="journal-watch",
                                                daemon=True)
                self._thread.start()
            heapq.heappush(self._parked, (sequence, next(self._tickets), gate))
            self._wanted.notify()
        # released by the watcher once durable >= sequence, or on close
        if gate.acquire(timeout=timeout) and self.durable >= sequence:
            return
        with self._lock:  # give up the place, so a stuck journal is not polled for nobody
            self._parked = [entry for entry in self._parked if entry[2] is not gate]
            heapq.heapify(self._parked)
        raise TimeoutError(f"the journal did not reach sequence {sequence} in {timeout:g}s "
                           f"(it is at {self.durable})")

    def _watch(self) -> None:
        while True:
            with self._lock:
                while not self._parked and not self._closed:
                    self._wanted.wait()
                if self._closed:
                    for _, _, gate in self._parked:
                        gate.release()
                    self._parked.clear()
                    return
            sequence = self._poll_past(self.durable)
            if sequence > self.durable:
                with self._lock:
                    self.durable = sequence
                    parked = self._parked
                    while parked and parked[0][0] <= sequence:
                        heapq.heappop(parked)[2].release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wanted.notify_all()
            if self._thread is None:
                return
        if self._thread is not threading.current_thread():
            self._thread.join(1.0)


class InboundClient:
    def __init__(self, var_dir: str, *, timeout: float = 5.0,
                 poll_interval: float = _POLL_INTERVAL_S):
        names = read_ring_names(var_dir)
        if not names.embedded:
            raise RuntimeError("the exchange runs in distributed mode: send orders to Kafka")
        self.ring = Ring.attach(names.inbound, COMMAND_DTYPE)
        self.producer = self.ring.producer(timeout=timeout)
        self.journal_slot = slots_for(True).journal
        self.engine_slot = slots_for(True).engine
        self.base = journal_base(var_dir, names.inbound)
        self.timeout = timeout
        header, cell = self.ring.arrays.header, layout.consumer_cell(self.journal_slot)
        interval_ns = int(poll_interval * 1e9)
        self._watch = _DurableWatch(
            lambda: self.ring.consumer_sequence(self.journal_slot),
            lambda known: int(_poll_past(header, cell, known, interval_ns, _WATCH_SLICE_NS)))

    def submit(self, commands: np.ndarray, *, wait_durable: bool = True) -> np.ndarray:
        """Publish ``commands`` (one claim); returns their journal positions (NEW order id =
        position + 1)."""
        if commands.dtype != COMMAND_DTYPE:
            raise TypeError("commands must be COMMAND_DTYPE records")
        records = commands.copy()
        batch = self.producer.claim(len(records))
        positions = np.arange(batch.low, batch.high + 1, dtype=np.int64) + self.base
        # Embedded order ids are assigned here, whatever the caller put in the record.
        is_new = records["kind"] == CommandKind.NEW
        records["order_id"][is_new] = positions[is_new] + 1
        records["source_partition"] = -1
        records["source_offset"] = positions
        records["_reserved"] = 0
        unstamped = records["timestamp_ns"] == 0
        records["timestamp_ns"][unstamped] = time.time_ns()
        offset = 0
        for view in batch.views:
            view[:] = records[offset : offset + len(view)]
            offset += len(view)
        self.producer.publish(batch)
        if wait_durable:
            self.wait_durable_position(int(positions[-1]))
        return positions

    def durable_position(self) -> int:
        """The highest journal position the journal has written (``base - 1`` before any)."""
        return self.base + self.ring.consumer_sequence(self.journal_slot)

    def wait_durable_position(self, position: int, timeout: float | None = None) -> None:
        """Block until the journal holds ``position`` (a value ``submit`` returned) on disk;
        ``TimeoutError`` after ``timeout`` seconds (default: the client's)."""
        self._watch.wait(int(position) - self.base, self.timeout if timeout is None else timeout)

    def close(self) -> None:
        self._watch.close()
        self.producer.close()
        self.ring.close()
