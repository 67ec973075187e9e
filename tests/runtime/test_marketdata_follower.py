"""The non-gating market-data reader: once caught up it gathers events between store calls.

Each ``apply`` of the Redis store is one script call whatever it holds, so a reader that
called it for every trickle of events made redis-server the busiest process of a 50K
orders/s run. Forbidden outcomes: more store calls than one per ``redis.apply_interval_ms``
(plus the first) while the ring is written every millisecond; any event lost, repeated or
reordered on the way.
"""

import logging
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from ringex.records import EVENT_DTYPE
from ringex.ring import Ring
from ringex.runtime.marketdata_process import _Follower

WRITES, PER_WRITE = 400, 10  # a write every ~1 ms for ~0.4 s


class CountingStore:
    """Records what the follower hands over; the stores' own rules are tested elsewhere."""

    def __init__(self):
        self.calls = 0
        self.seqs: list[int] = []

    def apply(self, events):
        self.calls += 1
        self.seqs.extend(events["seq"].tolist())

    def last_seq(self):
        return self.seqs[-1] if self.seqs else 0


def _follow(interval_ms: int) -> tuple[CountingStore, float]:
    ring = Ring.create(EVENT_DTYPE, 8192, consumers=2, purpose="test-mdfollow")
    try:
        settings = SimpleNamespace(redis=SimpleNamespace(apply_interval_ms=interval_ms))
        store = CountingStore()
        follower = _Follower(settings, None, ring, SimpleNamespace(kafka=0, marketdata=1),
                             store, logging.getLogger("test"))
        gating = ring.consumer(0)  # the Kafka publisher's slot: it keeps up

        def write():
            producer = ring.producer()
            for n in range(WRITES):
                events = np.zeros(PER_WRITE, dtype=EVENT_DTYPE)
                events["seq"] = np.arange(1 + n * PER_WRITE, 1 + (n + 1) * PER_WRITE)
                producer.write(events, timeout=5)
                batch = gating.wait(timeout=5)
                gating.release(batch)
                time.sleep(0.001)

        writer = threading.Thread(target=write)
        started = time.monotonic()
        writer.start()
        deadline = started + 30
        while len(store.seqs) < WRITES * PER_WRITE and time.monotonic() < deadline:
            follower.step(timeout=0.05, max_batch=8192)
        elapsed = time.monotonic() - started
        writer.join(10)
        follower.close()
        gating.close()
        return store, elapsed
    finally:
        ring.unlink()
        ring.close()


@pytest.mark.parametrize("interval_ms", [20, 0])
def test_a_caught_up_follower_calls_the_store_once_per_interval(interval_ms):
    store, elapsed = _follow(interval_ms)
    assert store.seqs == list(range(1, WRITES * PER_WRITE + 1))  # all, once, in order
    bound = elapsed / 0.020 + 3
    if interval_ms:
        assert store.calls <= bound, (store.calls, elapsed)
    else:  # the control: without the interval it calls far more often
        assert store.calls > 2 * bound, (store.calls, elapsed)
