"""Peers for the ring tests: compiled producer/consumer loops and their process entry points.

Everything here is importable by a ``spawn`` child as ``tests.ring.ring_workers`` (it
inherits the parent's ``sys.path``, which pytest starts with the repository root). A
stress record carries its producer, a per-producer counter, a payload and a checksum over all
of them, so a consumer can detect a torn record (read before it was fully written, or
overwritten while being read), a lost or duplicated record, and a reordering.
"""

from __future__ import annotations

import os
import queue
import threading
import time

import numpy as np

from ringex.jit import njit
from ringex.ring import Ring, wait
from ringex.ring.atomics import cas, fetch_add, load_acquire, store_release
from ringex.ring.barrier import consumer_sequence, release, wait_for
from ringex.ring.layout import CURSOR, MULTI_PRODUCER
from ringex.ring.sequencer import claim, publish

STRESS_DTYPE = np.dtype([("producer", "<i8"), ("counter", "<i8"), ("p0", "<i8"), ("p1", "<i8"),
                         ("p2", "<i8"), ("p3", "<i8"), ("p4", "<i8"), ("checksum", "<i8")],
                        align=True)
assert STRESS_DTYPE.itemsize == 64

# consumer statistics, one int64 each
SEEN, TORN, OUT_OF_ORDER, OVERTAKEN, BAD_PRODUCER, LAST_SEQ = range(6)


@njit
def mix(x):
    x = (x ^ (x >> 31)) * 0x5DEECE66D
    return x ^ (x >> 29)


@njit
def record_checksum(rec):
    return mix(rec["producer"] * 1_000_003 + rec["counter"] + mix(rec["p0"] ^ rec["p1"])
               + mix(rec["p2"] ^ rec["p3"]) + rec["p4"])


@njit
def fill(rec, producer, counter):
    rec["producer"] = producer
    rec["counter"] = counter
    base = mix(producer * 7919 + counter)
    rec["p0"] = base
    rec["p1"] = base + 1
    rec["p2"] = base ^ 0x55
    rec["p3"] = ~base
    rec["p4"] = counter * 3
    rec["checksum"] = record_checksum(rec)


@njit
def produce(ring, producer, count, max_batch, seed, timeout_ns):
    """Publish ``count`` records in batches of pseudo-random size; returns how many."""
    mask = ring.records.shape[0] - 1
    state = seed | 1
    done = 0
    while done < count:
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        n = min(1 + (state & 0x7FFFFFFF) % max_batch, count - done)
        high = claim(ring, n, timeout_ns)
        if high < 0:
            return done
        low = high - n + 1
        for seq in range(low, high + 1):
            fill(ring.records[seq & mask], producer, done)
            done += 1
        publish(ring, low, high)
    return done


@njit
def consume(ring, slot, deps, total, timeout_ns, stats, last_counter):
    """Consume up to sequence ``total - 1``, checking every forbidden outcome on the way."""
    records = ring.records
    mask = records.shape[0] - 1
    header = ring.header
    next_seq = consumer_sequence(ring, slot) + 1
    while next_seq < total:
        high = wait_for(ring, deps, next_seq, timeout_ns)
        if high < 0:
            break
        if high > load_acquire(header, CURSOR):
            stats[OVERTAKEN] += 1
        for i in range(deps.shape[0]):
            if high > consumer_sequence(ring, deps[i]):
                stats[OVERTAKEN] += 1
        for seq in range(next_seq, high + 1):
            if header[MULTI_PRODUCER] and load_acquire(ring.available, seq & mask) != seq:
                stats[OVERTAKEN] += 1
            rec = records[seq & mask]
            if rec["checksum"] != record_checksum(rec):
                stats[TORN] += 1
            producer = rec["producer"]
            if producer < 0 or producer >= last_counter.shape[0]:
                stats[BAD_PRODUCER] += 1
            else:
                if rec["counter"] != last_counter[producer] + 1:
                    stats[OUT_OF_ORDER] += 1
                last_counter[producer] = rec["counter"]
            stats[SEEN] += 1
        release(ring, slot, high)
        next_seq = high + 1
    stats[LAST_SEQ] = next_seq - 1
    return next_seq - 1


@njit
def spin_until_set(cells, ready_cell, watch_cell, max_iterations):
    """Announce readiness, then spin on ``watch_cell``; returns (value seen, iterations)."""
    store_release(cells, ready_cell, 1)
    for i in range(max_iterations):
        value = load_acquire(cells, watch_cell)
        if value != 0:
            return value, i
    return 0, max_iterations


# --- process entry points (results go to a queue) ------------------------------------------

