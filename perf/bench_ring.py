"""Benchmark of the shared-memory ring against multiprocessing.Queue and faster-fifo.

Prints one JSON line per topology, a machine/versions line, and one line per baseline with
the ring's ratio to it. Every run verifies its final state (record counts, per-producer
order, value sums), so a fast wrong answer fails instead of printing a number.

    python perf/bench_ring.py            # human-readable header + JSON lines
    python perf/bench_ring.py --json     # only the JSON lines
    python perf/bench_ring.py --records 2000000 --topologies 1p1c py1c

Topologies (all peers are separate ``spawn`` processes):
  1p1c         compiled producer -> compiled consumer, 64-byte records; plus an open-loop
               one-hop latency run at a fixed rate with a busy-spinning consumer
  2p1c         two compiled producers through the multi-producer sequencer
  py1c         a Python producer writing numpy batches (Producer.write)
  1p-engine-2c producer -> inbound ring -> compiled pass-through engine -> outbound ring ->
               two compiled consumers
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perf.machine import cpu_model, versions  # noqa: E402
from ringex.jit import njit  # noqa: E402
from ringex.ring import Ring, wait  # noqa: E402
from ringex.ring.atomics import cpu_relax  # noqa: E402
from ringex.ring.barrier import consumer_sequence, release, wait_for  # noqa: E402
from ringex.ring.kernel import monotonic_ns, sched_yield  # noqa: E402
from ringex.ring.sequencer import claim, publish  # noqa: E402

BENCH_DTYPE = np.dtype([("seq", "<i8"), ("producer", "<i8"), ("sent_ns", "<i8"),
                        ("value", "<i8"), ("pad", "<i8", (4,))], align=True)
assert BENCH_DTYPE.itemsize == 64
TIMEOUT_NS = 60_000_000_000
# consumer report cells
COUNT, VALUE_SUM, ORDER_ERRORS, T_END = range(4)


@njit
def produce(ring, producer, count, batch):
    mask = ring.records.shape[0] - 1
    start = monotonic_ns()
    done = 0
    while done < count:
        n = min(batch, count - done)
        high = claim(ring, n, TIMEOUT_NS)
        if high < 0:
            break
        low = high - n + 1
        for seq in range(low, high + 1):
            rec = ring.records[seq & mask]
            rec["seq"] = done
            rec["producer"] = producer
            rec["value"] = done * 3 + producer
            done += 1
        publish(ring, low, high)
    return start, done


@njit
def consume(ring, slot, deps, total, last, report):
    """``last[p]``: the last sequence seen from producer ``p`` (start at -1)."""
    records = ring.records
    mask = records.shape[0] - 1
    next_seq = consumer_sequence(ring, slot) + 1
    while next_seq < total:
        high = wait_for(ring, deps, next_seq, TIMEOUT_NS)
        if high < 0:
            break
        for seq in range(next_seq, high + 1):
            rec = records[seq & mask]
            producer = rec["producer"]
            if rec["seq"] != last[producer] + 1:
                report[ORDER_ERRORS] += 1
            last[producer] = rec["seq"]
            report[VALUE_SUM] += rec["value"]
        report[COUNT] += high - next_seq + 1
        release(ring, slot, high)
        next_seq = high + 1
    report[T_END] = monotonic_ns()


@njit
def pass_through(inbound, outbound, slot, deps, total):
    """The engine loop shape: consume a batch, process it, publish the results, release."""
    in_mask = inbound.records.shape[0] - 1
    out_mask = outbound.records.shape[0] - 1
    out_capacity = outbound.records.shape[0]
    next_seq = consumer_sequence(inbound, slot) + 1
    while next_seq < total:
        high = wait_for(inbound, deps, next_seq, TIMEOUT_NS)
        if high < 0:
            break
        high = min(high, next_seq + out_capacity - 1)
        n = high - next_seq + 1
        out_high = claim(outbound, n, TIMEOUT_NS)
        if out_high < 0:
            break
        out_low = out_high - n + 1
        for k in range(n):
            outbound.records[(out_low + k) & out_mask] = inbound.records[(next_seq + k) & in_mask]
        publish(outbound, out_low, out_high)
        release(inbound, slot, high)
        next_seq = high + 1


@njit
def produce_paced(ring, count, interval_ns, start_ns):
    mask = ring.records.shape[0] - 1
    for i in range(count):
        due = start_ns + i * interval_ns
        now = monotonic_ns()
        while now < due:
            if due - now > 50_000:
                sched_yield()  # far ahead of schedule: let the consumer have the core
            else:
                cpu_relax()
            now = monotonic_ns()
        high = claim(ring, 1, TIMEOUT_NS)
        if high < 0:
            return i
        rec = ring.records[high & mask]
        rec["seq"] = i
        rec["producer"] = 0
        rec["value"] = i * 3
        rec["sent_ns"] = due  # the scheduled time: open loop, no coordinated omission
        publish(ring, high, high)
    return count


@njit
def consume_latency(ring, slot, deps, total, latencies):
    records = ring.records
    mask = records.shape[0] - 1
    next_seq = consumer_sequence(ring, slot) + 1
    while next_seq < total:
        high = wait_for(ring, deps, next_seq, TIMEOUT_NS)
        if high < 0:
            break
        now = monotonic_ns()
        for seq in range(next_seq, high + 1):
            rec = records[seq & mask]
            latencies[rec["seq"]] = now - rec["sent_ns"]
        release(ring, slot, high)
        next_seq = high + 1
    return next_seq


# --- process entry points ---------------------------------------------------------------------

def _attach(name):
    _warm_up_local()
    return Ring.attach(name, BENCH_DTYPE)


def _local_ring(capacity, consumers=1):
    """A ring in private memory with the same numba types as a shared one."""
    from ringex.ring.layout import RingLayout

    layout = RingLayout(capacity, BENCH_DTYPE, consumers)
    buf = memoryview(bytearray(layout.total_bytes))
    layout.initialize(buf, wait.BLOCKING, os.getpid(), 0)
    return layout.views(buf)


def _warm_up_local():
    """Load (or compile) every kernel in this process before the clock starts."""
    no_deps = np.zeros(0, np.int64)
    ring, outbound = _local_ring(64, consumers=2), _local_ring(64)
    produce(ring, 0, 32, 8)
    consume(ring, 0, no_deps, 32, np.full(1, -1, np.int64), np.zeros(4, np.int64))
    pass_through(ring, outbound, 1, no_deps, 32)
    ring = _local_ring(64)
    high = claim(ring, 4, -1)  # the Python API's entry points (Producer.write)
    publish(ring, high - 3, high)
    ring = _local_ring(64)
    produce_paced(ring, 4, 1000, time.monotonic_ns())
    consume_latency(ring, 0, no_deps, 4, np.zeros(4, np.int64))


def producer_main(name, producer, count, batch, go, results):
    ring = _attach(name)
    ring.producer()
    go.wait()
    start, done = produce(ring.arrays, producer, count, batch)
    results.put(("producer", producer, start, done))


def python_producer_main(name, count, batch, go, results):
    ring = _attach(name)
    producer = ring.producer()
    records = np.zeros(batch, BENCH_DTYPE)
    go.wait()
    start = time.monotonic_ns()
    for first in range(0, count, batch):
        n = min(batch, count - first)
        records["seq"][:n] = np.arange(first, first + n)
        records["value"][:n] = records["seq"][:n] * 3
        producer.write(records[:n], timeout=60)
    results.put(("producer", 0, start, count))


def consumer_main(name, slot, deps, total, producers, go, results):
    ring = _attach(name)
    consumer = ring.consumer(slot, deps)
    report = np.zeros(4, np.int64)
    last = np.full(producers, -1, np.int64)
    go.wait()
    consume(ring.arrays, slot, consumer.deps, total, last, report)
    results.put(("consumer", slot, report.tolist()))


def engine_main(inbound_name, outbound_name, total, go, results):
    inbound, outbound = _attach(inbound_name), _attach(outbound_name)
    consumer = inbound.consumer(0)
    outbound.producer()
    go.wait()
    pass_through(inbound.arrays, outbound.arrays, 0, consumer.deps, total)
    results.put(("engine", 0, []))


def paced_producer_main(name, count, interval_ns, go, results):
    ring = _attach(name)
    ring.producer()
    go.wait()
    done = produce_paced(ring.arrays, count, interval_ns, time.monotonic_ns() + 10_000_000)
    results.put(("producer", 0, 0, done))


def latency_consumer_main(name, total, go, results):
    ring = _attach(name)
    consumer = ring.consumer(0)
    latencies = np.full(total, -1, np.int64)
    go.wait()
    consume_latency(ring.arrays, 0, consumer.deps, total, latencies)
    results.put(("latency", 0, latencies))


def queue_producer_main(queue, count, many, go, results):
    records = np.zeros(count, BENCH_DTYPE)
    records["seq"] = np.arange(count)
    records["value"] = records["seq"] * 3
    payloads = [records[i:i + 1].tobytes() for i in range(count)]
    go.wait()
    start = time.monotonic_ns()
    for payload in payloads:
        queue.put(payload, timeout=60) if many else queue.put(payload)
    results.put(("producer", 0, start, count))


def queue_consumer_main(queue, count, many, go, results):
    go.wait()
    received = []
    while len(received) < count:
        if many:
            received.extend(queue.get_many(timeout=60, max_messages_to_get=4096))
        else:
            received.append(queue.get(timeout=60))
    end = time.monotonic_ns()
    records = np.frombuffer(b"".join(received), BENCH_DTYPE)
    in_order = bool(np.array_equal(records["seq"], np.arange(count)))
    results.put(("consumer", 0, [len(records), int(records["value"].sum()),
                                 0 if in_order else 1, end]))


# --- orchestration ------------------------------------------------------------------------

def _run(ctx, targets, timeout=120):
    go = ctx.Event()
    results = ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args, go, results)) for target, args in targets]
    for process in processes:
        process.start()
    time.sleep(1.0)  # let every peer import, attach and load its compiled code
    go.set()
    reports = [results.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join(10)
        if process.exitcode != 0:
            raise RuntimeError(f"peer exited with {process.exitcode}")
    return reports


def _verify(reports, producers, per_producer, consumers):
    total = producers * per_producer
    expected_sum = sum(3 * i + p for p in range(producers) for i in range(per_producer)) \
        if producers * per_producer < 50_000_000 else None
    starts = [r[2] for r in reports if r[0] == "producer"]
    done = [r[3] for r in reports if r[0] == "producer"]
    assert done == [per_producer] * producers, f"producers published {done}"
    ends = []
    for _, slot, report in (r for r in reports if r[0] == "consumer"):
        assert report[COUNT] == total, f"consumer {slot} saw {report[COUNT]} of {total}"
        assert report[ORDER_ERRORS] == 0, f"consumer {slot}: per-producer order broken"
        if expected_sum is not None:
            assert report[VALUE_SUM] == expected_sum, f"consumer {slot}: value sum wrong"
        ends.append(report[T_END])
    assert len(ends) == consumers
    return total / ((max(ends) - min(starts)) / 1e9)


def _ring(capacity, **options):
    return Ring.create(BENCH_DTYPE, capacity, purpose="bench", **options)


def bench_1p1c(ctx, records, batch):
    with _ring(1 << 16) as ring:
        reports = _run(ctx, [(consumer_main, (ring.name, 0, [], records, 1)),
                             (producer_main, (ring.name, 0, records, batch))])
    return {"records_per_s": _verify(reports, 1, records, 1)}


def bench_2p1c(ctx, records, batch):
    per = records // 2
    with _ring(1 << 16, producers=2, multi_producer=True) as ring:
        reports = _run(ctx, [(consumer_main, (ring.name, 0, [], 2 * per, 2))]
                       + [(producer_main, (ring.name, p, per, batch)) for p in range(2)])
    return {"records": 2 * per, "records_per_s": _verify(reports, 2, per, 1)}


def bench_py1c(ctx, records, batch):
    with _ring(1 << 16) as ring:
        reports = _run(ctx, [(consumer_main, (ring.name, 0, [], records, 1)),
                             (python_producer_main, (ring.name, records, 4096))])
    return {"records_per_s": _verify(reports, 1, records, 1), "python_batch": 4096}


def bench_engine(ctx, records, batch):
    with _ring(1 << 16) as inbound, _ring(1 << 16, consumers=2) as outbound:
        reports = _run(ctx, [(consumer_main, (outbound.name, slot, [], records, 1))
                             for slot in range(2)]
                       + [(engine_main, (inbound.name, outbound.name, records)),
                          (producer_main, (inbound.name, 0, records, batch))])
    return {"records_per_s": _verify([r for r in reports if r[0] != "engine"], 1, records, 2)}


def bench_latency(ctx, records, rate):
    from hdrh.histogram import HdrHistogram

    with _ring(1 << 12, wait_strategy=wait.BUSY_SPIN) as ring:
        reports = _run(ctx, [(latency_consumer_main, (ring.name, records)),
                             (paced_producer_main, (ring.name, records, 1_000_000_000 // rate))])
    latencies = next(r[2] for r in reports if r[0] == "latency")
    assert (latencies >= 0).all(), "a paced record was never seen"
    warm = latencies[len(latencies) // 10:]  # the first 10% warm caches and page tables
    histogram = HdrHistogram(1, 10_000_000_000, 3)
    for value in warm.tolist():
        histogram.record_value(max(1, value))
    return {"latency_rate_per_s": rate, "latency_records": len(warm),
            "latency_wait_strategy": "busy-spin", "latency_open_loop": True,
            **{f"latency_p{name}_ns": histogram.get_value_at_percentile(p)
               for name, p in (("50", 50), ("90", 90), ("99", 99), ("999", 99.9))},
            "latency_max_ns": histogram.get_max_value()}


def bench_queue(ctx, records, kind):
    if kind == "faster-fifo":
        import faster_fifo

        queue, many = faster_fifo.Queue(max_size_bytes=64 * 1024 * 1024), True
    else:
        queue, many = ctx.Queue(), False
    reports = _run(ctx, [(queue_consumer_main, (queue, records, many)),
                         (queue_producer_main, (queue, records, many))])
    return {"records_per_s": _verify(reports, 1, records, 1)}


def machine():
    return {"machine": platform.machine(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2), **versions("numpy", "numba"),
            "kernel": platform.release()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print only the JSON lines")
    parser.add_argument("--records", type=int, default=20_000_000)
    parser.add_argument("--batch", type=int, default=256, help="compiled producers' claim size")
    parser.add_argument("--latency-records", type=int, default=1_000_000)
    parser.add_argument("--latency-rate", type=int, default=1_000_000, help="records/s")
    parser.add_argument("--baseline-records", type=int, default=200_000)
    parser.add_argument("--topologies", nargs="*",
                        default=["1p1c", "2p1c", "py1c", "1p-engine-2c"])
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    _warm_up_local()
    emit = print if args.json else (lambda line: print(line, flush=True))
    if not args.json:
        print("# ring benchmark: one JSON line per result (records/s measured by the consumers)")
    emit(json.dumps({"kind": "machine", **machine()}))
    benches = {"1p1c": bench_1p1c, "2p1c": bench_2p1c, "py1c": bench_py1c,
               "1p-engine-2c": bench_engine}
    results = {}
    for topology in args.topologies:
        line = {"kind": "ring", "topology": topology, "records": args.records,
                "record_bytes": BENCH_DTYPE.itemsize, "wait_strategy": "blocking (default)",
                "batch": args.batch}
        started = time.monotonic()
        line.update(benches[topology](ctx, args.records, args.batch))
        line["elapsed_s"] = round(time.monotonic() - started, 2)
        if topology == "1p1c" and args.latency_records:
            line.update(bench_latency(ctx, args.latency_records, args.latency_rate))
        line["records_per_s"] = round(line["records_per_s"])
        results[topology] = line["records_per_s"]
        emit(json.dumps(line))
    for kind in ("multiprocessing.Queue", "faster-fifo"):
        rate = round(bench_queue(ctx, args.baseline_records, kind)["records_per_s"])
        line = {"kind": "baseline", "topology": f"1p1c-{kind}", "records": args.baseline_records,
                "record_bytes": BENCH_DTYPE.itemsize, "records_per_s": rate}
        for topology, ring_rate in results.items():
            line[f"ratio_ring_{topology}"] = round(ring_rate / rate, 1)
        emit(json.dumps(line))


if __name__ == "__main__":
    main()
