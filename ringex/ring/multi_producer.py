"""The multi-producer sequencer: producers claim with CAS, publish through an availability buffer.

CURSOR is the highest *claimed* sequence: a producer claims ``n`` slots by a CAS on CURSOR,
after checking that the slowest consumer has passed the wrap point, so a claim never needs to
be undone. Because producers finish their writes in any order, CURSOR alone says nothing
about what is readable: the producer that claimed sequence ``s`` publishes it by storing ``s``
(release) into ``available[s & mask]``, and a consumer reads only the contiguous run of
published sequences (:func:`highest_published`). A slot claimed by a producer that dies before
publishing therefore stops every consumer at that sequence (see ``docs/ring.md``).
"""

from __future__ import annotations

from ringex.jit import njit
from ringex.ring.atomics import cas, load_acquire, store_release
from ringex.ring.gating import min_consumer_sequence, wait_for_capacity
from ringex.ring.layout import CURSOR, GATING_CACHE
from ringex.ring.wait import signal

__all__ = ["mp_claim", "mp_publish", "highest_published"]


@njit
def mp_claim(ring, n, timeout_ns):
    """Claim ``n`` (1..capacity) slots; return the highest claimed sequence or a sentinel."""
    header = ring.header
    capacity = ring.records.shape[0]
    while True:
        current = load_acquire(header, CURSOR)
        high = current + n
        wrap_point = high - capacity
        cached = load_acquire(header, GATING_CACHE)
        if wrap_point > cached or cached > current:
            gating = min_consumer_sequence(header, current)
            if wrap_point > gating:
                gating = wait_for_capacity(header, wrap_point, current, timeout_ns)
                if gating < -1:
                    return gating
            store_release(header, GATING_CACHE, gating)
        elif cas(header, CURSOR, current, high) == current:
            return high


@njit
def mp_publish(ring, low, high):
    """Publish the claimed slots ``low..high``, each in its own availability cell."""
    available = ring.available
    mask = ring.records.shape[0] - 1
    for seq in range(low, high + 1):
        store_release(available, seq & mask, seq)
    signal(ring.header)


@njit
def highest_published(ring, low, high):
    """The last sequence of the published run starting at ``low``, at most ``high``."""
    available = ring.available
    mask = ring.records.shape[0] - 1
    for seq in range(low, high + 1):
        if load_acquire(available, seq & mask) != seq:
            return seq - 1
    return high
