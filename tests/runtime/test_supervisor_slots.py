"""Which outbound slots gate the engine from the moment the supervisor creates the ring.

A non-gating market-data publisher (distributed mode, ``redis.catch_up_from_kafka``) must gate
nothing even before its process has attached: it was once retired only by that process, so a
market-data process still starting, stopped, or unable to reach Redis held the engine as soon
as the outbound ring filled. Forbidden outcomes: that slot not retired at creation; any other
slot retired (the Kafka publisher and an embedded or gating market-data reader must gate).
"""

import dataclasses
import time

import pytest

from ringex.config import load_settings
from ringex.ring.gating import RETIRED
from ringex.ring.segment import list_segments
from ringex.runtime.supervisor import Supervisor
from ringex.runtime.topology import slots_for


def _outbound_sequences(tmp_path, distributed: bool, catch_up: bool) -> tuple[list[int], object]:
    prefix = f"rgxslots{time.monotonic_ns() % 10**9}"
    environ = {"RINGEX_RUNTIME_VAR_DIR": str(tmp_path), "RINGEX_RUNTIME_SEGMENT_PREFIX": prefix,
               "RINGEX_REDIS_CATCH_UP_FROM_KAFKA": str(catch_up).lower()}
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


@pytest.mark.parametrize("distributed, catch_up, retired_role", [
    (True, True, "marketdata"),
    (True, False, None),
    (False, True, None),  # embedded: the market-data reader gates; catch-up needs Kafka
])
def test_only_a_non_gating_market_data_slot_is_retired_at_creation(
        tmp_path, distributed, catch_up, retired_role):
    sequences, slots = _outbound_sequences(tmp_path, distributed, catch_up)
    retired = {slot for slot, sequence in enumerate(sequences) if sequence >= RETIRED}
    expected = {getattr(slots, retired_role)} if retired_role else set()
    assert retired == expected, sequences
