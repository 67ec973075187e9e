"""The batch event processor: a consumer loop that hands its handler whole batches.

Each turn waits for everything readable (up to ``max_batch`` records), then calls the handler
once per *contiguous* run of slots: usually once, twice when the batch wraps around the end of
the ring. The last call of a batch has ``end_of_batch`` true, which is where a handler flushes
(a journal fsyncs, a publisher sends). After the batch the processor releases it, so producers
and downstream consumers move on once per batch, not once per record.

The handler returns True to stop the processor after the current batch. The ring's ALERT cell
stops it too (:data:`~ringex.ring.wait.DRAIN` once everything claimed is consumed,
:data:`~ringex.ring.wait.HALT` at once).

:func:`process_batches` is the compiled loop: the handler is itself an ``@njit`` function
``handler(records, first_seq, end_of_batch, state) -> bool`` where ``records`` is a view of
contiguous slots. :class:`BatchEventProcessor` is the same loop for Python handlers, which
receive numpy views.
"""

from __future__ import annotations

from ringex.jit import njit
from ringex.ring.barrier import consumer_sequence, release, wait_for
from ringex.ring.wait import TIMED_OUT

__all__ = ["process_batches", "BatchEventProcessor"]


@njit
def process_batches(ring, slot, deps, max_batch, handler, state, idle_timeout_ns):
    """Run consumer ``slot`` until halted, stopped by its handler, or idle too long.

    Returns ``(last released sequence, why)`` where ``why`` is ``wait.ALERTED``,
    ``wait.TIMED_OUT`` (no record for ``idle_timeout_ns``), or 0 if the handler stopped it.
    """
    records = ring.records
    capacity = records.shape[0]
    mask = capacity - 1
    next_seq = consumer_sequence(ring, slot) + 1
    while True:
        high = wait_for(ring, deps, next_seq, idle_timeout_ns)
        if high < 0:
            return next_seq - 1, high
        if high - next_seq >= max_batch:
            high = next_seq + max_batch - 1
        stop = False
        seq = next_seq
        while seq <= high:
            index = seq & mask
            count = min(high - seq + 1, capacity - index)
            if handler(records[index:index + count], seq, seq + count - 1 == high, state):
                stop = True
            seq += count
        release(ring, slot, high)
        next_seq = high + 1
        if stop:
            return high, 0


class BatchEventProcessor:
    """The batch loop for a Python handler ``handler(records, first_seq, end_of_batch)``.

    ``consumer`` is a :class:`ringex.ring.ring.Consumer`. ``run`` returns why it stopped:
    ``"alerted"``, ``"idle"`` (nothing for ``idle_timeout`` seconds) or ``"handler"``.
    """

    def __init__(self, consumer, handler, max_batch: int = 4096):
        self.consumer = consumer
        self.handler = handler
        self.max_batch = max_batch

    def run(self, idle_timeout: float | None = None) -> str:
        while True:
            batch = self.consumer.wait(timeout=idle_timeout, max_batch=self.max_batch)
            if batch is None:
                return "alerted" if self.consumer.last_status != TIMED_OUT else "idle"
            stop = False
            views = batch.views
            seq = batch.low
            for i, view in enumerate(views):
                if self.handler(view, seq, i == len(views) - 1):
                    stop = True
                seq += len(view)
            self.consumer.release(batch)
            if stop:
                return "handler"
