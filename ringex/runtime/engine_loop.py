"""The engine's hot loop, compiled: inbound ring → matcher → outbound ring, batch by batch.

One call runs up to ``control[MAX_BATCHES]`` batches without returning to Python. A batch is
every command readable in one contiguous stretch of the inbound ring (capped at
``control[MAX_COMMANDS]``): the matcher appends their events to a private scratch buffer,
the events are copied into the outbound ring in claims of at most half its capacity, and only
then is the inbound batch released. So a command is never released before its events are
published, and a restarted engine never skips one.

Who writes what: this loop is the engine process's, and the engine is the only writer of the
book, the only producer of the outbound and book rings, and the only writer of its inbound
consumer sequence.

Return codes: ``STOPPED`` (the inbound ring was drained or halted), ``IDLE`` (nothing arrived
within ``control[IDLE_TIMEOUT_NS]``), ``BUDGET`` (``MAX_BATCHES`` done), ``NEED_BUFFER`` (one
command may emit more events than the scratch buffer holds; ``control[NEED]`` says how many:
the caller grows the buffer and calls again).
"""

from __future__ import annotations

import numpy as np

from ringex.book.inspect import fill_depth
from ringex.book.process import process_commands
from ringex.book.state import META_NEXT_SEQ
from ringex.jit import njit
from ringex.ring.barrier import consumer_sequence, release, wait_for
from ringex.ring.kernel import monotonic_ns
from ringex.ring.sequencer import claim, publish
from ringex.ring.wait import ALERTED, TIMED_OUT

__all__ = [
    "run_batches",
    "new_control",
    "STOPPED",
    "IDLE",
    "BUDGET",
    "NEED_BUFFER",
    "COUNTER_NAMES",
]

STOPPED, IDLE, BUDGET, NEED_BUFFER = 1, 2, 3, 4

# control cells (inputs, except NEED and LAST_BOOK_NS)
IDLE_TIMEOUT_NS = 0
MAX_BATCHES = 1
MAX_COMMANDS = 2
BOOK_INTERVAL_NS = 3
LAST_BOOK_NS = 4
NEED = 5
N_DIRTY = 6
_CONTROL_SIZE = 8

# counters (written by the engine process only)
COUNTER_NAMES = ("commands", "events", "batches", "book_snapshots", "book_snapshots_skipped",
                 "last_seq")
COMMANDS, EVENTS, BATCHES, BOOKS, BOOKS_SKIPPED, LAST_SEQ = range(6)


def new_control(*, idle_timeout_ns: int, max_batches: int, max_commands: int,
                book_interval_ns: int) -> np.ndarray:
    control = np.zeros(_CONTROL_SIZE, dtype=np.int64)
    control[IDLE_TIMEOUT_NS] = idle_timeout_ns
    control[MAX_BATCHES] = max_batches
    control[MAX_COMMANDS] = max_commands
    control[BOOK_INTERVAL_NS] = book_interval_ns
    return control


@njit(inline="always")
def _copy_rows(target, target_row, source, source_row, rows):
    # Explicit word loops: a slice assignment may allocate a temporary, and this code runs
    # without numba's allocator.
    for r in range(rows):
        for w in range(source.shape[1]):
            target[target_row + r, w] = source[source_row + r, w]


@njit
def _publish_events(outbound, outbound_words, scratch_words, count):
    """Copy ``count`` scratch events into the outbound ring; False if the ring was halted.

    ``*_words`` are the event records viewed as rows of int64 words."""
    capacity = outbound_words.shape[0]
    mask = capacity - 1
    chunk_limit = capacity // 2
    done = 0
    while done < count:
        n = min(count - done, chunk_limit)
        high = claim(outbound, n, -1)
        if high < 0:
            return False
        low = high - n + 1
        first = low & mask
        head = min(n, capacity - first)
        _copy_rows(outbound_words, first, scratch_words, done, head)
        if head < n:
            _copy_rows(outbound_words, 0, scratch_words, done + head, n - head)
        publish(outbound, low, high)
        done += n
    return True


@njit
def _mark_dirty(commands, first, last, dirty, dirty_list, control):
    n_pairs = dirty.shape[0]
    for i in range(first, last):
        pair = commands[i].pair_id
        if 0 <= pair < n_pairs and dirty[pair] == 0:
            dirty[pair] = 1
            dirty_list[control[N_DIRTY]] = pair
            control[N_DIRTY] += 1


@njit
def _publish_books(st, books, dirty, dirty_list, control, counters):
    """One L2 snapshot per changed pair, skipping (and keeping dirty) when the ring is full."""
    mask = books.records.shape[0] - 1
    kept = 0
    for k in range(control[N_DIRTY]):
        pair = dirty_list[k]
        high = claim(books, 1, 0)
        if high < 0:
            dirty_list[kept] = pair
            kept += 1
            counters[BOOKS_SKIPPED] += 1
            continue
        record = books.records[high & mask]
        record.pair_id = pair
        record.seq = st.meta[META_NEXT_SEQ] - 1
        record.n_bids = fill_depth(st, pair, 0, record.bids)
        record.n_asks = fill_depth(st, pair, 1, record.asks)
        publish(books, high, high)
        dirty[pair] = 0
        counters[BOOKS] += 1
    control[N_DIRTY] = kept


@njit
def run_batches(st, inbound, slot, deps, outbound, outbound_words, books, scratch,
                scratch_words, dirty, dirty_list, control, counters):
    """Consume, match and publish until one of the return codes (module docstring)."""
    in_mask = inbound.records.shape[0] - 1
    next_seq = consumer_sequence(inbound, slot) + 1
    for _ in range(control[MAX_BATCHES]):
        high = wait_for(inbound, deps, next_seq, control[IDLE_TIMEOUT_NS])
        if high == ALERTED or high == TIMED_OUT:
            if control[N_DIRTY] > 0:
                _publish_books(st, books, dirty, dirty_list, control, counters)
                control[LAST_BOOK_NS] = monotonic_ns()
            return STOPPED if high == ALERTED else IDLE
        if high - next_seq + 1 > control[MAX_COMMANDS]:
            high = next_seq + control[MAX_COMMANDS] - 1
        first = next_seq & in_mask
        if first + (high - next_seq) > in_mask:  # stop at the end of the buffer; wrap next time
            high = next_seq + (in_mask - first)
        commands = inbound.records[first : first + (high - next_seq + 1)]
        start = 0
        while start < commands.shape[0]:
            nxt, n_events, need = process_commands(st, commands, start, scratch, 0)
            if nxt == start:
                if start > 0:
                    release(inbound, slot, next_seq + start - 1)
                control[NEED] = need
                return NEED_BUFFER
            _mark_dirty(commands, start, nxt, dirty, dirty_list, control)
            if not _publish_events(outbound, outbound_words, scratch_words, n_events):
                # The outbound ring was halted: an immediate stop, nothing more is released.
                if start > 0:
                    release(inbound, slot, next_seq + start - 1)
                return STOPPED
            counters[EVENTS] += n_events
            start = nxt
        release(inbound, slot, high)
        counters[COMMANDS] += high - next_seq + 1
        counters[BATCHES] += 1
        counters[LAST_SEQ] = st.meta[META_NEXT_SEQ] - 1
        next_seq = high + 1
        if control[N_DIRTY] > 0:
            now = monotonic_ns()
            if now - control[LAST_BOOK_NS] >= control[BOOK_INTERVAL_NS]:
                _publish_books(st, books, dirty, dirty_list, control, counters)
                control[LAST_BOOK_NS] = now
    return BUDGET
