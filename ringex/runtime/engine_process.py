"""The engine process: the only writer of the book.

It attaches to the rings the supervisor created, **recovers** (below), and runs the compiled
loop (:mod:`ringex.runtime.engine_loop`), coming back to Python only when idle, after a
budget of batches (to publish counters), to grow its scratch buffer, or when a snapshot is
due. When the inbound ring is drained it writes a last snapshot and drains the outbound and
book rings in turn, so the publishers finish too.

Recovery (``docs/recovery.md``):

1. load the newest valid snapshot (:class:`ringex.recovery.SnapshotStore`), or start empty;
2. events whose ``seq`` the outbound ring already holds are matched but not published again
   (``PUBLISH_FROM_SEQ`` = the ring's last seq + 1);
3. embedded: replay the journal from the snapshot's position up to what this run's inbound
   ring has already delivered to an engine, before reading the ring. On a new tree's rings
   (the market-data store is new and empty too) the replay starts at position 0 with an
   empty book instead, publishing every event again, and must meet the snapshot's seq and
   state hash on its way: a restart shows the market it stopped with;
   distributed: publish the snapshot's Kafka positions (:mod:`ringex.recovery.positions`);
   the bridges seek there and the loop drops records it has already applied.

Snapshots: when the loop returns ``SNAPSHOT_DUE`` (or is idle with one due), the
:class:`ringex.recovery.snapshotter.Snapshotter` takes one; matching pauses only for the copy
of the canonical words. Then the covered positions are published for the bridges' commits.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import time

import numpy as np

from ringex.book.state import prefault
from ringex.config import Settings
from ringex.engine import MatchingEngine
from ringex.engine_control import (MAX_BATCHES, N_DIRTY, NEED, OPEN_MESSAGE,
                                   PUBLISH_FROM_SEQ, new_control, new_positions)
from ringex.errors import SnapshotError
from ringex.records import COMMAND_DTYPE, EVENT_DTYPE
from ringex.recovery.positions import write_positions
from ringex.recovery.snapshots import SnapshotStore
from ringex.recovery.snapshotter import (Snapshotter, positions_from_meta, positions_meta,
                                         snapshot_dir)
from ringex.ring.ring import Ring
from ringex.runtime import engine_loop as loop
from ringex.runtime.booksnap import BOOK_DTYPE
from ringex.runtime.process_common import child_setup, settle_heap
from ringex.runtime.stats import StatsTable
from ringex.runtime.topology import RingNames, slots_for

__all__ = ["engine_main"]

_IDLE_TIMEOUT_NS = 200_000_000
_BATCHES_PER_CALL = 256
_REPLAY_CHUNK = 1 << 16


def _words(records: np.ndarray) -> np.ndarray:
    """Event records as rows of int64 words, for the compiled copy into the outbound ring."""
    return records.view(np.int64).reshape(records.shape[0], EVENT_DTYPE.itemsize // 8)


def _scratch(events: int):
    """The engine's event buffer, mapped now (``prefault``): the loop writes into it."""
    scratch = np.zeros(events, dtype=EVENT_DTYPE)
    prefault((scratch,))
    return scratch, _words(scratch)


def _outbound_last_seq(outbound: Ring) -> int:
    cursor = outbound.cursor
    if cursor < 0:
        return 0
    return int(outbound.arrays.records[cursor & (outbound.capacity - 1)]["seq"])


