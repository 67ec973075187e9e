"""The engine's hot loop, compiled: inbound ring → matcher → outbound ring, batch by batch.

One call runs up to ``control[MAX_BATCHES]`` batches without returning to Python. A batch is
every command readable in one contiguous stretch of the inbound ring (capped at
``control[MAX_COMMANDS]``): the matcher appends their events to a private scratch buffer,
the events are copied into the outbound ring in claims of at most half its capacity, and only
then is the inbound batch released. So a command is never released before its events are
published, and a restarted engine never skips one.

Who writes what: this loop is the engine process's, and the engine is the only writer of the
book, the only producer of the outbound and book rings, and the only writer of its inbound
consumer sequence. The ``control`` cells and ``positions`` are laid out in
:mod:`ringex.engine_control`; everything the loop works on besides the book comes in one
:data:`EngineLoopArrays`.

Return codes: ``STOPPED`` (the inbound ring was drained or halted), ``IDLE`` (nothing arrived
within ``control[IDLE_TIMEOUT_NS]``), ``BUDGET`` (``MAX_BATCHES`` done), ``NEED_BUFFER`` (one
command may emit more events than the scratch buffer holds; ``control[NEED]`` says how many:
the caller grows the buffer and calls again), ``SNAPSHOT_DUE`` (a batch boundary after
``control[SNAPSHOT_AT_SEQ]`` or ``control[SNAPSHOT_AT_NS]`` was reached, with no Kafka message
half applied: the caller takes a snapshot now).

Recovery (``docs/recovery.md``) adds three rules, all in :func:`apply_commands`:

* **Input positions.** ``positions[0]`` is the next embedded journal position, ``positions[1 +
  p]`` the next offset of Kafka partition ``p`` (0: nothing applied). A snapshot records them.
* **Each Kafka message is applied once.** A bridge that restarts rewinds to a snapshot's
  positions, so records may arrive twice. A record that starts a message (``_reserved`` bit
  ``MESSAGE_START``, set by the bridge) is applied only if its offset is at or beyond the
  partition's next offset; the other records of a message (a frame) only if the message's start
  was applied. So the event stream is a function of the `orders` topic alone.
* **Fillers are skipped.** A zeroed record (``kind == 0`` and ``order_id == 0``), left by a
  producer that died holding a claim, is not matched: it is in no topic, so a replay could not
  reproduce its event.

``control[PUBLISH_FROM_SEQ]``: events with a lower ``seq`` are matched (they rebuild the book)
but not published, because the outbound ring (or a previous engine) already has them.
"""

from __future__ import annotations

from collections import namedtuple

from ringex.book.inspect import fill_depth
from ringex.book.process import process_commands
from ringex.book.state import META_NEXT_SEQ
from ringex.engine_control import (BOOK_INTERVAL_NS, IDLE_TIMEOUT_NS, LAST_BOOK_NS,
                                   MAX_BATCHES, MAX_COMMANDS, MAX_PARTITIONS, N_DIRTY, NEED,
                                   OPEN_MESSAGE, PREV_OFFSET, PREV_PARTITION, PUBLISH_FROM_SEQ,
                                   SKIPPED, SNAPSHOT_AT_NS, SNAPSHOT_AT_SEQ)
from ringex.jit import njit
from ringex.records import MESSAGE_BITS, MESSAGE_END, MESSAGE_START
from ringex.ring.barrier import consumer_sequence, release, wait_for
from ringex.ring.kernel import monotonic_ns
from ringex.ring.sequencer import claim, publish
from ringex.ring.wait import ALERTED, TIMED_OUT

__all__ = [
    "run_batches",
    "EngineLoopArrays",
    "STOPPED",
    "IDLE",
    "BUDGET",
    "NEED_BUFFER",
    "SNAPSHOT_DUE",
    "COUNTER_NAMES",
    "apply_commands",
]

STOPPED, IDLE, BUDGET, NEED_BUFFER, SNAPSHOT_DUE = 1, 2, 3, 4, 5

_MESSAGE_BITS = MESSAGE_BITS

# counters (written by the engine process only)
COUNTER_NAMES = ("commands", "events", "batches", "book_snapshots", "book_snapshots_skipped",
                 "last_seq")
COMMANDS, EVENTS, BATCHES, BOOKS, BOOKS_SKIPPED, LAST_SEQ = range(6)

#: What :func:`run_batches` works on besides the book, all owned by the engine process. One
#: shape for every call, so the loop has one compiled signature.
EngineLoopArrays = namedtuple("EngineLoopArrays", [
    "inbound",  # RingArrays of the inbound ring (COMMAND_DTYPE)
    "slot",  # the engine's consumer slot in it: the one scalar here
    "deps",  # the slots the engine waits behind (the journal, embedded)
    "outbound",  # RingArrays of the outbound ring (EVENT_DTYPE)
    "outbound_words",  # its records as rows of int64 words
    "books",  # RingArrays of the book ring (BOOK_DTYPE)
    "scratch",  # the matcher's event buffer
    "scratch_words",  # the same as rows of int64 words
    "dirty",  # int8 per pair: its L2 book changed since it was last published
    "dirty_list",  # the dirty pairs, control[N_DIRTY] of them
    "control",  # ringex.engine_control cells
    "counters",  # COUNTER_NAMES
    "positions",  # the input positions (ringex.engine_control)
])


