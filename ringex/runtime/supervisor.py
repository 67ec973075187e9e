"""The supervisor: owner of every shared-memory segment and parent of every process.

It creates the rings for the configured mode, writes their names to ``<var>/run/rings.json``
(and, embedded, prepares the journal and writes the run's journal base), starts the children
(``spawn``, never ``fork``: librdkafka and numba state must not be inherited), restarts a
dead child with backoff, and on SIGTERM/SIGINT shuts down in dependency order:

1. stop the producers (bridges, gateway);
2. drain the inbound ring: the journal and the engine consume what was published and exit;
3. the engine drains the outbound and book rings: the publishers finish and exit;
4. unlink every segment.

A dead engine is restarted and recovers from its newest snapshot (``docs/recovery.md``).
Embedded, nothing else moves: the journal holds every command the ring delivered. Distributed,
the input side restarts with it: the bridges are stopped, the inbound records the dead engine
had not consumed are discarded (the new engine recovers from a snapshot older than them, and
the bridges read them again from Kafka in order), then the engine and the bridges start
again. A dead producer that held a claim on the inbound ring is cleared with
``Ring.fill_unpublished``, which publishes its claimed slots as zeroed records, which the
engine skips.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable

from ringex.config import Settings
from ringex.records import COMMAND_DTYPE, EVENT_DTYPE
from ringex.recovery.positions import positions_path
from ringex.ring import layout as ring_layout
from ringex.ring import wait
from ringex.ring.ring import Ring
from ringex.runtime.booksnap import BOOK_DTYPE
from ringex.runtime.stats import StatsTable
from ringex.runtime.topology import (RingNames, marketdata_follows_kafka, slots_for,
                                     write_ring_names)

__all__ = ["Supervisor", "Child", "INBOUND_PRODUCERS"]

log = logging.getLogger("ringex.supervisor")

#: Producer slots of the inbound ring: bridges, gateway workers and submit clients share them.
INBOUND_PRODUCERS = 32
_MAX_RESTARTS = 20


@dataclass
class Child:
    """One supervised process: ``target(settings, names, *args)`` in a spawned process."""

    role: str
    target: Callable
    args: tuple = ()
    essential: bool = False  # its death stops the exchange
    producer: bool = False  # stopped first on shutdown
    process: multiprocessing.Process | None = None
    restarts: int = 0
    next_start: float = 0.0
    exitcodes: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(self, settings: Settings, children_factory: Callable[["Supervisor"], list[Child]]):
        self.settings = settings
        self.embedded = settings.embedded
        self.context = multiprocessing.get_context("spawn")
        self._children_factory = children_factory
        self.children: list[Child] = []
        self.rings: dict[str, Ring] = {}
        self.extra_segments: list = []
        self.names: RingNames | None = None
        self.stats: StatsTable | None = None
        self._stopping = False
        self.failed = False

    # -- lifecycle ---------------------------------------------------------------------
    def create_segments(self, marketdata_factory: Callable[[str], object] | None = None) -> None:
        engine = self.settings.engine
        slots = slots_for(self.embedded)
        prefix = self.settings.runtime.segment_prefix
        self._remove_stale_segments(prefix)
        strategy = wait.NAMES[engine.wait_strategy]
        self.rings["inbound"] = Ring.create(
            COMMAND_DTYPE, engine.inbound_capacity, consumers=slots.inbound_consumers,
            producers=INBOUND_PRODUCERS, multi_producer=True, wait_strategy=strategy,
            purpose="inbound", prefix=prefix)
        self.rings["outbound"] = Ring.create(
            EVENT_DTYPE, engine.outbound_capacity, consumers=slots.outbound_consumers,
            wait_strategy=strategy, purpose="outbound", prefix=prefix)
        if marketdata_follows_kafka(self.settings):
            # Retired here, not when that process attaches: a market-data process still
            # starting (or stopped, or failing to reach Redis) would otherwise hold the
            # engine once the ring is full.
            self.rings["outbound"].retire_consumer(slots.marketdata)
        self.rings["books"] = Ring.create(
            BOOK_DTYPE, engine.book_ring_capacity, consumers=1, wait_strategy=strategy,
            purpose="books", prefix=prefix)
        self.stats = StatsTable.create(prefix)
        marketdata_name = ""
        if marketdata_factory is not None:
            segment = marketdata_factory(prefix)
            self.extra_segments.append(segment)
            marketdata_name = segment.name
        self.names = RingNames(
            inbound=self.rings["inbound"].name, outbound=self.rings["outbound"].name,
            books=self.rings["books"].name, stats=self.stats.name, marketdata=marketdata_name,
            embedded=self.embedded, supervisor_pid=os.getpid())
        write_ring_names(self.settings.runtime.var_dir, self.names)
        if self.embedded:
            from ringex.runtime.journal import journal_path, prepare_journal, write_journal_base

            base = prepare_journal(journal_path(self.settings))
            write_journal_base(self.settings.runtime.var_dir, self.names.inbound, base)
            log.info("journal base %d: order ids of this run start at %d", base, base + 1)

    @staticmethod
    def _remove_stale_segments(prefix: str) -> None:
        """A tree killed with -9 (its resource tracker too) leaves its segments behind."""
        from ringex.ring.segment import list_segments, remove_segment

        for info in list_segments(prefix):
            pid = info.owner_pid
            if not pid:  # not a ring (stats, market data): the creator's pid is in the name
                parts = info.name.split("-")
                pid = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else 0
                if not pid or os.path.exists(f"/proc/{pid}"):
                    continue
            elif info.owner_alive:
                continue
            if pid != os.getpid():
                try:
                    remove_segment(info.name)
                    log.warning("removed stale segment %s of dead pid %d", info.name, pid)
                except FileNotFoundError:
                    pass

    def start(self) -> None:
        positions_path(self.settings.runtime.var_dir).unlink(missing_ok=True)
        self.children = self._children_factory(self)
        # consumers first, then the engine, then producers: nothing waits on a missing peer
        for child in sorted(self.children, key=lambda c: (c.producer, c.role != "engine")):
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.process = self.context.Process(
            target=child.target, args=(self.settings, self.names, *child.args),
            name=f"ringex-{child.role}", daemon=False)
        child.process.start()
        log.info("started %s (pid %d)", child.role, child.process.pid)

    def run(self, poll_interval: float = 0.5, until: Callable[[], bool] | None = None) -> int:
        """Supervise until SIGTERM/SIGINT (or ``until()``); returns the exit code."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM,
                                                                         signal.SIGINT)}
        try:
            while not self._stopping and not (until and until()):
                self.check_children()
                time.sleep(poll_interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()
        return 1 if self.failed else 0

    def _on_signal(self, signum, _frame) -> None:
        log.info("signal %d: shutting down", signum)
        self._stopping = True

    def check_children(self) -> None:
        inbound = self.rings["inbound"]
        for child in self.children:
            process = child.process
            if process is None or process.is_alive():
                continue
            if child.next_start == 0.0:
                child.exitcodes.append(process.exitcode)
            if child.essential and child.role != "engine":
                log.error("%s exited with %s: stopping the exchange", child.role, process.exitcode)
                self.failed = True
                self._stopping = True
                return
            if child.restarts >= _MAX_RESTARTS:
                log.error("%s keeps dying (%d restarts): stopping", child.role, child.restarts)
                self.failed = True
                self._stopping = True
                return
            now = time.monotonic()
            if child.next_start == 0.0:
                child.next_start = now + min(5.0, 0.2 * 2 ** child.restarts)
            if now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                log.warning("restarting %s (exit %s, restart %d)", child.role, process.exitcode,
                            child.restarts)
                if child.role == "engine":
                    self._restart_engine(child)
                    return
                if child.producer and inbound.dead_peers():
                    inbound.fill_unpublished(grace=0.5)
                self._spawn(child)

    def _restart_engine(self, engine: Child) -> None:
        """Restart the engine; distributed, restart the bridges around it (module docstring)."""
        inbound = self.rings["inbound"]
        bridges = [] if self.embedded else [c for c in self.children
                                            if c.role.startswith("bridge")]
        deadline = time.monotonic() + 15.0
        for bridge in bridges:
            self._terminate(bridge, deadline)
        if inbound.dead_peers():
            inbound.fill_unpublished(grace=0.2)
        if not self.embedded:
            slot = slots_for(False).engine
            discarded = inbound.cursor - inbound.consumer_sequence(slot)
            inbound.arrays.header[ring_layout.consumer_cell(slot)] = inbound.cursor
            log.warning("engine restart: %d inbound records discarded (the bridges read them "
                        "again from Kafka)", discarded)
        positions_path(self.settings.runtime.var_dir).unlink(missing_ok=True)
        self._spawn(engine)
        for bridge in bridges:
            bridge.next_start = 0.0
            self._spawn(bridge)

    def kill_children(self) -> None:
        """SIGKILL every child now, with no drain and no last snapshot: for an instance that
        lost its lease (``ringex/kafka/lease.py``), whose successor may already be running.
        :meth:`stop` then only unlinks the segments."""
        for child in self.children:
            if child.process is not None and child.process.is_alive():
                child.process.kill()
        for child in self.children:
            if child.process is not None:
                child.process.join(5.0)
        self.failed = True
        self._stopping = True

    def stop(self, timeout: float = 30.0) -> None:
        if not self.rings:
            return
        deadline = time.monotonic() + timeout
        producers = [c for c in self.children if c.producer]
        others = [c for c in self.children if not c.producer]
        for child in producers:
            self._terminate(child, deadline)
        self.rings["inbound"].drain()
        for child in sorted(others, key=lambda c: c.role != "engine"):
            self._join(child, deadline)
        # If the engine is gone without draining (crash), release the publishers ourselves.
        self.rings["outbound"].drain()
        self.rings["books"].drain()
        for child in others:
            self._join(child, deadline)
            self._terminate(child, deadline)
        for ring in self.rings.values():
            ring.unlink()
        for owned in self.extra_segments:
            owned.close()  # the owner's close unlinks
        if self.stats is not None:
            self.stats.unlink()
        self.rings.clear()
        log.info("stopped; segments unlinked")

    @staticmethod
    def _join(child: Child, deadline: float) -> None:
        if child.process is not None:
            child.process.join(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _terminate(child: Child, deadline: float) -> None:
        process = child.process
        if process is None or not process.is_alive():
            return
        process.terminate()
        process.join(max(0.5, min(5.0, deadline - time.monotonic())))
        if process.is_alive():
            process.kill()
            process.join(5.0)
