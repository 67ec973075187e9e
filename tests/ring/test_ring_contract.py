"""The ring contract, with the peer in another thread and in another process.

Forbidden outcomes: a lost, duplicated, reordered or torn record across wrap-around; a
producer overwriting a slot no consumer has released; a batch view that crosses the end of
the ring; a waiter that does not stop on halt; an attach that silently accepts a ring of
another shape.
"""

import numpy as np
import pytest
from tests.ring.ring_workers import (OUT_OF_ORDER, OVERTAKEN, SEEN, STRESS_DTYPE, TORN, Peer,
                                     attach_main, consume, mix, produce, python_consumer_main,
                                     python_producer_main)

from ringex.errors import LayoutMismatchError, RingexError
from ringex.records import COMMAND_DTYPE
from ringex.ring import Ring, wait
from ringex.ring.layout import VERSION

pytestmark = [pytest.mark.timeout(60), pytest.mark.parametrize("mode", ["thread", "process"])]


def compiled_producer_main(name, producer, count, max_batch, results):
    ring = Ring.attach(name, STRESS_DTYPE)
    handle = ring.producer()
    done = produce(ring.arrays, producer, count, max_batch, 12345 + producer, 20_000_000_000)
    handle.close()
    results.put(done)


def test_wrap_around_keeps_every_record_whole_and_in_order(mode, make_ring, spawn):
    ring = make_ring(capacity=16)
    consumer = ring.consumer(0)
    total = 5000
    peer = Peer(mode, compiled_producer_main, ring.name, 0, total, 16, ctx=spawn)
    stats = np.zeros(6, np.int64)
    last = np.full(1, -1, np.int64)
    consume(ring.arrays, 0, consumer.deps, total, 20_000_000_000, stats, last)
    assert peer.result() == total
    peer.join()
    assert stats[SEEN] == total and last[0] == total - 1
    assert stats[TORN] == stats[OUT_OF_ORDER] == stats[OVERTAKEN] == 0
    assert ring.cursor == total - 1 and consumer.sequence == total - 1


def test_producer_never_overwrites_an_unreleased_slot(mode, make_ring, spawn):
    ring = make_ring(capacity=8)
    consumer = ring.consumer(0)
    peer = Peer(mode, python_producer_main, ring.name, list(range(12)), 0.3, ctx=spawn)
    kind, status, detail = peer.result()
    peer.join()
    assert status == "TimeoutError", detail
    assert ring.cursor == 7  # two batches of 4 fit, the third would overwrite slot 0
    batch = consumer.wait(timeout=1)
    assert (batch.low, batch.high) == (0, 7)
    assert batch.views[0]["counter"].tolist() == list(range(8))
    consumer.release(batch._replace(high=2))  # free exactly 3 slots
    producer = ring.producer(timeout=0.2)
    producer.publish(producer.claim(3))
    with pytest.raises(TimeoutError):
        producer.claim(1)


def test_batches_split_at_the_end_of_the_ring(mode, make_ring, spawn):
    ring = make_ring(capacity=8)
    consumer = ring.consumer(0)

    def counters(batch):
        return [view["counter"].tolist() for view in batch.views]

    peer = Peer(mode, python_producer_main, ring.name, list(range(6)), 5, ctx=spawn)
    peer.result()
    peer.join()
    batch = consumer.wait(timeout=5, max_batch=4)
    assert (batch.low, batch.high, counters(batch)) == (0, 3, [[0, 1, 2, 3]])
    consumer.release(batch)
    batch = consumer.wait(timeout=5, max_batch=4)
    assert (batch.low, batch.high, counters(batch)) == (4, 5, [[4, 5]])
    consumer.release(batch)
    peer = Peer(mode, python_producer_main, ring.name, list(range(6, 12)), 5, ctx=spawn)
    peer.result()
    peer.join()
    batch = consumer.wait(timeout=5, max_batch=8)
    assert (batch.low, batch.high, counters(batch)) == (6, 11, [[6, 7], [8, 9, 10, 11]])
    consumer.release(batch)


def test_drain_lets_consumers_finish_then_stops_them(mode, make_ring, spawn):
    ring = make_ring(capacity=16)
    ring.consumer(0).close()  # slot 0 is taken by the peer below
    peer = Peer(mode, python_consumer_main, ring.name, 0, [], 20.0, ctx=spawn)
    producer = ring.producer()
    records = np.zeros(10, STRESS_DTYPE)
    records["counter"] = np.arange(10)
    producer.write(records, max_batch=3)
    ring.drain()
    kind, slot, status, counters = peer.result(timeout=20)
    peer.join()
    assert status == wait.ALERTED and counters == list(range(10))


def test_halt_wakes_a_sleeping_consumer_and_a_producer_facing_a_full_ring(mode, make_ring, spawn):
    ring = make_ring(capacity=8, consumers=2)
    consumer_peer = Peer(mode, python_consumer_main, ring.name, 1, [], 30.0, ctx=spawn)
    producer_peer = Peer(mode, python_producer_main, ring.name, list(range(12)), None, ctx=spawn)
    # consumer 0 never reads, so the producer stops after 8 records; consumer 1 reads them
    # and then sleeps (on the futex, with the default strategy)
    import time
    deadline = time.monotonic() + 20
    while ring.consumer_sequence(1) < 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ring.consumer_sequence(1) == 7 and ring.cursor == 7
    time.sleep(0.3)
    ring.halt()
    _, slot, status, counters = consumer_peer.result(timeout=5)
    assert status == wait.ALERTED and counters == list(range(8))
    _, error, message = producer_peer.result(timeout=5)
    assert error == "RingexError" and "halted" in message
    consumer_peer.join()
    producer_peer.join()


def test_attach_refuses_another_dtype_capacity_or_version(mode, make_ring, spawn):
    ring = make_ring(capacity=16)

    def attach(dtype, capacity):
        peer = Peer(mode, attach_main, ring.name, dtype, capacity, ctx=spawn)
        result = peer.result()
        peer.join()
        return result[1:]

    assert attach(STRESS_DTYPE, 16) == ("ok", "")
    error, message = attach(COMMAND_DTYPE, None)
    assert error == "LayoutMismatchError" and "order_id" in message and "producer" in message
    error, message = attach(STRESS_DTYPE, 32)
    assert error == "LayoutMismatchError" and "capacity 16" in message
    same_size = np.dtype([("a", "<i8", (7,)), ("checksum", "<i8")])
    error, message = attach(same_size, 16)
    assert error == "LayoutMismatchError"
    ring.arrays.header[VERSION] = 99
    error, message = attach(STRESS_DTYPE, 16)
    assert error == "LayoutMismatchError" and "version 99" in message


def test_attach_refuses_a_segment_that_is_not_a_ring(mode):
    from ringex.ring.segment import Segment, segment_name

    segment = Segment.create(segment_name("test"), 4096)
    try:
        with pytest.raises(LayoutMismatchError, match="magic"):
            Ring.attach(segment.name, STRESS_DTYPE)
    finally:
        segment.unlink()
        segment.close()
