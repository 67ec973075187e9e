"""Where every byte of a ring segment lives. Nothing else in ringex computes an offset.

A segment is one shared-memory block: a header of int64 cells, an optional availability
buffer (multi-producer rings only) and a power-of-two array of fixed-size numpy records::

    offset 0    +---------------------------------------------------------------+
    line 0      | MAGIC | VERSION | CAPACITY | RECORD_SIZE | DTYPE_HASH |        |
                | CONSUMERS | PRODUCERS | MULTI_PRODUCER          (owner, once) |
    line 1      | WAIT_STRATEGY | OWNER_PID | OWNER_START | TOTAL_BYTES (owner) |
    line 2      | CURSOR                        (SP: the producer; MP: CAS claim) |
    line 3      | GATING_CACHE            (producers: last min consumer sequence) |
                | CLAIMED         (SP: the producer's highest claimed sequence)   |
    line 4      | ALERT                          (any controller: RUN/DRAIN/HALT) |
    line 5      | FUTEX_WORD | WAITERS     (blocking strategy: wakers / sleepers) |
    line 6+k    | consumer k sequence              (consumer k only), k < CONSUMERS |
                +---------------------------------------------------------------+
    registry    | (pid, start time) per consumer slot, then per producer slot    |
                |                       (each peer its own entry, CAS on attach) |
    dtype text  | ASCII description of the record dtype, for error messages      |
                +---------------------------------------------------------------+
    available   | int64[CAPACITY]: sequence last published into each slot (MP)  |
                +---------------------------------------------------------------+
    records     | dtype[CAPACITY], 64-byte aligned                               |
                +---------------------------------------------------------------+

Every hot cell sits alone on its 64-byte cache line, so a consumer advancing its sequence
never invalidates the line the producer's cursor lives on. Sequences start at -1 ("nothing
yet") and grow forever; the slot of sequence ``s`` is ``s & (CAPACITY - 1)``.

The owner writes the descriptor cells first and MAGIC last, with a release store, so an
attacher that sees MAGIC sees a complete descriptor. :meth:`RingLayout.check` turns any
disagreement between what an attacher expects and what the segment holds into
:class:`ringex.errors.LayoutMismatchError`.
"""

from __future__ import annotations

import collections
import dataclasses
import zlib

import numpy as np

from ringex.errors import LayoutMismatchError
from ringex.jit import njit

__all__ = [
    "CACHE_LINE", "MAGIC", "LAYOUT_VERSION", "INITIAL_SEQUENCE",
    "MAGIC_CELL", "VERSION", "CAPACITY", "RECORD_SIZE", "DTYPE_HASH", "CONSUMERS",
    "PRODUCERS", "MULTI_PRODUCER", "WAIT_STRATEGY", "OWNER_PID", "OWNER_START", "TOTAL_BYTES",
    "CURSOR", "GATING_CACHE", "CLAIMED", "ALERT", "FUTEX_WORD", "WAITERS",
    "consumer_cell", "consumer_peer_cell", "producer_peer_cell",
    "RingLayout", "RingArrays", "dtype_hash", "dtype_text",
]

#: What compiled code receives: the header cells, the availability buffer, the records.
RingArrays = collections.namedtuple("RingArrays", ["header", "available", "records"])

CACHE_LINE = 64
_CELLS_PER_LINE = CACHE_LINE // 8
MAGIC = 0x31305845474E4952  # b"RINGEX01" little-endian
LAYOUT_VERSION = 1
INITIAL_SEQUENCE = -1
_DTYPE_TEXT_BYTES = 1024
_MAX_CONSUMERS = 64
_MAX_PRODUCERS = 64

