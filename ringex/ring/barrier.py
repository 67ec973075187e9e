"""The consumer side: wait for a sequence, read the slots, then release them.

A consumer occupies one consumer slot of the ring and is the only writer of that slot's
sequence (the last sequence it has finished with). Its barrier is the ring's cursor plus the
sequences of the consumers it depends on, given as an int64 array of their slot numbers:

    journal  (slot 0, deps [])    waits on the producers
    engine   (slot 1, deps [0])   never passes the journal
    kafka    (slot 2, deps [1])   several publishers after the engine
    redis    (slot 3, deps [1])

:func:`wait_for` returns the highest sequence that is published, passed by every dependency
and at least ``seq``: a whole batch. A consumer never reads past it, so it can never overtake
the producers or an upstream consumer. :func:`release` stores the consumer's sequence with a
release store, which is what lets producers reuse the slots and downstream consumers proceed.
"""

from __future__ import annotations

from ringex.jit import njit
from ringex.ring.atomics import fence, fetch_add, load_acquire, store_release
from ringex.ring.kernel import futex_wait, monotonic_ns
from ringex.ring.layout import (ALERT, CURSOR, FUTEX_WORD, MULTI_PRODUCER, WAIT_STRATEGY,
                                WAITERS, consumer_cell)
from ringex.ring.multi_producer import highest_published
from ringex.ring.wait import (ALERTED, BLOCK_SLICE_NS, DRAIN, HALT, RUN, TIMED_OUT, backoff,
                              should_block, signal)

__all__ = ["available_sequence", "wait_for", "release", "consumer_sequence"]


@njit
def consumer_sequence(ring, slot):
    """The last sequence consumer ``slot`` has released."""
    return load_acquire(ring.header, consumer_cell(slot))


@njit
def available_sequence(ring, deps, seq):
    """Highest sequence readable by a consumer with dependencies ``deps`` (may be < seq)."""
    header = ring.header
    high = load_acquire(header, CURSOR)
    for i in range(deps.shape[0]):
        dep = load_acquire(header, consumer_cell(deps[i]))
        if dep < high:
            high = dep
    if high >= seq and header[MULTI_PRODUCER]:
        high = highest_published(ring, seq, high)
    return high


@njit
def _stopped(header, seq):
    """Whether a waiter for ``seq`` must give up: HALT, or DRAIN with nothing left claimed."""
    alert = load_acquire(header, ALERT)
    return alert == HALT or (alert == DRAIN and seq > load_acquire(header, CURSOR))


@njit
def wait_for(ring, deps, seq, timeout_ns):
    """Wait until ``seq`` is readable; return the highest readable sequence (>= seq).

    Returns ``ALERTED`` when the ring is halted (or drained past ``seq``) and ``TIMED_OUT``
    after ``timeout_ns`` (negative: no limit). Uses the ring's wait strategy.
    """
    header = ring.header
    strategy = header[WAIT_STRATEGY]
    deadline = monotonic_ns() + timeout_ns if timeout_ns >= 0 else -1
    attempt = 0
    while True:
        high = available_sequence(ring, deps, seq)
        if high >= seq:
            return high
        if _stopped(header, seq):
            return ALERTED
        if deadline >= 0 and (attempt & 63 == 0 or attempt > 256) and monotonic_ns() > deadline:
            return TIMED_OUT
        if should_block(strategy, attempt):
            fetch_add(header, WAITERS, 1)
            fence()
            word = load_acquire(header, FUTEX_WORD)
            if available_sequence(ring, deps, seq) < seq and load_acquire(header, ALERT) == RUN:
                nap = BLOCK_SLICE_NS
                if deadline >= 0:  # a caller's short timeout must not become a whole slice
                    nap = max(1, min(nap, deadline - monotonic_ns()))
                futex_wait(header, FUTEX_WORD, word, nap)
            fetch_add(header, WAITERS, -1)
        else:
            backoff(strategy, attempt)
        attempt += 1


@njit
def release(ring, slot, seq):
    """Consumer ``slot`` is done with every sequence up to ``seq``."""
    store_release(ring.header, consumer_cell(slot), seq)
    signal(ring.header)
