"""Shared-memory Disruptor rings: fixed-size numpy records between processes.

One module per concept: ``layout`` (every offset), ``segment`` (shared-memory lifetime),
``atomics`` and ``kernel`` (compiled atomics and sleeps), ``single_producer`` /
``multi_producer`` / ``sequencer`` (claim and publish), ``gating``, ``barrier`` (consume),
``wait`` (wait strategies and alerts), ``processor`` (batch loop), ``peers`` (who is
attached), ``ring`` (the Python API) and ``cli``. See ``docs/ring.md``::

    producers ──claim/publish──► [ ring ] ──► consumer 0 ──► consumer 1 ──┬──► consumer 2
                                     ▲        (journal)      (engine)     └──► consumer 3
                                     └─────────── gating: slowest consumer ◄───┘
"""

from ringex.ring.barrier import available_sequence, consumer_sequence, release, wait_for
from ringex.ring.layout import RingArrays, RingLayout
from ringex.ring.processor import BatchEventProcessor, process_batches
from ringex.ring.ring import LAPPED, Batch, Consumer, LaggingReader, Peer, Producer, Ring
from ringex.ring.sequencer import claim, publish
from ringex.ring.wait import (ALERTED, BLOCKING, BUSY_SPIN, DEFAULT, SLEEPING, TIMED_OUT,
                              YIELDING)

__all__ = [
    "Ring", "Producer", "Consumer", "Batch", "Peer", "RingLayout", "RingArrays",
    "LaggingReader", "LAPPED",
    "BatchEventProcessor", "process_batches",
    "claim", "publish", "wait_for", "release", "available_sequence", "consumer_sequence",
    "BUSY_SPIN", "YIELDING", "SLEEPING", "BLOCKING", "DEFAULT", "ALERTED", "TIMED_OUT",
]
