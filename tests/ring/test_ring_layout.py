"""The layout pins: hot cells on separate cache lines, power-of-two capacity, aligned regions."""

import numpy as np
import pytest
from tests.ring.ring_workers import STRESS_DTYPE

from ringex.records import COMMAND_DTYPE, EVENT_DTYPE
from ringex.ring import layout as L


def test_hot_cells_sit_alone_on_their_cache_lines():
    consumers = 4
    hot = [L.CURSOR, L.GATING_CACHE, L.ALERT, L.FUTEX_WORD] + [
        L.consumer_cell(k) for k in range(consumers)]
    lines = [cell * 8 // L.CACHE_LINE for cell in hot]
    assert len(set(lines)) == len(lines)
    descriptor = [L.MAGIC_CELL, L.VERSION, L.CAPACITY, L.RECORD_SIZE, L.DTYPE_HASH,
                  L.CONSUMERS, L.PRODUCERS, L.MULTI_PRODUCER, L.WAIT_STRATEGY, L.OWNER_PID,
                  L.OWNER_START, L.TOTAL_BYTES]
    assert not {cell * 8 // L.CACHE_LINE for cell in descriptor} & set(lines)
    registry = L.consumer_peer_cell(consumers, 0) * 8
    assert registry >= (L.consumer_cell(consumers - 1) + 8) * 8


@pytest.mark.parametrize("dtype", [STRESS_DTYPE, COMMAND_DTYPE, EVENT_DTYPE, np.dtype("<i8")])
@pytest.mark.parametrize("multi", [False, True])
def test_regions_are_aligned_and_disjoint(dtype, multi):
    layout = L.RingLayout(1024, dtype, consumers=3, producers=4, multi_producer=multi)
    assert layout.header_bytes % 64 == 0 and layout.records_offset % 64 == 0
    assert layout.registry_offset + 16 * 7 <= layout.dtype_text_offset < layout.header_bytes
    assert layout.available_offset + 8 * layout.available_length <= layout.records_offset
    assert layout.total_bytes == layout.records_offset + 1024 * dtype.itemsize
    assert layout.available_length == (1024 if multi else 1)


@pytest.mark.parametrize("capacity", [0, 1, 3, 1000])
def test_capacity_must_be_a_power_of_two(capacity):
    with pytest.raises(ValueError, match="power of two"):
        L.RingLayout(capacity, STRESS_DTYPE)


def test_dtype_identity_covers_names_types_and_offsets():
    same_size = np.dtype([("a", "<i8", (7,)), ("checksum", "<i8")])
    assert same_size.itemsize == STRESS_DTYPE.itemsize
    assert L.dtype_hash(same_size) != L.dtype_hash(STRESS_DTYPE)
    assert L.dtype_hash(np.dtype(STRESS_DTYPE.descr)) == L.dtype_hash(STRESS_DTYPE)
