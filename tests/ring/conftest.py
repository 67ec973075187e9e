import multiprocessing

import pytest

from tests.ring.ring_workers import STRESS_DTYPE

from ringex.ring import Ring


@pytest.fixture(scope="session")
def spawn():
    return multiprocessing.get_context("spawn")


@pytest.fixture
def make_ring():
    """Create owned rings that are unlinked at the end of the test, whatever happens."""
    rings = []

    def make(capacity=64, dtype=STRESS_DTYPE, **options):
        ring = Ring.create(dtype, capacity, purpose="test", **options)
        rings.append(ring)
        return ring

    yield make
    for ring in rings:
        ring.halt()
        ring.unlink()
        ring.close()
