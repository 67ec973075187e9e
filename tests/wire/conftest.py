"""Fixtures of the wire tests: the default pairs, and pairs chosen to expose rounding."""

from __future__ import annotations

import pytest

from ringex.pairs import PairRegistry, default_pairs


@pytest.fixture(scope="session")
def registry() -> PairRegistry:
    return default_pairs()


@pytest.fixture(scope="session")
def exact_registry() -> PairRegistry:
    """DEC-USD steps of 0.1 (where binary floats go wrong); BIG-USD lots up to int64 max."""
    return PairRegistry.from_configs([
        {"name": "DEC-USD", "tick_size": "0.1", "lot_size": "0.1", "min_qty": "0.1",
         "max_qty": "100000", "price_band": ["0.1", "100000"]},
        {"name": "BIG-USD", "tick_size": "1", "lot_size": "1", "min_qty": "1",
         "max_qty": "9223372036854775807", "price_band": ["1", "1"]},
        {"name": "NICKEL-USD", "tick_size": "0.05", "lot_size": "25", "min_qty": "25",
         "max_qty": "1000000", "price_band": ["0.05", "1000"]},
    ])
