"""The compiled record checks (``failed_checks``, what the bridge runs) give the same first
failing check as the vectorized specification (``failed_checks_vectorized``, CHECKS as
written), on records built to reach every check: each field drawn from its valid values, the
values just outside them, and random bytes."""

from __future__ import annotations

import numpy as np
import pytest

from ringex.pairs import default_pairs
from ringex.records import COMMAND_DTYPE
from ringex.wire.record_checks import CHECKS, failed_checks, failed_checks_vectorized


def _near(rng, n, edges):
    """Values at, just inside and just outside each edge, plus a few wild ones."""
    choices = np.array(sorted({e + d for e in edges for d in (-1, 0, 1)}
                              | {0, -1, 1, 2**62, -2**62}), dtype=np.int64)
    return rng.choice(choices, n)


def _records(n: int, seed: int, registry) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = registry.pairs
    records = np.zeros(n, dtype=COMMAND_DTYPE)
    small = lambda valid: rng.choice(np.array(valid + [0, 255, max(valid) + 1], np.uint8), n)
    records["kind"] = small([1, 2, 3, 4, 5])
    records["side"] = small([1, 2])
    records["order_type"] = small([1, 2])
    records["tif"] = small([1, 2, 3])
    records["flags"] = small([0, 1, 2, 3])
    records["stp"] = small([0, 1, 2, 3, 4])
    records["status"] = small([1, 2, 3, 4])
    records["_reserved"] = np.where(rng.random(n) < 0.05, rng.integers(1, 256, n), 0)
    records["pair_id"] = rng.choice(np.array([-2, -1, 0, 1, 2, len(pairs), 1000], np.int32), n)
    for field in ("order_id", "client_order_id", "account"):
        records[field] = _near(rng, n, [0, 7])
    records["price"] = _near(rng, n, [p.band_lo_ticks for p in pairs]
                             + [p.band_hi_ticks for p in pairs])
    records["quantity"] = _near(rng, n, [p.min_qty_lots for p in pairs]
                                + [p.max_qty_lots for p in pairs])
    # mostly well-formed records, so the later checks are reached, not only the first
    tame = rng.random(n) < 0.6
    records["_reserved"][tame] = 0
    records["pair_id"][tame] = rng.integers(0, len(pairs), tame.sum())
    records["order_id"][tame] = rng.integers(1, 1 << 40, tame.sum())
    records["account"][tame] = rng.integers(1, 100, tame.sum())
    records["client_order_id"][tame] = rng.integers(0, 100, tame.sum())
    return records


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernel_equals_the_vectorized_checks(seed):
    registry = default_pairs()
    records = _records(200_000, seed, registry)
    compiled = failed_checks(records, registry)
    expected = failed_checks_vectorized(records, registry)
    assert np.array_equal(compiled, expected)
    # every check was the first to fail for some record, and some records passed them all
    assert set(np.unique(expected).tolist()) == set(range(len(CHECKS) + 1))


def test_kernel_on_views_and_empty_arrays():
    registry = default_pairs()
    records = _records(1000, 4, registry)
    strided = records[::3]
    assert np.array_equal(failed_checks(strided, registry),
                          failed_checks_vectorized(strided, registry))
    assert failed_checks(records[:0], registry).shape == (0,)
    with pytest.raises(TypeError):
        failed_checks(np.zeros(3, dtype=np.int64), registry)