# line 0: the descriptor, written once by the owner (MAGIC last)
MAGIC_CELL = 0
VERSION = 1
CAPACITY = 2
RECORD_SIZE = 3
DTYPE_HASH = 4
CONSUMERS = 5
PRODUCERS = 6
MULTI_PRODUCER = 7
# line 1: more of the descriptor
WAIT_STRATEGY = 8
OWNER_PID = 9
OWNER_START = 10
TOTAL_BYTES = 11
# lines 2-5: hot cells, one per line
CURSOR = 2 * _CELLS_PER_LINE
GATING_CACHE = 3 * _CELLS_PER_LINE
# the single producer's claim, stored before it writes the slots: what a non-gating reader
# (ring.LaggingReader) checks to know whether slots it copied were being overwritten
CLAIMED = 3 * _CELLS_PER_LINE + 1
ALERT = 4 * _CELLS_PER_LINE
FUTEX_WORD = 5 * _CELLS_PER_LINE
WAITERS = 5 * _CELLS_PER_LINE + 1
_FIRST_CONSUMER_LINE = 6


@njit
def consumer_cell(slot):
    """Header cell of consumer ``slot``'s sequence (alone on its cache line)."""
    return (_FIRST_CONSUMER_LINE + slot) * _CELLS_PER_LINE


@njit
def consumer_peer_cell(consumers, slot):
    """Header cell of consumer ``slot``'s pid; the next cell holds its start time."""
    return (_FIRST_CONSUMER_LINE + consumers) * _CELLS_PER_LINE + 2 * slot


@njit
def producer_peer_cell(consumers, slot):
    """Header cell of producer ``slot``'s pid; the next cell holds its start time."""
    return (_FIRST_CONSUMER_LINE + consumers) * _CELLS_PER_LINE + 2 * consumers + 2 * slot


def _align(n: int) -> int:
    return (n + CACHE_LINE - 1) // CACHE_LINE * CACHE_LINE


def dtype_text(dtype: np.dtype) -> str:
    """Field names, types and offsets of ``dtype``: what two processes must agree on."""
    dtype = np.dtype(dtype)
    if dtype.names is None:
        return f"{dtype.str} itemsize={dtype.itemsize}"
    fields = ", ".join(f"{name}:{dtype.fields[name][0].str}@{dtype.fields[name][1]}"
                       for name in dtype.names)
    return f"[{fields}] itemsize={dtype.itemsize}"


def dtype_hash(dtype: np.dtype) -> int:
    return zlib.crc32(dtype_text(dtype).encode("ascii"))


