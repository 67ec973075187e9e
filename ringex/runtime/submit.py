"""Feeding a running embedded exchange: publish commands into the inbound ring and return
once the journal has them on disk.

This is what the embedded gateway workers and ``ringex submit`` use. A producer claims one
batch of slots, stamps each command with its **journal position** (``base + inbound
sequence``, where ``base`` is the number of records the journal held when this run started,
``ringex.runtime.journal``) and each NEW order with the id ``position + 1``, so ids are
unique and dense across every run on this ``var_dir``; it sets the current time if unset,
publishes, and then waits until the journal consumer's sequence passes the batch: only then
is the order durable and may be acknowledged. ``submit`` returns the journal positions (equal
to the inbound sequences on a fresh ``var_dir``), so ``order_id = position + 1``.
"""

from __future__ import annotations

import time

import numpy as np

from ringex.records import COMMAND_DTYPE, CommandKind
from ringex.ring.ring import Ring
from ringex.runtime.journal import journal_base
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
        self.base = journal_base(var_dir, names.inbound)
        self.timeout = timeout

    def submit(self, commands: np.ndarray, *, wait_durable: bool = True) -> np.ndarray:
        """Publish ``commands`` (one claim); returns their journal positions (NEW order id =
        position + 1)."""
        if commands.dtype != COMMAND_DTYPE:
            raise TypeError("commands must be COMMAND_DTYPE records")
        records = commands.copy()
        batch = self.producer.claim(len(records))
        positions = np.arange(batch.low, batch.high + 1, dtype=np.int64) + self.base
        # Embedded order ids are assigned here, whatever the caller put in the record.
        is_new = records["kind"] == CommandKind.NEW
        records["order_id"][is_new] = positions[is_new] + 1
        records["source_partition"] = -1
        records["source_offset"] = positions
        records["_reserved"] = 0
        unstamped = records["timestamp_ns"] == 0
        records["timestamp_ns"][unstamped] = time.time_ns()
        offset = 0
        for view in batch.views:
            view[:] = records[offset : offset + len(view)]
            offset += len(view)
        self.producer.publish(batch)
        if wait_durable:
            self.wait_durable(batch.high)
        return positions

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
