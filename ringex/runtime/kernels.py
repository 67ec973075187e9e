"""``ringex serve`` compiles (or loads) every kernel its children use, once, before they start.

Each child of ``ringex serve`` would otherwise compile on first use what it calls, several of
them the same functions at the same time, silently, for minutes on a cold cache (a first
order waited behind the engine's compile). :func:`compile_kernels` runs in the supervisor
before any child is spawned: a private, throw-away exchange (its own segments under a
temporary prefix and directory, the same code as the real one) takes two orders through the
code paths of each child: the matcher, the engine loop and its rings, the journal's and the
market data's consumers and store, the gateway's decoders and reads (and, distributed, the
Kafka wire formats and the Redis fold). numba saves what it compiles to its on-disk cache,
from which the children then load in well under a second each. Whatever a child still needs
that was not covered is compiled by that child, once across processes
(:mod:`ringex.jit_cache`).

On a cold cache it prints one line per stage to stderr, e.g.
``ringex: compiling kernels (first start on this machine): matcher 1/4 ... 41.2 s``; on a warm
cache a single line saying they were loaded. While it runs, ``status`` (a callable) is told
the stage, which the start-up health responder reports (:mod:`ringex.runtime.starting`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import tempfile
import time
from typing import Callable, TextIO

import numpy as np

from ringex.config import KafkaSettings, RedisSettings, Settings

__all__ = ["compile_kernels"]


class _CompileWatch:
    """Counts numba compiles (cache misses) in this process while installed."""

    def __init__(self):
        from numba.core import event

        class Listener(event.Listener):
            def on_start(inner, ev):  # noqa: N805 - numba's listener API
                self.compiles += 1
                if self.on_first is not None:
                    first, self.on_first = self.on_first, None
                    first()

            def on_end(inner, ev):  # noqa: N805
                pass

        self.compiles = 0
        self.on_first: Callable[[], None] | None = None
        self._listener = Listener()
        self._event = event

    def __enter__(self):
        self._event.register("numba:compile", self._listener)
        return self

    def __exit__(self, *exc):
        self._event.unregister("numba:compile", self._listener)


def _private_settings(settings: Settings, var_dir: str) -> Settings:
    """The throw-away exchange is always embedded (its own rings, journal and shared-memory
    store), whatever mode the real one runs in: the kernels are the same."""
    engine = dataclasses.replace(settings.engine, inbound_capacity=1024, outbound_capacity=1024,
                                 book_ring_capacity=64, order_capacity=64,
                                 snapshot_dir=os.path.join(var_dir, "snapshots"))
    runtime = dataclasses.replace(settings.runtime, var_dir=var_dir,
                                  segment_prefix=f"rgxkern{os.getpid()}")
    return dataclasses.replace(settings, engine=engine, runtime=runtime, kafka=KafkaSettings(),
                               redis=RedisSettings()).validate()


@contextlib.contextmanager
def _quiet(logger_name: str):
    """The private exchange's segments come and go without the supervisor's info lines."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class _PrivateExchange:
    """The segments of an embedded exchange, in-process, for the compile stages only."""

    def __init__(self, settings: Settings):
        from ringex.marketdata.shm_store import SharedMemoryMarketData
        from ringex.runtime.supervisor import Supervisor

        self.settings = settings
        self.registry = settings.registry()
        self.supervisor = Supervisor(settings, lambda _supervisor: [])
        with _quiet("ringex.supervisor"):
            self.supervisor.create_segments(
                lambda prefix: SharedMemoryMarketData.create(self.registry, prefix=prefix))
        self.names = self.supervisor.names
        self.store = self.supervisor.extra_segments[0]
        self.engine = None

    def close(self) -> None:
        with _quiet("ringex.supervisor"):
            self.supervisor.stop(timeout=1.0)


def warm_matcher(registry) -> None:
    """The matcher's batch entry point (``MatchingEngine.process``)."""
    from ringex import commands as cmd
    from ringex.engine import MatchingEngine
    from ringex.records import Side

    pair = next(iter(registry))
    engine = MatchingEngine(registry.pairs, order_capacity=16)
    engine.process(cmd.pack([cmd.new(1, 1, Side.BUY, 1, 1, pair=pair.pair_id)]))


