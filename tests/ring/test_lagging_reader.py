"""A non-gating reader: the producer never waits for it, and it never returns a torn copy.

Forbidden outcomes: the producer blocked by the lagging reader; a copy returned as exact
whose records were overwritten while (or before) it was read; LAPPED while the slots it needs
are still intact.
"""

import threading

import numpy as np
import pytest

from ringex.ring import LAPPED, LaggingReader, Ring

DTYPE = np.dtype([("seq", "<i8"), ("check", "<i8")])


@pytest.fixture
def ring():
    made = Ring.create(DTYPE, 64, consumers=2, purpose="test-lagging")
    yield made
    made.unlink()
    made.close()


def _records(low: int, count: int) -> np.ndarray:
    out = np.zeros(count, dtype=DTYPE)
    out["seq"] = np.arange(low, low + count)
    out["check"] = out["seq"] * 7 + 3
    return out


def test_the_producer_runs_past_a_lagging_reader_which_then_reports_lapped(ring):
    reader = LaggingReader(ring, 1)
    gating = ring.consumer(0)
    producer = ring.producer()
    producer.write(_records(0, 40))
    low, high, records = reader.read(after=-1, timeout=1, max_batch=16)
    assert (low, high) == (0, 15) and records["seq"].tolist() == list(range(16))
    # The gating consumer keeps up; the reader does not: 200 more records pass it.
    for start in range(40, 240, 20):
        batch = gating.wait(timeout=1)
        gating.release(batch)
        producer.write(_records(start, 20), timeout=1)  # would time out if the reader gated
    assert reader.read(after=15, timeout=1, max_batch=16) is LAPPED
    assert reader.oldest_readable() >= 240 - 64
    # From the oldest readable sequence on, reads are exact again.
    after = reader.oldest_readable() - 1
    low, high, records = reader.read(after=after, timeout=1, max_batch=8)
    assert low == after + 1 and (records["check"] == records["seq"] * 7 + 3).all()
    reader.close()
    gating.close()


def test_copies_under_a_racing_producer_are_exact_or_lapped(ring):
    """A producer wrapping the ring as fast as it can while the reader lags on purpose:
    every copy the reader accepts must be internally consistent and in sequence."""
    reader = LaggingReader(ring, 1)
    gating = ring.consumer(0)
    stop = threading.Event()

    def produce():
        producer = ring.producer()
        seq = 0
        while not stop.is_set() and seq < 200_000:
            producer.write(_records(seq, 16), timeout=1)
            seq += 16

    def drain():
        while not stop.is_set():
            batch = gating.wait(timeout=0.1)
            if batch is not None:
                gating.release(batch)

    threads = [threading.Thread(target=produce), threading.Thread(target=drain)]
    for thread in threads:
        thread.start()
    accepted = lapped = 0
    after = -1
    try:
        for _ in range(3000):
            got = reader.read(after=after, timeout=0.5, max_batch=48)
            if got is None:
                break
            if got is LAPPED:
                lapped += 1
                after = reader.oldest_readable() - 1 + 8  # jump ahead a little
                continue
            low, high, records = got
            assert records["seq"].tolist() == list(range(low, high + 1))
            assert (records["check"] == records["seq"] * 7 + 3).all()
            accepted += 1
            after = high
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert accepted > 10
    reader.close()
    gating.close()
