"""Which outbound slots exist and gate the engine from the moment the supervisor creates
the ring.

Distributed mode: the Kafka publisher is the outbound ring's only consumer; market data reads
`order-events`, so it can hold nothing back (a stopped or slow market-data process once held
the engine when its slot was not retired in time). Embedded mode: the market-data publisher
is the only consumer, and gates. Forbidden outcomes: another slot in either mode; a slot
retired (every declared slot must gate).
"""

import dataclasses
import time

import pytest

from ringex.config import load_settings
from ringex.ring.gating import RETIRED
from ringex.ring.segment import list_segments
from ringex.runtime.supervisor import Supervisor
from ringex.runtime.topology import slots_for


def _outbound_sequences(tmp_path, distributed: bool) -> tuple[list[int], object]:
    prefix = f"rgxslots{time.monotonic_ns() % 10**9}"
    environ = {"RINGEX_RUNTIME_VAR_DIR": str(tmp_path), "RINGEX_RUNTIME_SEGMENT_PREFIX": prefix}
    if distributed:  # nothing connects: creating segments needs only the addresses
        environ.update(RINGEX_KAFKA_BOOTSTRAP="127.0.0.1:1", RINGEX_REDIS_URL="redis://127.0.0.1:1/0")
    settings = load_settings(environ=environ)
    settings = dataclasses.replace(settings, engine=dataclasses.replace(
        settings.engine, inbound_capacity=256, outbound_capacity=256, book_ring_capacity=16))
    supervisor = Supervisor(settings, lambda s: [])
    supervisor.create_segments()
    try:
        outbound = supervisor.rings["outbound"]
        return ([outbound.consumer_sequence(slot) for slot in range(outbound.layout.consumers)],
                slots_for(settings.embedded))
    finally:
        supervisor.stop(timeout=5)
        assert not list_segments(prefix)


@pytest.mark.parametrize("distributed, consumer_role", [
    (True, "kafka"),
    (False, "marketdata"),
])
def test_the_outbound_ring_has_one_gating_consumer(tmp_path, distributed, consumer_role):
    sequences, slots = _outbound_sequences(tmp_path, distributed)
    assert len(sequences) == 1 and getattr(slots, consumer_role) == 0, (sequences, slots)
    assert all(sequence < RETIRED for sequence in sequences), sequences
    if distributed:
        assert slots.marketdata == -1
