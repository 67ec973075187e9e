"""The distributed market-data loop, once caught up, gathers events between store calls.

Each ``apply`` of the Redis store is one script call whatever it holds, so a loop that called
it for every trickle of events made redis-server the busiest process of a 50K orders/s run.
The Kafka side is replaced by a stand-in with the projection's interface (its reads against
the broker are tested in ``tests/kafka/test_projection.py``). Forbidden outcomes: more store
calls than one per ``redis.apply_interval_ms`` (plus the first) while a message comes every
millisecond; any event lost, repeated or reordered on the way; a loop that spins instead of
waiting in its poll.
"""

import logging
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from ringex.records import EVENT_DTYPE
from ringex.runtime.marketdata_process import _KafkaEvents

WRITES, PER_WRITE = 400, 10  # a message every ~1 ms for ~0.4 s


class CountingStore:
    """Records what it is handed; the stores' own rules are tested elsewhere."""

    def __init__(self):
        self.calls = 0
        self.seqs: list[int] = []

    def apply(self, events):
        self.calls += 1
        self.seqs.extend(events["seq"].tolist())


class StandInProjection:
    """``poll`` as the projection's: waits up to ``timeout`` for the first message, then takes
    what is there and hands it to the store in one call; ``read`` counts messages."""

    def __init__(self, store):
        self.store = store
        self.pending: list[np.ndarray] = []
        self.arrived = threading.Condition()
        self.read = 0
        self.applied = 0
        self.polls = 0

    def write(self, events):
        with self.arrived:
            self.pending.append(events)
            self.arrived.notify()

    def poll(self, timeout, max_messages=10_000):
        self.polls += 1
        with self.arrived:
            if not self.pending:
                self.arrived.wait(timeout)
            taken, self.pending = self.pending[:max_messages], self.pending[max_messages:]
        self.read += len(taken)
        if not taken:
            return 0
        events = np.concatenate(taken)
        self.store.apply(events)
        self.applied = int(events["seq"][-1])
        return int(events.shape[0])


def _follow(interval_ms: int) -> tuple[CountingStore, StandInProjection, float]:
    settings = SimpleNamespace(kafka=SimpleNamespace(events_topic="order-events"),
                               redis=SimpleNamespace(catch_up_nice=0,
                                                     apply_interval_ms=interval_ms))
    store = CountingStore()
    source = _KafkaEvents(settings, None, store, logging.getLogger("test"))
    source.projection = StandInProjection(store)

    def write():
        for n in range(WRITES):
            events = np.zeros(PER_WRITE, dtype=EVENT_DTYPE)
            events["seq"] = np.arange(1 + n * PER_WRITE, 1 + (n + 1) * PER_WRITE)
            source.projection.write(events)
            time.sleep(0.001)

    writer = threading.Thread(target=write)
    started = time.monotonic()
    writer.start()
    deadline = started + 30
    while len(store.seqs) < WRITES * PER_WRITE and time.monotonic() < deadline:
        source.step(store, timeout=0.05)
    elapsed = time.monotonic() - started
    writer.join(10)
    return store, source.projection, elapsed


@pytest.mark.parametrize("interval_ms", [20, 0])
def test_a_caught_up_loop_calls_the_store_once_per_interval(interval_ms):
    store, projection, elapsed = _follow(interval_ms)
    assert store.seqs == list(range(1, WRITES * PER_WRITE + 1))  # all, once, in order
    bound = elapsed / 0.020 + 3
    if interval_ms:
        assert store.calls <= bound, (store.calls, elapsed)
    else:  # the control: without the interval it calls far more often
        assert store.calls > 2 * bound, (store.calls, elapsed)
    # it waits (in the poll, or for the interval), it does not spin
    assert projection.polls <= store.calls + elapsed / 0.001, (projection.polls, elapsed)


def test_an_idle_loop_waits_in_its_poll():
    settings = SimpleNamespace(kafka=SimpleNamespace(events_topic="order-events"),
                               redis=SimpleNamespace(catch_up_nice=0, apply_interval_ms=20))
    store = CountingStore()
    source = _KafkaEvents(settings, None, store, logging.getLogger("test"))
    source.projection = StandInProjection(store)
    started = time.monotonic()
    for _ in range(10):
        assert source.step(store, timeout=0.05) == 0
    assert time.monotonic() - started >= 0.45 and source.projection.polls == 10
