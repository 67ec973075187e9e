"""The group wait behind a gateway 2xx in embedded mode (``ringex.runtime.submit``): many
threads wait for the journal's sequence through one watcher over a real ring.

Forbidden outcomes: a waiter that returns before the journal passed its sequence (an
acknowledgement of something not durable), a waiter that never returns once it has, and a
wait that outlives its timeout.
"""

import os
import threading
import time

import numpy as np
import pytest

from ringex.records import COMMAND_DTYPE
from ringex.ring.ring import Ring
from ringex.ring import layout
from ringex.runtime.submit import _DurableWatch, _poll_past

pytestmark = pytest.mark.timeout(60)


def watch_of(ring) -> _DurableWatch:
    header, cell = ring.arrays.header, layout.consumer_cell(0)
    return _DurableWatch(lambda: ring.consumer_sequence(0),
                         lambda known: int(_poll_past(header, cell, known, 50_000, 20_000_000)))


@pytest.fixture
def ring():
    ring = Ring.create(COMMAND_DTYPE, 1024, consumers=1, producers=1,
                       prefix=f"rgxdw{os.getpid()}")
    try:
        yield ring
    finally:
        ring.close()
        ring.unlink()


def test_waiters_return_only_after_the_journal_passed_them(ring):
    producer = ring.producer(timeout=1.0)
    journal = ring.consumer(0)
    watch = watch_of(ring)
    targets = list(range(0, 64, 3))
    seen_at_return: dict[int, int] = {}
    failures: list[BaseException] = []

    def wait_for(target: int) -> None:
        try:
            watch.wait(target, timeout=20.0)
            seen_at_return[target] = ring.consumer_sequence(0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=wait_for, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    producer.write(np.zeros(64, COMMAND_DTYPE))
    # the "journal" releases in small steps, slowly, so waiters see many partial advances
    released = -1
    while released < 63:
        batch = journal.poll(max_batch=5)
        if batch is None:
            continue
        time.sleep(0.002)
        journal.release(batch)
        released = batch.high
    for thread in threads:
        thread.join(10)
    assert not failures
    assert not any(thread.is_alive() for thread in threads)
    assert all(seen_at_return[t] >= t for t in targets), seen_at_return
    watch.close()
    producer.close()
    journal.close()


def test_a_wait_gives_up_at_its_timeout(ring):
    watch = watch_of(ring)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="did not reach sequence 5"):
        watch.wait(5, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2.0
    assert not watch._parked  # a waiter that gave up is not waited for any more
    watch.wait(-1, timeout=0.1)  # already durable: returns at once
    watch.close()
    with pytest.raises(TimeoutError):  # a closed watch wakes and refuses waiters
        watch.wait(5, timeout=5.0)
