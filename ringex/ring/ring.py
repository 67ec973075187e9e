"""The Python API of a ring: create or attach, then produce or consume whole batches.

Bridges, gateway workers and tests use this module; compiled code uses the functions in
``sequencer``, ``barrier`` and ``processor`` directly on :attr:`Ring.arrays`. Every call here
moves a batch (a claim, a publish, a wait, a release), never a single record: fill a claim with
numpy slice assignments (``batch.views``), or hand a whole record array to
:meth:`Producer.write`.

The owner (:meth:`Ring.create`) initializes the header and is the only process that unlinks
the segment; everyone else uses :meth:`Ring.attach`. Producers and consumers register their
pid in the header (see :mod:`ringex.ring.peers`) so the owner can find dead peers.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time

import numpy as np

from ringex.errors import RingexError
from ringex.jit import njit
from ringex.ring import layout as L
from ringex.ring import peers, wait
from ringex.ring.atomics import cas, fence, fetch_add, load_acquire, store_release
from ringex.ring.barrier import available_sequence, release, wait_for
from ringex.ring.gating import RETIRED
from ringex.ring.kernel import futex_wake
from ringex.ring.segment import DEFAULT_PREFIX, Segment, segment_name
from ringex.ring.sequencer import claim, publish

__all__ = ["Ring", "Producer", "Consumer", "Batch", "Peer", "LaggingReader", "LAPPED"]

#: A claimed or readable range of sequences and the 1 or 2 contiguous record views holding it.
Batch = collections.namedtuple("Batch", ["low", "high", "views"])

_SLICE_NS = 100_000_000  # compiled waits return to Python this often, so Ctrl-C works


@njit
def _cas(header, cell, expected, desired):
    return cas(header, cell, expected, desired)


@njit
def _store(header, cell, value):
    store_release(header, cell, value)


@njit
def _load(array, cell):
    return load_acquire(array, cell)


@njit
def _alert(header, value):
    store_release(header, L.ALERT, value)
    fetch_add(header, L.FUTEX_WORD, 1)
    futex_wake(header, L.FUTEX_WORD)


@njit
def _publish_magic(header):
    store_release(header, L.MAGIC_CELL, L.MAGIC)


@dataclasses.dataclass(frozen=True)
class Peer:
    role: str  # "consumer" or "producer"
    slot: int
    pid: int
    alive: bool


def _timeout_ns(timeout: float | None) -> int:
    return -1 if timeout is None else max(0, int(timeout * 1e9))


class Ring:
    """One ring segment mapped in this process."""

    def __init__(self, segment: Segment, layout: L.RingLayout):
        self.segment = segment
        self.layout = layout
        self.arrays = layout.views(segment.buf)

    @classmethod
    def create(cls, dtype, capacity: int, *, consumers: int = 1, producers: int = 1,
               multi_producer: bool = False, wait_strategy: int = wait.DEFAULT,
               purpose: str = "ring", prefix: str = DEFAULT_PREFIX) -> "Ring":
        """Create and own a new ring segment (the caller must :meth:`unlink` it)."""
        if wait_strategy not in wait.NAMES.values():
            raise ValueError(f"unknown wait strategy {wait_strategy}")
        if producers > 1 and not multi_producer:
            raise ValueError("several producers need multi_producer=True")
        layout = L.RingLayout(capacity, dtype, consumers, producers, multi_producer)
        segment = Segment.create(segment_name(purpose, prefix), layout.total_bytes)
        pid = os.getpid()
        layout.initialize(segment.buf, wait_strategy, pid, peers.process_start_time(pid))
        ring = cls(segment, layout)
        _publish_magic(ring.arrays.header)
        return ring

    @classmethod
    def attach(cls, name: str, dtype, capacity: int | None = None) -> "Ring":
        """Map an existing ring; raises LayoutMismatchError if it is not what we expect."""
        segment = Segment.attach(name)
        try:
            layout = L.RingLayout.check(segment.buf, dtype, capacity, name)
        except BaseException:
            segment.close()
            raise
        return cls(segment, layout)

    name = property(lambda self: self.segment.name)
    capacity = property(lambda self: self.layout.capacity)
    dtype = property(lambda self: self.layout.dtype)

    @property
    def cursor(self) -> int:
        """Last published (SP) or claimed (MP) sequence."""
        return int(_load(self.arrays.header, L.CURSOR))

    def consumer_sequence(self, slot: int) -> int:
        return int(_load(self.arrays.header, L.consumer_cell(slot)))

    def producer(self, timeout: float | None = None) -> "Producer":
        return Producer(self, self._register("producer", None), _timeout_ns(timeout))

    def consumer(self, slot: int, depends_on=()) -> "Consumer":
        return Consumer(self, self._register("consumer", slot), depends_on)

    def drain(self) -> None:
        """Orderly shutdown: consumers stop once everything claimed has been consumed."""
        _alert(self.arrays.header, wait.DRAIN)

    def halt(self) -> None:
        """Stop every waiting producer and consumer now."""
        _alert(self.arrays.header, wait.HALT)

    def retire_consumer(self, slot: int) -> None:
        """Stop consumer ``slot`` from gating producers (it will never run again)."""
        _store(self.arrays.header, L.consumer_cell(slot), RETIRED)

    def _peer_cell(self, role: str, slot: int) -> int:
        if role == "consumer":
            return L.consumer_peer_cell(self.layout.consumers, slot)
        return L.producer_peer_cell(self.layout.consumers, slot)

    def _register(self, role: str, slot: int | None) -> int:
        pid = os.getpid()
        start = peers.process_start_time(pid)
        header = self.arrays.header
        count = self.layout.consumers if role == "consumer" else self.layout.producers
        candidates = range(count) if slot is None else [slot]
        if slot is not None and not 0 <= slot < count:
            raise ValueError(f"{role} slot {slot} out of range 0..{count - 1}")
        for candidate in candidates:
            cell = self._peer_cell(role, candidate)
            holder = int(_load(header, cell))
            if holder and peers.is_alive(holder, int(_load(header, cell + 1))):
                continue
            if _cas(header, cell, holder, pid) == holder:
                _store(header, cell + 1, start)
                return candidate
        raise RingexError(f"ring {self.name!r}: no free {role} slot "
                          f"({'slot ' + str(slot) if slot is not None else 'all'} held by live peers)")

    def _unregister(self, role: str, slot: int) -> None:
        cell = self._peer_cell(role, slot)
        if _cas(self.arrays.header, cell, os.getpid(), 0) == os.getpid():
            _store(self.arrays.header, cell + 1, 0)

    def peers(self) -> list[Peer]:
        """Every registered producer and consumer, and whether its process still runs."""
        found = []
        header = self.arrays.header
        for role, count in (("consumer", self.layout.consumers),
                            ("producer", self.layout.producers)):
            for slot in range(count):
                cell = self._peer_cell(role, slot)
                pid = int(_load(header, cell))
                if pid:
                    alive = peers.is_alive(pid, int(_load(header, cell + 1)))
                    found.append(Peer(role, slot, pid, alive))
        return found

    def dead_peers(self) -> list[Peer]:
        return [peer for peer in self.peers() if not peer.alive]

    def fill_unpublished(self, grace: float = 0.5) -> list[int]:
        """MP recovery after a producer died holding a claim: publish its slots as zeros.

        Sequences between the slowest consumer and the cursor that stay unpublished for
        ``grace`` seconds are zeroed (a zeroed record is an invalid command, so the engine
        rejects it) and published. Call it only after :meth:`dead_peers` reported the dead
        producer: a live producer stalled for longer than ``grace`` would lose its records.
        """
        if not self.layout.multi_producer:
            return []
        header, available, records = self.arrays
        mask = self.capacity - 1
        low = int(min(_load(header, L.consumer_cell(s)) for s in range(self.layout.consumers))) + 1
        high = self.cursor
        missing = [s for s in range(low, high + 1) if int(_load(available, s & mask)) != s]
        time.sleep(grace)
        filled = []
        for seq in missing:
            if int(_load(available, seq & mask)) != seq:
                records[seq & mask] = np.zeros((), self.dtype)
                _store(available, seq & mask, seq)
                filled.append(seq)
        if filled:
            _alert(header, int(_load(header, L.ALERT)))  # wake sleepers
        return filled

    def close(self) -> None:
        self.arrays = None
        self.segment.close()

    def unlink(self) -> None:
        self.segment.unlink()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.segment.owner:
            self.unlink()
        self.close()


def _views(records: np.ndarray, low: int, high: int) -> list[np.ndarray]:
    capacity = records.shape[0]
    start = low & (capacity - 1)
    count = high - low + 1
    if start + count <= capacity:
        return [records[start:start + count]]
    return [records[start:], records[:start + count - capacity]]


class Producer:
    """Claims and publishes batches; one per producer slot of the ring."""

    def __init__(self, ring: Ring, slot: int, timeout_ns: int):
        self.ring = ring
        self.slot = slot
        self.timeout_ns = timeout_ns

    def claim(self, n: int, timeout: float | None = None) -> Batch:
        """Claim ``n`` slots; fill ``batch.views`` with numpy writes, then :meth:`publish`."""
        if not 1 <= n <= self.ring.capacity:
            raise ValueError(f"claim size {n} must be in 1..{self.ring.capacity}")
        arrays = self.ring.arrays
        timeout_ns = self.timeout_ns if timeout is None else _timeout_ns(timeout)
        high = claim(arrays, n, timeout_ns)
        if high == wait.ALERTED:
            raise RingexError(f"ring {self.ring.name!r} halted")
        if high == wait.TIMED_OUT:
            raise TimeoutError(f"ring {self.ring.name!r} full: no room for {n} records")
        return Batch(high - n + 1, high, _views(arrays.records, high - n + 1, high))

    def publish(self, batch: Batch) -> None:
        publish(self.ring.arrays, batch.low, batch.high)

    def write(self, records: np.ndarray, max_batch: int | None = None,
              timeout: float | None = None) -> int:
        """Claim, copy and publish ``records`` in batches; returns the last sequence."""
        step = min(max_batch or self.ring.capacity, self.ring.capacity)
        high = -1
        for start in range(0, len(records), step):
            chunk = records[start:start + step]
            batch = self.claim(len(chunk), timeout)
            offset = 0
            for view in batch.views:
                view[:] = chunk[offset:offset + len(view)]
                offset += len(view)
            self.publish(batch)
            high = batch.high
        return high

    def close(self) -> None:
        self.ring._unregister("producer", self.slot)


class Consumer:
    """Consumer ``slot`` of a ring, behind the consumers in ``depends_on``."""

    def __init__(self, ring: Ring, slot: int, depends_on=()):
        self.ring = ring
        self.slot = slot
        self.deps = np.asarray(list(depends_on), dtype=np.int64)
        self.last_status = 0

    @property
    def sequence(self) -> int:
        """The last sequence this consumer released."""
        return self.ring.consumer_sequence(self.slot)

    def wait(self, timeout: float | None = None, max_batch: int | None = None, *,
             after: int | None = None) -> Batch | None:
        """The next readable batch, or None if halted/drained or ``timeout`` passed.

        ``last_status`` then says which (``wait.ALERTED`` or ``wait.TIMED_OUT``). ``after``:
        start past this sequence instead of past the released one, to read on beyond batches
        held unreleased (the slots of a held batch stay this consumer's until it releases).
        """
        arrays = self.ring.arrays
        seq = (self.sequence if after is None else after) + 1
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _SLICE_NS if deadline is None else \
                min(_SLICE_NS, max(0, int((deadline - time.monotonic()) * 1e9)))
            high = wait_for(arrays, self.deps, seq, left)
            if high >= seq:
                break
            if high == wait.ALERTED or (deadline is not None and time.monotonic() >= deadline):
                self.last_status = high
                return None
        if max_batch is not None and high - seq >= max_batch:
            high = seq + max_batch - 1
        self.last_status = 0
        return Batch(seq, high, _views(arrays.records, seq, high))

    def poll(self, max_batch: int | None = None) -> Batch | None:
        """The readable batch right now, or None; never waits."""
        arrays = self.ring.arrays
        seq = self.sequence + 1
        high = available_sequence(arrays, self.deps, seq)
        if high < seq:
            return None
        if max_batch is not None and high - seq >= max_batch:
            high = seq + max_batch - 1
        return Batch(seq, high, _views(arrays.records, seq, high))

    def views(self, low: int, high: int) -> list[np.ndarray]:
        """The records ``low..high`` (read, not yet released) as one or two array views."""
        return _views(self.ring.arrays.records, low, high)

    def release(self, batch: Batch) -> None:
        """Done with every record up to ``batch.high``: producers may reuse the slots."""
        release(self.ring.arrays, self.slot, batch.high)

    def close(self) -> None:
        self.ring._unregister("consumer", self.slot)


#: :meth:`LaggingReader.read`'s answer when the producer has reused the slots it needed.
LAPPED = "lapped"


@njit
def _claimed_after_reads(header):
    """The producer's claim, loaded after every earlier load of this thread (full fence)."""
    fence()
    if header[L.MULTI_PRODUCER]:
        return load_acquire(header, L.CURSOR)  # MP: CURSOR is the CAS claim
    return load_acquire(header, L.CLAIMED)


class LaggingReader:
    """A consumer that never gates the producer: it may fall a whole ring behind, and knows.

    Invariant: the producer claims sequence ``s + capacity`` (and so reuses the slot of ``s``)
    only after storing that claim (``CLAIMED``; for multi-producer rings the CAS on
    ``CURSOR``). :meth:`read` copies the records, then loads the claim behind a full fence: if
    the claim is below ``low + capacity``, no slot of the copy was reused while it was read, so
    the copy is exact; otherwise it answers :data:`LAPPED` and the caller fetches those events
    elsewhere (the market-data publisher: from `order-events`). The slot is retired so that it
    never gates; its position lives with the caller (e.g. the store's ``last_seq``).
    """

    def __init__(self, ring: Ring, slot: int):
        self.ring = ring
        self.consumer = ring.consumer(slot)  # registers the peer (liveness, stale checks)
        ring.retire_consumer(slot)

    def read(self, after: int, timeout: float, max_batch: int):
        """``(low, high, records)`` (a private copy) of what follows ``after``, None if nothing
        came within ``timeout`` (or the ring halted: see ``last_status``), or :data:`LAPPED`."""
        batch = self.consumer.wait(timeout=timeout, max_batch=max_batch, after=after)
        if batch is None:
            return None
        records = np.concatenate(batch.views) if len(batch.views) > 1 else batch.views[0].copy()
        if _claimed_after_reads(self.ring.arrays.header) >= batch.low + self.ring.capacity:
            return LAPPED
        return batch.low, batch.high, records

    def oldest_readable(self) -> int:
        """The lowest sequence whose slot the producer has not reused yet (a hint: it moves)."""
        return max(0, _claimed_after_reads(self.ring.arrays.header) - self.ring.capacity + 1)

    @property
    def last_status(self) -> int:
        return self.consumer.last_status

    def close(self) -> None:
        self.consumer.close()
