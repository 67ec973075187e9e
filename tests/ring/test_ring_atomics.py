"""Atomics: compiled code sees other processes' stores, and RMWs lose no update."""

import time

import numpy as np
import pytest
from tests.ring.ring_workers import Peer, hammer_main, spin_main

from ringex.jit import njit
from ringex.ring.atomics import cas, fetch_add, load_acquire, store_release

pytestmark = pytest.mark.timeout(60)


@njit
def _exercise(cells):
    store_release(cells, 0, 5)
    seen = load_acquire(cells, 0)
    failed = cas(cells, 0, 4, 9)  # expected value wrong: no swap
    swapped = cas(cells, 0, 5, 9)
    before = fetch_add(cells, 1, -3)
    return seen, failed, swapped, before


def test_atomics_return_the_previous_value_and_swap_only_on_match():
    cells = np.zeros(2, np.int64)
    cells[1] = 10
    assert _exercise(cells) == (5, 5, 5, 10)
    assert cells.tolist() == [9, 7]


def test_a_compiled_spin_loop_sees_another_process_store(make_ring, spawn):
    ring = make_ring(capacity=16)
    cells = ring.arrays.records.view(np.int64)
    peer = Peer("process", spin_main, ring.name, 20_000_000_000, ctx=spawn)
    deadline = time.monotonic() + 30
    while cells[0] == 0 and time.monotonic() < deadline:  # the spinner is ready and spinning
        time.sleep(0.001)
    assert cells[0] == 1
    time.sleep(0.2)
    cells[8] = 42
    _, value, iterations = peer.result(timeout=20)
    peer.join()
    assert value == 42 and 0 < iterations < 20_000_000_000


def test_concurrent_fetch_add_and_cas_lose_no_update(make_ring, spawn):
    ring = make_ring(capacity=16)
    cells = ring.arrays.records.view(np.int64)
    times = 300_000
    peers = [Peer("process", hammer_main, ring.name, times, ctx=spawn) for _ in range(2)]
    peers.append(Peer("thread", hammer_main, ring.name, times))
    for peer in peers:
        peer.result()
        peer.join()
    assert cells[0] == cells[8] == 3 * times