def warm_redis_fold(registry) -> None:
    """The Redis store's batch fold (candles, trades, order records); no server needed."""
    from ringex import commands as cmd
    from ringex.engine import MatchingEngine
    from ringex.marketdata.redis_encode import BatchEncoder
    from ringex.records import Side

    pair = next(iter(registry))
    engine = MatchingEngine(registry.pairs, order_capacity=16)
    events = engine.process(cmd.pack([
        cmd.new(1, 1, Side.SELL, 1, 2, pair=pair.pair_id, ts=10**18),
        cmd.new(2, 2, Side.BUY, 1, 1, pair=pair.pair_id, ts=10**18 + 1)]))
    BatchEncoder(registry, 10).encode(events)


def _orders(registry):
    from ringex import commands as cmd
    from ringex.records import Side

    # a price and quantities every pair configuration accepts: its own band and minimum
    pair = next(iter(registry))
    price, lots = pair.band_lo_ticks, pair.min_qty_lots
    return cmd.pack([cmd.new(0, 1, Side.SELL, price, 2 * lots, pair=pair.pair_id),
                     cmd.new(0, 2, Side.BUY, price, lots, pair=pair.pair_id)])


def _stage_matcher(ex: _PrivateExchange) -> None:
    from ringex.engine import MatchingEngine

    warm_matcher(ex.registry)
    engine = MatchingEngine(ex.registry.pairs, order_capacity=64,
                            client_id_window=ex.settings.engine.client_id_window)
    engine.state_hash()
    ex.engine = engine


def _stage_engine(ex: _PrivateExchange) -> None:
    """The orders go in as a gateway or ``ringex submit`` sends them, through the journal's
    consumer and the engine loop, exactly as in the children."""
    from ringex.engine_control import new_control, new_positions
    from ringex.records import COMMAND_DTYPE, EVENT_DTYPE
    from ringex.ring.ring import Ring
    from ringex.runtime import engine_loop as loop
    from ringex.runtime.booksnap import BOOK_DTYPE
    from ringex.runtime.engine_process import _scratch, _words
    from ringex.runtime.submit import InboundClient
    from ringex.runtime.topology import slots_for

    names, slots = ex.names, slots_for(True)
    client = InboundClient(ex.settings.runtime.var_dir, timeout=5.0)
    inbound = Ring.attach(names.inbound, COMMAND_DTYPE)
    outbound = Ring.attach(names.outbound, EVENT_DTYPE)
    books = Ring.attach(names.books, BOOK_DTYPE)
    journal = inbound.consumer(slots.journal)
    consumer = inbound.consumer(slots.engine, slots.engine_deps)
    events_out, books_out = outbound.producer(), books.producer()
    try:
        positions = client.submit(_orders(ex.registry), wait_durable=False)
        batch = journal.wait(timeout=5.0)  # the journal process's loop, without the file
        if batch is not None:
            journal.release(batch)
        client.wait_durable_position(int(positions[-1]), 5.0)
        scratch, scratch_words = _scratch(4096)
        control = new_control(idle_timeout_ns=1_000_000, max_batches=1,
                              max_commands=ex.settings.engine.max_batch, book_interval_ns=0)
        n_pairs = len(ex.registry)
        loop.run_batches(ex.engine.book_state, loop.EngineLoopArrays(
            inbound=inbound.arrays, slot=slots.engine, deps=consumer.deps,
            outbound=outbound.arrays, outbound_words=_words(outbound.arrays.records),
            books=books.arrays, scratch=scratch, scratch_words=scratch_words,
            dirty=np.zeros(n_pairs, dtype=np.int8), dirty_list=np.zeros(n_pairs, dtype=np.int64),
            control=control, counters=np.zeros(len(loop.COUNTER_NAMES), dtype=np.int64),
            positions=new_positions()))
    finally:
        for handle in (consumer, journal, events_out, books_out):
            handle.close()
        for ring in (inbound, outbound, books):
            ring.close()
        client.close()


def _stage_marketdata(ex: _PrivateExchange) -> None:
    from ringex.records import EVENT_DTYPE
    from ringex.ring.ring import Ring
    from ringex.runtime.booksnap import BOOK_DTYPE
    from ringex.runtime.topology import slots_for

    slots = slots_for(True)
    outbound = Ring.attach(ex.names.outbound, EVENT_DTYPE)
    books = Ring.attach(ex.names.books, BOOK_DTYPE)
    events, snapshots = outbound.consumer(slots.marketdata), books.consumer(0)
    try:
        batch = events.wait(timeout=5.0, max_batch=8192)
        if batch is not None:
            for view in batch.views:
                ex.store.apply(view)
            events.release(batch)
        snapshot_batch = snapshots.poll()
        if snapshot_batch is not None:
            for view in snapshot_batch.views:
                for record in view:
                    ex.store.put_book(int(record["pair_id"]), int(record["seq"]),
                                      record["bids"][: record["n_bids"]],
                                      record["asks"][: record["n_asks"]])
            snapshots.release(snapshot_batch)
    finally:
        events.close()
        snapshots.close()
        outbound.close()
        books.close()


