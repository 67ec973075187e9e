"""The producer side of a ring, for either sequencer: :func:`claim` then :func:`publish`.

Compiled code calls these two and never needs to know whether the ring it was given is a
single-producer or a multi-producer ring (MULTI_PRODUCER is fixed at creation). The slots of
a claim ``low..high`` are ``ring.records[seq & mask]``; between claim and publish only the
claiming producer touches them.
"""

from __future__ import annotations

from ringex.jit import njit
from ringex.ring.layout import MULTI_PRODUCER
from ringex.ring.multi_producer import mp_claim, mp_publish
from ringex.ring.single_producer import sp_claim, sp_publish

__all__ = ["claim", "publish"]


@njit
def claim(ring, n, timeout_ns):
    """Claim ``n`` slots (1 <= n <= capacity); the highest claimed sequence, or a sentinel.

    Sentinels: ``wait.ALERTED`` if the ring is halted, ``wait.TIMED_OUT`` after
    ``timeout_ns`` (negative: wait as long as it takes for the slowest consumer).
    """
    if ring.header[MULTI_PRODUCER]:
        return mp_claim(ring, n, timeout_ns)
    return sp_claim(ring, n, timeout_ns)


@njit
def publish(ring, low, high):
    """Publish the claimed sequences ``low..high``."""
    if ring.header[MULTI_PRODUCER]:
        mp_publish(ring, low, high)
    else:
        sp_publish(ring, high)
