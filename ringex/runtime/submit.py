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
journal's sequence (every ``poll_interval`` seconds, only while somebody waits) and wakes the
waiters it satisfied; a waiter never polls itself. The journal process gives no wake-up of its
own, so polling is the only way to learn its progress.

Thread safety: ``submit`` and ``wait_durable_position`` may be called from any number of
threads of the process that created the client (claims are atomic in the ring).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from ringex.records import COMMAND_DTYPE, CommandKind
from ringex.ring.ring import Ring
from ringex.runtime.journal import journal_base
from ringex.runtime.topology import read_ring_names, slots_for

__all__ = ["InboundClient"]

_POLL_INTERVAL_S = 50e-6


class _DurableWatch:
    """The journal's sequence, read by one thread for every thread waiting on it."""

    def __init__(self, read_sequence, poll_interval: float):
        self._read = read_sequence
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._advanced = threading.Condition(self._lock)  # waiters sleep here
        self._wanted = threading.Condition(self._lock)  # the watcher sleeps here when idle
        self._waiting = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.durable = read_sequence()

    def wait(self, sequence: int, timeout: float) -> None:
        if self.durable >= sequence:
            return
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="journal-watch",
                                                daemon=True)
                self._thread.start()
            self._waiting += 1
            self._wanted.notify()
            try:
                while self.durable < sequence:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closed:
                        raise TimeoutError(
                            f"the journal did not reach sequence {sequence} in {timeout:g}s "
                            f"(it is at {self.durable})")
                    self._advanced.wait(remaining)
            finally:
                self._waiting -= 1

    def _watch(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._wanted.wait()
                if self._closed:
                    self._advanced.notify_all()
                    return
            sequence = self._read()
            if sequence > self.durable:
                with self._lock:
                    self.durable = sequence
                    self._advanced.notify_all()
            else:
                time.sleep(self._poll_interval)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wanted.notify_all()
            self._advanced.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
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
        self.base = journal_base(var_dir, names.inbound)
        self.timeout = timeout
        self._watch = _DurableWatch(
            lambda: self.ring.consumer_sequence(self.journal_slot), poll_interval)

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
