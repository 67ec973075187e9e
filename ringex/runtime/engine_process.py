"""The engine process: the only writer of the book.

It attaches to the rings the supervisor created, builds the matcher, and runs the compiled
loop (:mod:`ringex.runtime.engine_loop`), coming back to Python only when idle, after a
budget of batches (to publish counters), or to grow its scratch buffer. When the inbound ring
is drained it drains the outbound and book rings in turn, so the publishers finish too.
"""

from __future__ import annotations

import numpy as np

from ringex.config import Settings
from ringex.engine import MatchingEngine
from ringex.records import COMMAND_DTYPE, EVENT_DTYPE
from ringex.ring.ring import Ring
from ringex.runtime.booksnap import BOOK_DTYPE
from ringex.runtime.engine_loop import (
    COUNTER_NAMES,
    NEED_BUFFER,
    STOPPED,
    new_control,
    run_batches,
)
from ringex.runtime.process_common import child_setup
from ringex.runtime.stats import StatsTable
from ringex.runtime.topology import RingNames, slots_for

__all__ = ["engine_main"]

_IDLE_TIMEOUT_NS = 200_000_000
_BATCHES_PER_CALL = 256


def _words(records: np.ndarray) -> np.ndarray:
    """Event records as rows of int64 words, for the compiled copy into the outbound ring."""
    return records.view(np.int64).reshape(records.shape[0], EVENT_DTYPE.itemsize // 8)


def _scratch(events: int):
    scratch = np.zeros(events, dtype=EVENT_DTYPE)
    return scratch, _words(scratch)


def engine_main(settings: Settings, names: RingNames) -> None:
    logger = child_setup("engine", settings.runtime.log_level)
    slots = slots_for(names.embedded)
    inbound = Ring.attach(names.inbound, COMMAND_DTYPE)
    outbound = Ring.attach(names.outbound, EVENT_DTYPE)
    books = Ring.attach(names.books, BOOK_DTYPE)
    stats = StatsTable.attach(names.stats)
    consumer = inbound.consumer(slots.engine, slots.engine_deps)
    event_producer = outbound.producer()
    book_producer = books.producer()

    registry = settings.registry()
    engine = MatchingEngine(registry.pairs, order_capacity=settings.engine.order_capacity)
    scratch, scratch_words = _scratch(max(4 * settings.engine.max_batch, 4096))
    outbound_words = _words(outbound.arrays.records)
    n_pairs = len(registry)
    dirty = np.zeros(n_pairs, dtype=np.int8)
    dirty_list = np.zeros(n_pairs, dtype=np.int64)
    control = new_control(idle_timeout_ns=_IDLE_TIMEOUT_NS, max_batches=_BATCHES_PER_CALL,
                          max_commands=settings.engine.max_batch,
                          book_interval_ns=settings.engine.book_interval_ms * 1_000_000)
    counters = np.zeros(len(COUNTER_NAMES), dtype=np.int64)
    deps = consumer.deps
    row = stats.row("engine")
    logger.info("engine up: %d pairs, order capacity %d, inbound slot %d",
                n_pairs, settings.engine.order_capacity, slots.engine)
    try:
        while True:
            code = run_batches(engine.book_state, inbound.arrays, slots.engine, deps,
                               outbound.arrays, outbound_words, books.arrays, scratch,
                               scratch_words, dirty, dirty_list, control, counters)
            row[: len(counters)] = counters
            if code == NEED_BUFFER:
                logger.info("growing the event buffer to %d events", int(control[5]))
                scratch, scratch_words = _scratch(int(control[5]))
            elif code == STOPPED:
                break
    finally:
        logger.info("engine stopping after %d commands, %d events, last seq %d",
                    counters[0], counters[1], counters[5])
        outbound.drain()
        books.drain()
        for handle in (consumer, event_producer, book_producer):
            handle.close()
        for ring in (inbound, outbound, books):
            ring.close()
        stats.close()
