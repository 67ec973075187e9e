"""The public surface is small and deliberate; changing it must change this test."""

import subprocess
import sys

import ringex

EXPECTED = {
    "__version__",
    "MatchingEngine", "ReferenceMatcher",
    "Pair", "PairRegistry", "default_pairs",
    "RECORD_VERSION", "ALL_PAIRS", "COMMAND_DTYPE", "EVENT_DTYPE",
    "CommandKind", "EventKind", "OrderFlag", "OrderStatus", "OrderType", "PairStatus",
    "Reason", "Side", "StpMode", "TimeInForce",
    "RingexError", "ValidationError", "UnknownPairError", "ConfigError", "SnapshotError",
    "LayoutMismatchError",
}


def test_all_is_pinned_and_every_name_resolves():
    assert set(ringex.__all__) == EXPECTED
    assert len(ringex.__all__) == len(EXPECTED)
    for name in ringex.__all__:
        assert getattr(ringex, name) is not None


def test_every_error_derives_from_the_single_base():
    for name in ("ValidationError", "UnknownPairError", "ConfigError", "SnapshotError",
                 "LayoutMismatchError"):
        assert issubclass(getattr(ringex, name), ringex.RingexError)


def test_importing_ringex_does_not_import_numba():
    # Gateway workers and bridges import ringex for pairs and records only.
    code = "import sys, ringex; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_engine_and_reference_share_one_interface():
    methods = {"process", "state_hash", "canonical_words", "check_invariants", "depth", "order"}
    for cls in (ringex.MatchingEngine, ringex.ReferenceMatcher):
        assert methods <= set(dir(cls)), cls
