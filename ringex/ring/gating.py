"""Gating: a producer never overwrites a slot the slowest consumer has not passed.

Every consumer slot of a ring gates its producers. That is always safe, also for consumers
that depend on others (a downstream consumer is never ahead of its upstream), and it makes the
rule independent of how the dependency graph is wired. A consumer slot that will never run
again can be retired (its sequence set to :data:`RETIRED`) so it stops gating.

Called by the sequencers only; the producers are the only writers of ``GATING_CACHE``.
"""

from __future__ import annotations

from ringex.jit import njit
from ringex.ring.atomics import load_acquire
from ringex.ring.kernel import monotonic_ns
from ringex.ring.layout import ALERT, CONSUMERS, consumer_cell
from ringex.ring.wait import ALERTED, HALT, SLEEPING, TIMED_OUT, backoff

__all__ = ["RETIRED", "min_consumer_sequence", "wait_for_capacity"]

#: A retired consumer's sequence: larger than any real sequence, so it never gates.
RETIRED = 1 << 62


@njit
def min_consumer_sequence(header, upper):
    """The smallest consumer sequence, and at most ``upper``."""
    lowest = upper
    for slot in range(header[CONSUMERS]):
        seq = load_acquire(header, consumer_cell(slot))
        if seq < lowest:
            lowest = seq
    return lowest


@njit
def wait_for_capacity(header, wrap_point, cursor, timeout_ns):
    """Wait until every consumer has passed ``wrap_point``; return the gating sequence seen.

    Returns :data:`ALERTED` if the ring is halted, :data:`TIMED_OUT` after ``timeout_ns``
    (negative: wait forever).
    """
    # a full ring means a consumer is behind: spinning would only take its CPU away
    strategy = SLEEPING
    deadline = monotonic_ns() + timeout_ns if timeout_ns >= 0 else -1
    attempt = 0
    while True:
        gating = min_consumer_sequence(header, cursor)
        if wrap_point <= gating:
            return gating
        if load_acquire(header, ALERT) == HALT:
            return ALERTED
        if deadline >= 0 and (attempt & 63 == 0 or attempt > 256) and monotonic_ns() > deadline:
            return TIMED_OUT
        backoff(strategy, attempt)
        attempt += 1
