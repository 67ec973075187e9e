"""ringex: an exchange matching engine in Python, compiled with numba.

The public surface is re-exported here and pinned by ``tests/test_public_api.py``. The
compiled engine and the reference matcher are imported lazily, so that processes that only
parse and validate (gateway workers, bridges) do not pay for numba at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ringex.errors import (
    ConfigError,
    LayoutMismatchError,
    RingexError,
    SnapshotError,
    UnknownPairError,
    ValidationError,
)
from ringex.pairs import Pair, PairRegistry, default_pairs
from ringex.records import (
    ALL_PAIRS,
    COMMAND_DTYPE,
    EVENT_DTYPE,
    RECORD_VERSION,
    CommandKind,
    EventKind,
    OrderFlag,
    OrderStatus,
    OrderType,
    PairStatus,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)

if TYPE_CHECKING:
    from ringex.engine import MatchingEngine
    from ringex.spec.matcher import ReferenceMatcher

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # matchers
    "MatchingEngine",
    "ReferenceMatcher",
    # pairs
    "Pair",
    "PairRegistry",
    "default_pairs",
    # records
    "RECORD_VERSION",
    "ALL_PAIRS",
    "COMMAND_DTYPE",
    "EVENT_DTYPE",
    "CommandKind",
    "EventKind",
    "OrderFlag",
    "OrderStatus",
    "OrderType",
    "PairStatus",
    "Reason",
    "Side",
    "StpMode",
    "TimeInForce",
    # errors
    "RingexError",
    "ValidationError",
    "UnknownPairError",
    "ConfigError",
    "SnapshotError",
    "LayoutMismatchError",
]

_LAZY = {"MatchingEngine": "ringex.engine", "ReferenceMatcher": "ringex.spec.matcher"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ringex' has no attribute {name!r}")