@njit(inline="always")
def _decide(c, positions, control):
    """1 = apply, 0 = skip; the state changes a decision to apply makes are done by _commit."""
    partition = c.source_partition
    if c.kind == 0 and c.order_id == 0:
        return 0  # a filler
    if partition < 0 or partition >= MAX_PARTITIONS or c._reserved & _MESSAGE_BITS == 0:
        return 1  # journal input (and unmarked records) are applied in ring order
    if c._reserved & MESSAGE_START:
        return 1 if c.source_offset >= positions[1 + partition] else 0
    if control[PREV_PARTITION] == partition and control[PREV_OFFSET] == c.source_offset:
        return 1
    return 0


@njit(inline="always")
def _commit(c, positions, control):
    partition = c.source_partition
    if partition < 0 or partition >= MAX_PARTITIONS:
        if c.source_offset + 1 > positions[0]:
            positions[0] = c.source_offset + 1
        return
    if c._reserved & _MESSAGE_BITS == 0:
        if c.source_offset + 1 > positions[1 + partition]:
            positions[1 + partition] = c.source_offset + 1
        return
    if c._reserved & MESSAGE_START:
        positions[1 + partition] = c.source_offset + 1
        control[PREV_PARTITION] = partition
        control[PREV_OFFSET] = c.source_offset
    control[OPEN_MESSAGE] = 0 if c._reserved & MESSAGE_END else 1


@njit
def apply_commands(st, commands, start, scratch, k, positions, control):
    """``process_commands`` with the recovery rules (module docstring): applies
    ``commands[start:]`` while their events fit in ``scratch[k:]``.

    Returns ``(next_command, next_event, blocked_need)`` like ``process_commands``; skipped
    records count as consumed. Journal records go to the matcher in runs; Kafka records one
    at a time (a decision depends on the records before it, and a call costs ~10 ns)."""
    n = commands.shape[0]
    i = start
    while i < n:
        c = commands[i]
        if _decide(c, positions, control) == 0:
            control[SKIPPED] += 1
            if c.source_partition >= 0 and c._reserved & MESSAGE_START:
                control[PREV_PARTITION] = -1
            i += 1
            continue
        j = i + 1
        if c.source_partition < 0:
            while j < n and commands[j].source_partition < 0 and not (
                    commands[j].kind == 0 and commands[j].order_id == 0):
                j += 1
        nxt, k, need = process_commands(st, commands[:j], i, scratch, k)
        for r in range(i, nxt):
            _commit(commands[r], positions, control)
        if nxt < j:
            return nxt, k, need
        i = j
    return i, k, 0


@njit(inline="always")
def _copy_rows(target, target_row, source, source_row, rows):
    # Explicit word loops: a slice assignment may allocate a temporary, and this code runs
    # without numba's allocator.
    for r in range(rows):
        for w in range(source.shape[1]):
            target[target_row + r, w] = source[source_row + r, w]


@njit
def _publish_events(outbound, outbound_words, scratch, scratch_words, count, publish_from):
    """Copy the ``count`` scratch events with ``seq >= publish_from`` into the outbound ring;
    False if the ring was halted.

    ``*_words`` are the event records viewed as rows of int64 words."""
    capacity = outbound_words.shape[0]
    mask = capacity - 1
    chunk_limit = capacity // 2
    done = 0
    while done < count and scratch[done].seq < publish_from:
        done += 1
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
def run_batches(st, arrays):
    """Consume, match and publish until one of the return codes (module docstring).

    ``st`` is the book (:class:`ringex.book.state.BookState`), ``arrays`` an
    :data:`EngineLoopArrays`."""
    inbound, slot, deps, books = arrays.inbound, arrays.slot, arrays.deps, arrays.books
    outbound, outbound_words = arrays.outbound, arrays.outbound_words
    scratch, scratch_words = arrays.scratch, arrays.scratch_words
    dirty, dirty_list = arrays.dirty, arrays.dirty_list
    control, counters, positions = arrays.control, arrays.counters, arrays.positions
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
            nxt, n_events, need = apply_commands(st, commands, start, scratch, 0, positions,
                                                 control)
            if nxt == start:
                if start > 0:
                    release(inbound, slot, next_seq + start - 1)
                control[NEED] = need
                return NEED_BUFFER
            _mark_dirty(commands, start, nxt, dirty, dirty_list, control)
            if not _publish_events(outbound, outbound_words, scratch, scratch_words, n_events,
                                   control[PUBLISH_FROM_SEQ]):
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
        if control[OPEN_MESSAGE] == 0:
            if 0 < control[SNAPSHOT_AT_SEQ] <= st.meta[META_NEXT_SEQ] - 1:
                return SNAPSHOT_DUE
            if 0 < control[SNAPSHOT_AT_NS] <= monotonic_ns():
                return SNAPSHOT_DUE
    return BUDGET
