"""Feeding a running embedded exchange: publish commands into the inbound ring and return
once the journal has them on disk.

This is what the embedded gateway workers and ``ringex submit`` use. A producer claims one
batch of slots, stamps each NEW order with its id (``inbound sequence + 1``, so ids are unique
and dense per run), its input position and, if unset, the current time, publishes, and then
waits until the journal consumer's sequence passes the batch: only then is the order durable
and may be acknowledged.
"""

from __future__ import annotations

import time

import numpy as np

from ringex.records import COMMAND_DTYPE, CommandKind
from ringex.ring.ring import Ring
from ringex.runtime.topology import read_ring_names, slots_for

__all__ = ["InboundClient"]


class InboundClient:
    def __init__(self, var_dir: str, *, timeout: float = 5.0):
        names = read_ring_names(var_dir)
        if not names.embedded:
            raise RuntimeError("the exchange runs in distributed mode: send orders to Kafka")
        self.ring = Ring.attach(names.inbound, COMMAND_DTYPE)
        self.producer = self.ring.producer(timeout=timeout)
        self.journal_slot = slots_for(True).journal
        self.timeout = timeout

    def submit(self, commands: np.ndarray, *, wait_durable: bool = True) -> np.ndarray:
        """Publish ``commands`` (one claim); returns the inbound sequences they got."""
        if commands.dtype != COMMAND_DTYPE:
            raise TypeError("commands must be COMMAND_DTYPE records")
        records = commands.copy()
        batch = self.producer.claim(len(records))
        sequences = np.arange(batch.low, batch.high + 1, dtype=np.int64)
        # Embedded order ids are assigned here, whatever the caller put in the record.
        is_new = records["kind"] == CommandKind.NEW
        records["order_id"][is_new] = sequences[is_new] + 1
        records["source_partition"] = -1
        records["source_offset"] = sequences
        unstamped = records["timestamp_ns"] == 0
        records["timestamp_ns"][unstamped] = time.time_ns()
        offset = 0
        for view in batch.views:
            view[:] = records[offset : offset + len(view)]
            offset += len(view)
        self.producer.publish(batch)
        if wait_durable:
            self.wait_durable(batch.high)
        return sequences

    def wait_durable(self, sequence: int) -> None:
        """Block until the journal has written ``sequence`` (TimeoutError after the timeout)."""
        deadline = time.monotonic() + self.timeout
        pause = 20e-6
        while self.ring.consumer_sequence(self.journal_slot) < sequence:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the journal did not reach sequence {sequence} in time")
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)

    def close(self) -> None:
        self.producer.close()
        self.ring.close()
