"""Run two matchers on the same commands and fail at the first difference, explained.

The oracle is the reference matcher; the candidate is the compiled engine (or, to test this
harness, a deliberately broken reference). Events are compared as raw bytes, then the state
hashes; a mismatch names the first differing event and its differing fields.
"""

from __future__ import annotations

import numpy as np

from ringex.records import EVENT_DTYPE, EventKind
from ringex.testing.checks import assert_well_formed
from ringex.testing.generator import CommandStream

__all__ = ["assert_same_events", "compare_on_stream"]


def _field_diff(expected: np.void, actual: np.void) -> str:
    names = [n for n in EVENT_DTYPE.names if expected[n] != actual[n]]
    return ", ".join(f"{n}: expected {expected[n]} got {actual[n]}" for n in names)


def assert_same_events(expected: np.ndarray, actual: np.ndarray, context: str = "") -> None:
    assert actual.dtype == EVENT_DTYPE, f"{context}candidate events have dtype {actual.dtype}"
    if expected.tobytes() == actual.tobytes():
        return
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e.tobytes() != a.tobytes():
            raise AssertionError(
                f"{context}event {i} (seq {e['seq']}, command {e['command_index']}, "
                f"{EventKind(e['kind']).name}) differs: {_field_diff(e, a)}")
    raise AssertionError(f"{context}expected {len(expected)} events, got {len(actual)}")


def compare_on_stream(oracle, candidate, stream: CommandStream, *, n_commands: int,
                      batch_size: int, invariants_every: int = 10) -> dict:
    """Feed ``n_commands`` of ``stream`` to both in batches; return a few counts."""
    counts = {"commands": 0, "events": 0, "trades": 0}
    batch_number = 0
    while counts["commands"] < n_commands:
        commands = stream.next_batch(min(batch_size, n_commands - counts["commands"]))
        first_seq, first_index = oracle.next_seq, oracle.next_command_index
        expected = oracle.process(commands)
        actual = candidate.process(commands)
        context = f"batch {batch_number} (commands {first_index}..): "
        assert_well_formed(expected, first_seq, first_index, len(commands))
        assert_same_events(expected, actual, context)
        assert candidate.state_hash() == oracle.state_hash(), f"{context}state hashes differ"
        stream.observe(expected)
        batch_number += 1
        if batch_number % invariants_every == 0:
            oracle.check_invariants()
            candidate.check_invariants()
        counts["commands"] += len(commands)
        counts["events"] += len(expected)
        counts["trades"] += int((expected["kind"] == EventKind.TRADE).sum())
    oracle.check_invariants()
    candidate.check_invariants()
    return counts