def producer_main(name, producer, count, max_batch, seed, timeout_s, results):
    ring = Ring.attach(name, STRESS_DTYPE)
    handle = ring.producer()
    done = produce(ring.arrays, producer, count, max_batch, seed, int(timeout_s * 1e9))
    handle.close()
    results.put(("producer", producer, done))


def consumer_main(name, slot, deps, total, producers, timeout_s, results):
    ring = Ring.attach(name, STRESS_DTYPE)
    handle = ring.consumer(slot, deps)
    stats = np.zeros(6, np.int64)
    last = np.full(producers, -1, np.int64)
    consume(ring.arrays, slot, handle.deps, total, int(timeout_s * 1e9), stats, last)
    handle.close()
    results.put(("consumer", slot, stats.tolist(), last.tolist()))


def python_consumer_main(name, slot, deps, timeout_s, results):
    """Consume with the Python API until drained/halted; report sequences and status."""
    ring = Ring.attach(name, STRESS_DTYPE)
    consumer = ring.consumer(slot, deps)
    counters = []
    while True:
        batch = consumer.wait(timeout=timeout_s)
        if batch is None:
            break
        for view in batch.views:
            counters.extend(view["counter"].tolist())
        consumer.release(batch)
    consumer.close()
    results.put(("py-consumer", slot, consumer.last_status, counters))


def python_producer_main(name, counters, timeout_s, results):
    """Write records whose counters are ``counters`` (a list) through the Python API."""
    ring = Ring.attach(name, STRESS_DTYPE)
    producer = ring.producer()
    records = np.zeros(len(counters), STRESS_DTYPE)
    records["counter"] = counters
    try:
        high = producer.write(records, max_batch=4, timeout=timeout_s)
        results.put(("py-producer", "ok", high))
    except Exception as exc:  # reported to the test, which asserts on it
        results.put(("py-producer", type(exc).__name__, str(exc)))
    finally:
        producer.close()


def attach_main(name, dtype_descr, capacity, results):
    """Try to attach with the given expectation; report the error class and message."""
    try:
        Ring.attach(name, np.dtype(dtype_descr), capacity).close()
        results.put(("attach", "ok", ""))
    except Exception as exc:
        results.put(("attach", type(exc).__name__, str(exc)))


def claim_and_hang_main(name, results):
    """Attach as a producer, claim two slots, publish nothing, and wait to be killed."""
    ring = Ring.attach(name, STRESS_DTYPE)
    producer = ring.producer()
    batch = producer.claim(2)
    results.put(("claimed", batch.low, batch.high, os.getpid()))
    time.sleep(60)


def consume_then_hang_main(name, slot, count, results):
    """Attach as consumer ``slot``, consume ``count`` records, then wait to be killed."""
    ring = Ring.attach(name, STRESS_DTYPE)
    consumer = ring.consumer(slot)
    seen = 0
    while seen < count:
        batch = consumer.wait(timeout=10, max_batch=count - seen)
        if batch is None:
            break
        seen += batch.high - batch.low + 1
        consumer.release(batch)
    results.put(("consumed", seen, os.getpid()))
    time.sleep(60)


def spin_main(name, max_iterations, results):
    ring = Ring.attach(name, STRESS_DTYPE)
    value, iterations = spin_until_set(ring.arrays.records.view(np.int64), 0, 8, max_iterations)
    results.put(("spin", value, iterations))


# --- running a peer in a thread or in a spawned process --------------------------------------

class Peer:
    """A peer running ``target(*args, results)`` in a thread or a ``spawn`` process."""

    def __init__(self, mode, target, *args, ctx=None):
        if mode == "thread":
            self.results = queue.Queue()
            self.runner = threading.Thread(target=target, args=(*args, self.results), daemon=True)
        else:
            self.results = ctx.Queue()
            self.runner = ctx.Process(target=target, args=(*args, self.results), daemon=True)
        self.runner.start()

    @property
    def pid(self):
        return getattr(self.runner, "pid", os.getpid())

    def result(self, timeout=30.0):
        return self.results.get(timeout=timeout)

    def join(self, timeout=30.0):
        self.runner.join(timeout)
        assert not self.runner.is_alive(), "peer did not finish in time"
        if hasattr(self.runner, "exitcode"):
            assert self.runner.exitcode is not None


@njit
def add_many(cells, cell, times):
    for _ in range(times):
        fetch_add(cells, cell, 1)


@njit
def cas_increment_many(cells, cell, times):
    for _ in range(times):
        while True:
            old = load_acquire(cells, cell)
            if cas(cells, cell, old, old + 1) == old:
                break


def hammer_main(name, times, results):
    ring = Ring.attach(name, STRESS_DTYPE)
    cells = ring.arrays.records.view(np.int64)
    add_many(cells, 0, times)
    cas_increment_many(cells, 8, times)
    results.put(("hammer", times))
