"""Wait strategies: each delivers, and the default does not burn a core while idle."""

import time

import numpy as np
import psutil
import pytest
from ring_workers import STRESS_DTYPE, Peer, python_consumer_main

import ringex.ring
from ringex.ring import wait

pytestmark = pytest.mark.timeout(60)


def test_public_surface():
    assert sorted(ringex.ring.__all__) == sorted([
        "Ring", "Producer", "Consumer", "Batch", "Peer", "RingLayout", "RingArrays",
        "BatchEventProcessor", "process_batches", "claim", "publish", "wait_for", "release",
        "available_sequence", "consumer_sequence", "BUSY_SPIN", "YIELDING", "SLEEPING",
        "BLOCKING", "DEFAULT", "ALERTED", "TIMED_OUT", "LaggingReader", "LAPPED"])
    assert wait.DEFAULT == wait.BLOCKING


@pytest.mark.parametrize("strategy", sorted(wait.NAMES))
def test_every_strategy_delivers_to_a_waiting_consumer(strategy, make_ring):
    ring = make_ring(capacity=8, wait_strategy=wait.NAMES[strategy])
    peer = Peer("thread", python_consumer_main, ring.name, 0, [], 10.0)
    time.sleep(0.05)  # the consumer reaches its idle phase (futex for blocking)
    records = np.zeros(20, STRESS_DTYPE)
    records["counter"] = np.arange(20)
    ring.producer().write(records, max_batch=3)
    ring.drain()
    _, _, status, counters = peer.result(timeout=10)
    peer.join()
    assert status == wait.ALERTED and counters == list(range(20))


def test_an_idle_consumer_with_the_default_strategy_sleeps_in_the_kernel(make_ring, spawn):
    ring = make_ring(capacity=8)
    peer = Peer("process", python_consumer_main, ring.name, 0, [], 30.0, ctx=spawn)
    process = psutil.Process(peer.pid)
    deadline = time.monotonic() + 20
    while ring.peers() == [] and time.monotonic() < deadline:  # attached and waiting
        time.sleep(0.01)
    time.sleep(0.2)
    before = process.cpu_times()
    time.sleep(1.0)
    after = process.cpu_times()
    ring.producer().write(np.zeros(1, STRESS_DTYPE))
    ring.drain()
    _, _, status, counters = peer.result(timeout=10)
    peer.join()
    busy = (after.user + after.system) - (before.user + before.system)
    assert busy < 0.05, f"idle consumer used {busy:.3f} s of CPU in 1 s"
    assert counters == [0]