def _stage_gateway(ex: _PrivateExchange) -> None:
    """The REST decoders and the market-data reads the gateway's workers run."""
    from ringex.marketdata.shm_store import SharedMemoryMarketData

    from ringex.wire.json_commands import decode_command, decode_commands

    # the bodies as gateway.requests splices them; the runtime never imports the gateway
    pair = next(iter(ex.registry))
    price, quantity = pair.ticks_to_price(pair.band_lo_ticks), pair.lots_to_qty(pair.min_qty_lots)
    envelope = (f'{{"action":"new","order":{{"pair":"{pair.name}","side":"SELL","type":"LIMIT",'
                f'"price":"{price}","amount":"{quantity}"}}}}').encode()
    native = (f'{{"type":"new","pair":"{pair.name}","side":"BUY","order_type":"LIMIT",'
              f'"price":"{price}","quantity":"{quantity}","client_order_id":"c1"}}').encode()
    for payload in (envelope, native):
        decode_command(payload, ex.registry, order_id=1, timestamp_ns=1, default_account=1,
                       max_bytes=65536)
    decode_commands([native], ex.registry, order_ids=[1], timestamp_ns=1, default_account=1,
                    max_bytes=65536)
    store = SharedMemoryMarketData.attach(ex.store.name, ex.registry)
    try:
        pair = next(iter(ex.registry)).name
        store.last_seq()
        store.order(1)
        store.book(pair)
        store.trades(pair)
        store.candles(pair, "1m")
        store.pair_status(pair)
    finally:
        store.close()


def _stage_wire(ex: _PrivateExchange) -> None:
    from ringex.kafka.warm import warm_wire

    warm_wire(ex.registry)
    warm_redis_fold(ex.registry)


def compile_kernels(settings: Settings, *, out: TextIO | None = None,
                    status: Callable[[str], None] | None = None) -> dict:
    """Compile or load every kernel of ``ringex serve``'s children; returns what it did."""
    out = sys.stderr if out is None else out
    stages: list[tuple[str, Callable]] = [("matcher", _stage_matcher),
                                          ("engine loop", _stage_engine),
                                          ("market data", _stage_marketdata)]
    if settings.gateway.enabled:
        stages.append(("gateway", _stage_gateway))
    if not settings.embedded:
        stages.append(("kafka and redis wire", _stage_wire))
    started = time.perf_counter()
    cpu_started = time.process_time()
    compiled_any = False
    report = {"stages": []}
    with tempfile.TemporaryDirectory(prefix="ringex-kernels-") as var_dir, \
            _CompileWatch() as watch:
        exchange = _PrivateExchange(_private_settings(settings, var_dir))
        try:
            for number, (name, stage) in enumerate(stages, 1):
                label = f"{name} {number}/{len(stages)}"
                if status is not None:
                    status(f"engine starting: compiling kernels ({label})")
                stage_started, before = time.perf_counter(), watch.compiles

                def announce(label=label):
                    print(f"ringex: compiling kernels (first start on this machine): {label} ...",
                          end="", file=out, flush=True)

                watch.on_first = announce
                stage(exchange)
                watch.on_first = None
                seconds = time.perf_counter() - stage_started
                if watch.compiles > before:
                    compiled_any = True
                    print(f" {seconds:.1f} s", file=out, flush=True)
                report["stages"].append({"stage": name, "seconds": round(seconds, 2),
                                         "compiles": watch.compiles - before})
        finally:
            exchange.close()
    seconds = time.perf_counter() - started
    report.update(seconds=round(seconds, 2), compiles=watch.compiles,
                  cpu_seconds=round(time.process_time() - cpu_started, 2))
    if compiled_any:
        print(f"ringex: kernels compiled in {seconds:.1f} s ({report['cpu_seconds']:.0f} CPU s);"
              " later starts load them from numba's cache", file=out, flush=True)
    else:
        print(f"ringex: kernels loaded from cache in {seconds:.1f} s", file=out, flush=True)
    return report