@dataclasses.dataclass(frozen=True)
class RingLayout:
    """The geometry of one ring segment; every offset is derived here."""

    capacity: int
    dtype: np.dtype
    consumers: int = 1
    producers: int = 1
    multi_producer: bool = False

    def __post_init__(self):
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        cap = self.capacity
        if cap < 2 or cap & (cap - 1):
            raise ValueError(f"capacity must be a power of two >= 2, got {cap}")
        if not 1 <= self.consumers <= _MAX_CONSUMERS:
            raise ValueError(f"consumers must be in 1..{_MAX_CONSUMERS}, got {self.consumers}")
        if not 1 <= self.producers <= _MAX_PRODUCERS:
            raise ValueError(f"producers must be in 1..{_MAX_PRODUCERS}, got {self.producers}")
        if self.dtype.itemsize == 0 or self.dtype.hasobject:
            raise ValueError(f"records need a fixed-size, object-free dtype, got {self.dtype}")
        if len(dtype_text(self.dtype)) >= _DTYPE_TEXT_BYTES:
            raise ValueError("dtype description too long for the segment header")

    @property
    def registry_offset(self) -> int:
        return (_FIRST_CONSUMER_LINE + self.consumers) * CACHE_LINE

    @property
    def dtype_text_offset(self) -> int:
        return _align(self.registry_offset + 16 * (self.consumers + self.producers))

    @property
    def header_bytes(self) -> int:
        return _align(self.dtype_text_offset + _DTYPE_TEXT_BYTES)

    @property
    def available_offset(self) -> int:
        return self.header_bytes

    @property
    def available_length(self) -> int:
        """Availability cells: one per slot for MP, a single unused cell for SP."""
        return self.capacity if self.multi_producer else 1

    @property
    def records_offset(self) -> int:
        return _align(self.available_offset + 8 * self.available_length)

    @property
    def total_bytes(self) -> int:
        return self.records_offset + self.capacity * self.dtype.itemsize

    def views(self, buf):
        """:class:`RingArrays` of numpy views over a segment buffer."""
        header = np.ndarray((self.header_bytes // 8,), np.int64, buf, 0)
        available = np.ndarray((self.available_length,), np.int64, buf, self.available_offset)
        records = np.ndarray((self.capacity,), self.dtype, buf, self.records_offset)
        return RingArrays(header, available, records)

    def initialize(self, buf, wait_strategy: int, owner_pid: int, owner_start: int) -> None:
        """Owner only, on a fresh segment: every cell except MAGIC (see :func:`seal`)."""
        header, available, _ = self.views(buf)
        header[:] = 0
        header[VERSION] = LAYOUT_VERSION
        header[CAPACITY] = self.capacity
        header[RECORD_SIZE] = self.dtype.itemsize
        header[DTYPE_HASH] = dtype_hash(self.dtype)
        header[CONSUMERS] = self.consumers
        header[PRODUCERS] = self.producers
        header[MULTI_PRODUCER] = int(self.multi_producer)
        header[WAIT_STRATEGY] = wait_strategy
        header[OWNER_PID] = owner_pid
        header[OWNER_START] = owner_start
        header[TOTAL_BYTES] = self.total_bytes
        header[CURSOR] = INITIAL_SEQUENCE
        header[GATING_CACHE] = INITIAL_SEQUENCE
        header[CLAIMED] = INITIAL_SEQUENCE
        for slot in range(self.consumers):
            header[consumer_cell(slot)] = INITIAL_SEQUENCE
        available[:] = INITIAL_SEQUENCE
        text = dtype_text(self.dtype).encode("ascii")
        start = self.dtype_text_offset
        buf[start:start + len(text)] = text

    @staticmethod
    def read_descriptor(buf, name: str = "?") -> tuple:
        """(capacity, record size, dtype hash, consumers, producers, multi) of a segment."""
        if len(buf) < _FIRST_CONSUMER_LINE * CACHE_LINE:
            raise LayoutMismatchError(f"segment {name!r} is {len(buf)} bytes: too small for a ring")
        cells = np.ndarray((_FIRST_CONSUMER_LINE * _CELLS_PER_LINE,), np.int64, buf, 0)
        if int(cells[MAGIC_CELL]) != MAGIC:
            raise LayoutMismatchError(
                f"segment {name!r} has magic {int(cells[MAGIC_CELL]):#x}, expected {MAGIC:#x}: "
                "not a ringex ring, or its owner has not finished creating it")
        if int(cells[VERSION]) != LAYOUT_VERSION:
            raise LayoutMismatchError(
                f"segment {name!r} has layout version {int(cells[VERSION])}, "
                f"this process speaks version {LAYOUT_VERSION}")
        return int(cells[CAPACITY]), int(cells[RECORD_SIZE]), int(cells[DTYPE_HASH]), \
            int(cells[CONSUMERS]), int(cells[PRODUCERS]), bool(cells[MULTI_PRODUCER])

    @classmethod
    def check(cls, buf, dtype, capacity=None, name: str = "?") -> "RingLayout":
        """The segment's layout, if it matches the attacher's ``dtype`` (and ``capacity``)."""
        dtype = np.dtype(dtype)
        cap, record_size, hash_, consumers, producers, multi = cls.read_descriptor(buf, name)
        if capacity is not None and capacity != cap:
            raise LayoutMismatchError(
                f"segment {name!r} has capacity {cap}, the attacher expects {capacity}")
        if record_size != dtype.itemsize or hash_ != dtype_hash(dtype):
            layout_guess = cls(2, np.dtype("u1"), consumers, producers, multi)
            start = layout_guess.dtype_text_offset
            theirs = bytes(buf[start:start + _DTYPE_TEXT_BYTES]).split(b"\0", 1)[0].decode()
            raise LayoutMismatchError(
                f"segment {name!r} holds records {theirs} ({record_size} bytes); "
                f"the attacher expects {dtype_text(dtype)}")
        layout = cls(cap, dtype, consumers, producers, multi)
        if len(buf) < layout.total_bytes:
            raise LayoutMismatchError(
                f"segment {name!r} is {len(buf)} bytes, its layout needs {layout.total_bytes}")
        return layout