def _replay(engine, commands, positions, control, scratch, event_producer) -> int:
    """Apply ``commands`` (journal records) and publish their events from PUBLISH_FROM_SEQ."""
    published = 0
    start = 0
    while start < commands.shape[0]:
        nxt, n_events, need = loop.apply_commands(engine.book_state, commands, start, scratch,
                                                  0, positions, control)
        if nxt == start and need:
            scratch = np.zeros(max(need, 2 * scratch.shape[0]), dtype=EVENT_DTYPE)
            continue
        events = scratch[:n_events]
        fresh = events[events["seq"] >= control[PUBLISH_FROM_SEQ]]
        if fresh.shape[0]:
            event_producer.write(fresh, max_batch=event_producer.ring.capacity // 2)
            published += fresh.shape[0]
        start = nxt
    return published


def _journal_reaches(settings, names, recovered, consumer, logger) -> bool:
    """Does the journal hold every command the snapshot covers, from position 0?"""
    from ringex.runtime.journal import journal_base

    covered = int(recovered.meta.get("inputs", {}).get("journal", -1))
    end = journal_base(settings.runtime.var_dir, names.inbound) + consumer.sequence + 1
    if 0 <= covered <= end:
        return True
    logger.warning("market data starts without the history before snapshot %s: the journal "
                   "holds positions [0, %d), the snapshot covers [0, %d)",
                   recovered.path.name, end, covered)
    return False


def _check_history(engine, history) -> None:
    """The journal, matched again from position 0, must give the snapshot's exact state."""
    expected = history.meta.get("state_hash")
    if engine.next_seq - 1 != int(history.meta["last_seq"]) or (
            expected is not None and engine.state_hash() != expected):
        raise SnapshotError(
            f"the journal replayed to the position of {history.path.name} gives seq "
            f"{engine.next_seq - 1} and state {engine.state_hash()}, the snapshot seq "
            f"{history.meta['last_seq']} and state {expected}: refusing to publish a "
            "market that differs from the engine's")


def engine_main(settings: Settings, names: RingNames) -> None:
    logger = child_setup("engine", settings.runtime.log_level)
    faulthandler.register(signal.SIGUSR2, all_threads=True)  # stack dumps for operators
    slots = slots_for(names.embedded)
    inbound = Ring.attach(names.inbound, COMMAND_DTYPE)
    outbound = Ring.attach(names.outbound, EVENT_DTYPE)
    books = Ring.attach(names.books, BOOK_DTYPE)
    stats = StatsTable.attach(names.stats)
    consumer = inbound.consumer(slots.engine, slots.engine_deps)
    event_producer = outbound.producer()
    book_producer = books.producer()

    registry = settings.registry()
    capacity = settings.engine.order_capacity
    store = SnapshotStore(snapshot_dir(settings), keep=settings.engine.snapshots_kept)
    positions = new_positions()
    scratch, scratch_words = _scratch(max(4 * settings.engine.max_batch, 4096))
    control = new_control(idle_timeout_ns=_IDLE_TIMEOUT_NS, max_batches=_BATCHES_PER_CALL,
                          max_commands=settings.engine.max_batch,
                          book_interval_ns=settings.engine.book_interval_ms * 1_000_000)
    max_seq = None
    if not names.embedded:
        # Events up to max(what the sinks hold, what this run's outbound ring holds) are
        # safe; a newer snapshot (from an earlier run, while this run's first engine was
        # still replaying from an older one) would skip the events in between.
        from ringex.runtime.delivered import delivered_seq

        max_seq = max(delivered_seq(settings, registry), _outbound_last_seq(outbound))
    window = settings.engine.client_id_window
    recovered = store.load_latest(registry.pairs, order_capacity=capacity, max_seq=max_seq,
                                  client_id_window=window)
    # Embedded, on a new tree's rings: the market-data store is new and empty too, so the
    # events before the snapshot are matched again from the journal and published (with the
    # snapshot as the check), and a restart shows the market it stopped with.
    history = (recovered if recovered is not None and names.embedded
               and _outbound_last_seq(outbound) == 0
               and _journal_reaches(settings, names, recovered, consumer, logger) else None)
    if recovered is None or history is not None:
        if history is not None:
            history.engine = None  # its arrays go before the fresh engine's arrive
        engine = MatchingEngine(registry.pairs, order_capacity=capacity, client_id_window=window)
    else:
        engine = recovered.engine
        positions_from_meta(recovered.meta.get("inputs", {}), positions, control)
    control[PUBLISH_FROM_SEQ] = _outbound_last_seq(outbound) + 1

    def publish_covered(meta) -> None:
        inputs = meta["inputs"]
        write_positions(settings.runtime.var_dir, run=names.inbound,
                        engine_pid=os.getpid(), journal=inputs["journal"],
                        kafka={int(p): o for p, o in inputs["kafka"].items()},
                        last_seq=meta["last_seq"])

    started = time.perf_counter()
    replayed = published = 0
    if names.embedded:
        from ringex.runtime.journal import journal_base, journal_path, read_range

        end = journal_base(settings.runtime.var_dir, names.inbound) + consumer.sequence + 1
        path = journal_path(settings)
        # with history, the replay stops once at the snapshot's position to compare states
        stops = [int(history.meta["inputs"]["journal"])] if history is not None else []
        start = int(positions[0])
        for stop in [*stops, end]:
            for chunk_start in range(start, stop, _REPLAY_CHUNK):
                commands = read_range(path, chunk_start, min(stop, chunk_start + _REPLAY_CHUNK))
                published += _replay(engine, commands, positions, control, scratch,
                                     event_producer)
                replayed += commands.shape[0]
            if stop != end:
                _check_history(engine, history)
            start = max(start, stop)
        positions[0] = max(int(positions[0]), end)
    publish_covered({"inputs": positions_meta(positions, control) if recovered is None
                     else recovered.meta["inputs"],
                     "last_seq": recovered.meta["last_seq"] if recovered else 0})
    logger.info("engine recovered: snapshot %s, %d journal records replayed (%d events "
                "published) in %.3fs; seq %d, %d live orders, state %s; publishing from seq %d",
                (f"{recovered.path.name} (matched again from the journal for market data)"
                 if history is not None else recovered.path.name) if recovered else "none",
                replayed, published,
                time.perf_counter() - started, engine.next_seq - 1, engine.live_orders,
                engine.state_hash(), int(control[PUBLISH_FROM_SEQ]))

    started = time.perf_counter()
    mapped = prefault(engine.book_state)
    logger.info("engine state mapped: %.0f MiB in %.3fs", mapped / 2**20,
                time.perf_counter() - started)
    snapshotter = Snapshotter(settings, engine, store, logger, publish_covered)
    snapshotter.arm(control)
    n_pairs = len(registry)
    counters = np.zeros(len(loop.COUNTER_NAMES), dtype=np.int64)
    # every pair with resting orders starts dirty: its first L2 snapshot goes out at once, so
    # market data shows the recovered book even if nothing trades after a start (a pair
    # without orders has nothing to show, and with scale-out may be another instance's)
    resting = [pair.pair_id for pair in registry.pairs if any(engine.depth(pair.pair_id, 1))]
    dirty, dirty_list = np.zeros(n_pairs, dtype=np.int8), np.zeros(n_pairs, dtype=np.int64)
    dirty[resting] = 1
    dirty_list[:len(resting)] = resting
    control[N_DIRTY] = len(resting)
    arrays = loop.EngineLoopArrays(
        inbound=inbound.arrays, slot=slots.engine, deps=consumer.deps,
        outbound=outbound.arrays, outbound_words=_words(outbound.arrays.records),
        books=books.arrays, scratch=scratch, scratch_words=scratch_words,
        dirty=dirty, dirty_list=dirty_list, control=control, counters=counters,
        positions=positions)
    row = stats.row("engine")
    # Compile (or load from the cache) the hot loop now, with a budget of zero batches, so
    # "engine up" means ready: a cold cache would otherwise stall the first orders ~15 s.
    budget = control[MAX_BATCHES]
    control[MAX_BATCHES] = 0
    loop.run_batches(engine.book_state, arrays)
    control[MAX_BATCHES] = budget
    logger.info("engine up: %d pairs, order capacity %d, inbound slot %d",
                n_pairs, capacity, slots.engine)
    clean = False
    settle_heap()
    try:
        while True:
            code = loop.run_batches(engine.book_state, arrays)
            row[: len(counters)] = counters
            if code == loop.NEED_BUFFER:
                # Doubling: a book that keeps deepening raises the bound by a few events per
                # command, and growing to the exact need returned here thousands of times.
                grown = max(int(control[NEED]), 2 * arrays.scratch.shape[0])
                logger.info("growing the event buffer to %d events (a command may emit %d)",
                            grown, int(control[NEED]))
                scratch, scratch_words = _scratch(grown)
                arrays = arrays._replace(scratch=scratch, scratch_words=scratch_words)
            elif code == loop.SNAPSHOT_DUE or (code == loop.IDLE and snapshotter.due(control)):
                snapshotter.take(positions, control)
            elif code == loop.STOPPED:
                clean = True
                break
    finally:
        logger.info("engine stopping after %d commands, %d events, last seq %d",
                    counters[0], counters[1], engine.next_seq - 1)
        if clean and not control[OPEN_MESSAGE] and (
                settings.engine.snapshot_every_events or settings.engine.snapshot_interval_ms):
            snapshotter.take(positions, control, wait=True)
        snapshotter.close()
        outbound.drain()
        books.drain()
        for handle in (consumer, event_producer, book_producer):
            handle.close()
        for ring in (inbound, outbound, books):
            ring.close()
        stats.close()
