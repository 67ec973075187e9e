"""Factories ``(pairs, order_capacity, client_id_window) -> matcher`` for every matcher under
test.

The compiled engine is imported inside its factory, so that importing this module (and running
the reference's tests) never depends on numba compiling anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from ringex.pairs import Pair
from ringex.spec.matcher import ReferenceMatcher

__all__ = ["reference_matcher", "compiled_matcher", "MATCHER_FACTORIES"]


def reference_matcher(pairs: Sequence[Pair], order_capacity: int = 1 << 20,
                      client_id_window: int = 1_000_000):
    return ReferenceMatcher(pairs, order_capacity=order_capacity,
                            client_id_window=client_id_window)


def compiled_matcher(pairs: Sequence[Pair], order_capacity: int = 1 << 20,
                     client_id_window: int = 1_000_000):
    from ringex.engine import MatchingEngine

    return MatchingEngine(pairs, order_capacity=order_capacity,
                          client_id_window=client_id_window)


#: name -> factory; every scenario runs against each.
MATCHER_FACTORIES = {"reference": reference_matcher, "compiled": compiled_matcher}
