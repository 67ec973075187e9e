"""The single-producer sequencer: one process claims and publishes, no atomic RMW needed.

CURSOR is the last *published* sequence; the one producer is its only writer, and also the
only writer of GATING_CACHE and CLAIMED (its claim, stored before it writes the slots, for
non-gating readers). A claim is ``cursor + 1 .. cursor + n``, so a producer has at
most one claim outstanding: claim, write the slots, publish, then claim again.
Consumers read CURSOR with an acquire load; the release store in :func:`sp_publish` makes the
records written before it visible first.
"""

from __future__ import annotations

from ringex.jit import njit
from ringex.ring.atomics import load_acquire, store_release
from ringex.ring.gating import wait_for_capacity
from ringex.ring.layout import CLAIMED, CURSOR, GATING_CACHE
from ringex.ring.wait import signal

__all__ = ["sp_claim", "sp_publish"]


@njit
def sp_claim(ring, n, timeout_ns):
    """Claim ``n`` (1..capacity) slots; return the highest claimed sequence or a sentinel."""
    header = ring.header
    cursor = header[CURSOR]
    high = cursor + n
    wrap_point = high - ring.records.shape[0]
    if wrap_point > header[GATING_CACHE]:
        gating = wait_for_capacity(header, wrap_point, cursor, timeout_ns)
        if gating < -1:
            return gating
        header[GATING_CACHE] = gating
    store_release(header, CLAIMED, high)  # before any slot is written (LaggingReader)
    return high


@njit
def sp_publish(ring, high):
    """Make every slot up to ``high`` visible to consumers."""
    store_release(ring.header, CURSOR, high)
    signal(ring.header)
