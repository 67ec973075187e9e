"""What is specific to the compiled engine: batching, buffers, snapshots, invariant checks.

Matching semantics are covered by the scenario, stateful and differential tests, which run the
compiled engine against the reference matcher.
"""

import numpy as np
import pytest

from ringex.book.state import META_WINDOW_COUNT, META_WINDOW_HEAD
from ringex.commands import cancel, new, pack
from ringex.engine import MatchingEngine
from ringex.errors import SnapshotError
from ringex.pairs import Pair
from ringex.records import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    EventKind,
    OrderType,
    Reason,
    Side,
    TimeInForce,
)
from ringex.snapshot import decode_snapshot, encode_snapshot
from ringex.spec.matcher import ReferenceMatcher

PAIRS = [Pair.for_ticks(0), Pair.for_ticks(1, band=(50, 5_000))]


def _book_of(n_orders, *, side=Side.SELL, price=100, pair=0):
    return pack(new(i + 1, 1 + i % 7, side, price + i % 5, 1 + i % 3, pair=pair)
                for i in range(n_orders))


def test_events_are_deterministic_bytes_and_seq_is_gap_free():
    commands = pack([_book_of(300), pack(new(1000 + i, 9, Side.BUY, 104, 2) for i in range(50))])
    runs = []
    for _ in range(2):
        engine = MatchingEngine(PAIRS, order_capacity=1024)
        events = engine.process(commands)
        runs.append((events.tobytes(), engine.state_hash()))
        assert np.array_equal(events["seq"], np.arange(1, len(events) + 1))
        assert events["command_index"].max() == len(commands) - 1
    assert runs[0] == runs[1]
    assert (events["kind"] == EventKind.TRADE).sum() > 0


def test_a_tiny_event_buffer_never_splits_a_command_or_loses_an_event():
    commands = pack([_book_of(200), new(5000, 99, Side.BUY, 200, 10_000)])  # sweeps everything
    small = MatchingEngine(PAIRS, order_capacity=512, event_capacity=16)
    large = MatchingEngine(PAIRS, order_capacity=512, event_capacity=1 << 14)
    small_events = small.process(commands)
    assert small_events.tobytes() == large.process(commands).tobytes()
    assert small.live_orders == large.live_orders == 1  # the sweeper rests with its remainder


def test_process_into_stops_between_commands_when_the_buffer_is_full():
    engine = MatchingEngine(PAIRS, order_capacity=64)
    commands = _book_of(40)
    buffer = np.zeros(10, dtype=EVENT_DTYPE)
    next_command, n_events, blocked = engine.process_into(commands, 0, buffer)
    # NEW needs room for its worst case, so the batch stops early and resumes cleanly.
    assert 0 < next_command < len(commands)
    assert n_events == next_command  # one ACCEPTED per resting order
    assert blocked > 10 - n_events
    rest = engine.process(commands[next_command:])
    assert rest["seq"][0] == n_events + 1


def test_wrong_dtype_is_a_type_error_not_garbage():
    engine = MatchingEngine(PAIRS)
    with pytest.raises(TypeError, match="COMMAND_DTYPE"):
        engine.process(np.zeros(3, dtype=np.int64))
    assert len(engine.process(np.zeros(0, dtype=COMMAND_DTYPE))) == 0


def test_snapshot_restore_gives_the_same_hash_and_the_same_future():
    before = pack([_book_of(500), _book_of(300, side=Side.BUY, price=90, pair=1)])
    after = pack([new(9000 + i, 3, Side.BUY, 101 + i % 4, 5) for i in range(100)]
                 + [cancel(i + 1, 1 + i % 7) for i in range(0, 500, 3)])
    engine = MatchingEngine(PAIRS, order_capacity=2048)
    engine.process(before)
    blob = engine.snapshot(meta={"input_offset": 800})
    restored = MatchingEngine.restore(blob, order_capacity=2048)
    assert restored.state_hash() == engine.state_hash()
    assert restored.next_seq == engine.next_seq
    assert restored.depth(0, 20) == engine.depth(0, 20)
    restored.check_invariants()
    assert restored.process(after).tobytes() == engine.process(after).tobytes()
    assert restored.state_hash() == engine.state_hash()


def _reusing_client_ids(n, first_id=1, ts=0):
    """Resting sells, IOC buys and cancels by client id, drawing client ids from 23 values for
    2 accounts, so keys are retired into the window, rejected and (once evicted) reused."""
    commands = []
    for i in range(n):
        order_id, account, client_order_id = first_id + i, 1 + (i // 3) % 2, 1 + (i * 7) % 23
        if i % 3 == 0:
            commands.append(new(order_id, account, Side.SELL, 100 + i % 4, 2,
                                client_order_id=client_order_id, ts=ts + i))
        elif i % 3 == 1:
            commands.append(new(order_id, account, Side.BUY, 101, 1, tif=TimeInForce.IOC,
                                client_order_id=client_order_id, ts=ts + i))
        else:
            commands.append(cancel(0, account, client_order_id=client_order_id, ts=ts + i))
    return pack(commands)


def test_snapshot_restore_with_a_non_empty_window_gives_the_same_hash_and_the_same_future():
    window = 13  # wraps its ring many times over, so the snapshot starts mid-ring
    engine = MatchingEngine(PAIRS, order_capacity=256, client_id_window=window)
    reference = ReferenceMatcher(PAIRS, order_capacity=256, client_id_window=window)
    before, after = _reusing_client_ids(400), _reusing_client_ids(400, first_id=1000, ts=400)
    assert engine.process(before).tobytes() == reference.process(before).tobytes()
    assert engine.done_client_ids == window
    assert engine.state_hash() == reference.state_hash()
    restored = MatchingEngine.restore(engine.snapshot(), order_capacity=256,
                                      client_id_window=window)
    assert restored.state_hash() == engine.state_hash()
    restored.check_invariants()
    future = restored.process(after)
    assert future.tobytes() == engine.process(after).tobytes()
    assert future.tobytes() == reference.process(after).tobytes()
    assert restored.state_hash() == engine.state_hash() == reference.state_hash()
    rejected = future[future["kind"] == EventKind.REJECTED]
    assert (rejected["reason"] == Reason.DUPLICATE_CLIENT_ORDER_ID).sum() > 50
    assert (future["reason"] == Reason.USER_CANCELED).any()
    assert (future["kind"] == EventKind.TRADE).any()


def test_restore_into_a_smaller_window_keeps_the_newest_keys():
    engine = MatchingEngine(PAIRS, order_capacity=16, client_id_window=10)
    engine.process(pack([new(i + 1, 5, Side.BUY, 0, 1, type=OrderType.MARKET,
                             tif=TimeInForce.IOC, client_order_id=50 + i) for i in range(10)]))
    smaller = MatchingEngine.restore(engine.snapshot(), order_capacity=16, client_id_window=4)
    assert smaller.done_client_ids == 4
    retries = pack([new(100 + i, 5, Side.BUY, 90, 1, client_order_id=50 + i) for i in range(10)])
    events = smaller.process(retries)
    reasons = [int(e["reason"]) for e in events if e["kind"] == EventKind.REJECTED]
    assert reasons == [Reason.DUPLICATE_CLIENT_ORDER_ID] * 4  # 56..59; 50..55 rest again
    assert smaller.live_orders == 6
    smaller.check_invariants()
    none = MatchingEngine.restore(engine.snapshot(), order_capacity=16, client_id_window=0)
    assert none.done_client_ids == 0
    assert not (none.process(retries)["kind"] == EventKind.REJECTED).any()


def test_a_snapshot_whose_window_names_a_live_key_is_refused():
    engine = MatchingEngine(PAIRS, order_capacity=16, client_id_window=4)
    engine.process(pack([new(1, 5, Side.BUY, 90, 1, client_order_id=7),
                         new(2, 5, Side.BUY, 0, 1, type=OrderType.MARKET, tif=TimeInForce.IOC,
                             client_order_id=8)]))
    pairs, words, meta = decode_snapshot(engine.snapshot())
    assert list(words[-3:]) == [1, 5, 8]
    words[-1] = 7  # the live order's key, claimed done as well
    with pytest.raises(SnapshotError, match="client-order-id window"):
        MatchingEngine.restore(encode_snapshot(pairs, words, meta))
    with pytest.raises(SnapshotError, match="client-order-id window"):
        MatchingEngine.restore(encode_snapshot(pairs, words[:-1], meta))  # truncated key


def test_the_window_is_bounded_and_off_at_zero():
    with pytest.raises(ValueError, match="client_id_window"):
        MatchingEngine(PAIRS, client_id_window=-1)
    iocs = pack([new(i + 1, 1 + i % 2, Side.BUY, 0, 1, type=OrderType.MARKET,
                     tif=TimeInForce.IOC, client_order_id=1 + i) for i in range(5_000)])
    for window, held in ((100, 100), (0, 0)):
        engine = MatchingEngine(PAIRS, order_capacity=64, client_id_window=window)
        engine.process(iocs)
        assert engine.done_client_ids == held
        assert (engine._state.coid_index[:, 2] != 0).sum() == held
        engine.check_invariants()


@pytest.mark.parametrize("corrupt", [
    # a key the index lacks; a count that disagrees with the index
    lambda st: st.coid_window.__setitem__((st.meta[META_WINDOW_HEAD], 1), 999),
    lambda st: st.meta.__setitem__(META_WINDOW_COUNT, st.meta[META_WINDOW_COUNT] - 1),
])
def test_check_invariants_catches_a_corrupt_window(corrupt):
    engine = MatchingEngine(PAIRS, order_capacity=16, client_id_window=4)
    engine.process(pack([new(i + 1, 5, Side.BUY, 0, 1, type=OrderType.MARKET,
                             tif=TimeInForce.IOC, client_order_id=50 + i) for i in range(6)]))
    engine.check_invariants()
    corrupt(engine._state)
    with pytest.raises(AssertionError, match="client-order-id window"):
        engine.check_invariants()


def test_corrupt_truncated_and_foreign_snapshots_are_refused_by_name():
    engine = MatchingEngine(PAIRS, order_capacity=64)
    engine.process(_book_of(20))
    blob = bytearray(engine.snapshot())
    flipped = bytearray(blob)
    flipped[len(flipped) // 2] ^= 0xFF
    with pytest.raises(SnapshotError, match="checksum"):
        MatchingEngine.restore(bytes(flipped))
    with pytest.raises(SnapshotError, match="truncated|checksum"):
        MatchingEngine.restore(bytes(blob[:40]))
    with pytest.raises(SnapshotError, match="magic"):
        MatchingEngine.restore(b"NOTASNAP" + bytes(blob[8:]))
    newer = bytearray(blob)
    newer[8] = 99  # version field
    with pytest.raises(SnapshotError, match="version 99"):
        MatchingEngine.restore(bytes(newer))
    with pytest.raises(SnapshotError, match="exceed order_capacity"):
        MatchingEngine.restore(bytes(blob), order_capacity=5)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda st, row: st.orders["leaves"].__setitem__(row, 0), "leaves_qty <= 0"),
        (lambda st, row: st.orders["filled"].__setitem__(row, 1), "quantity !="),
        (lambda st, row: st.levels["quantity"].__setitem__(0, 7), "level's total"),
        (lambda st, row: st.sides["best"].__setitem__(0, 99), "best price"),
    ],
)
def test_check_invariants_catches_corruption(corrupt, message):
    engine = MatchingEngine([Pair.for_ticks(0, band=(100, 100))], order_capacity=16)
    engine.process(_book_of(1, price=100, side=Side.BUY))
    engine.check_invariants()
    corrupt(engine._state, 0)
    with pytest.raises(AssertionError, match=message):
        engine.check_invariants()


def test_crossed_book_is_detected():
    engine = MatchingEngine([Pair.for_ticks(0)], order_capacity=16)
    engine.process(pack([new(1, 1, Side.BUY, 100, 1), new(2, 2, Side.SELL, 101, 1)]))
    engine._state.sides["best"][0] = 101  # claim the bid is at the ask's price
    with pytest.raises(AssertionError):
        engine.check_invariants()


def test_order_pool_rows_are_reused_without_growth():
    engine = MatchingEngine(PAIRS, order_capacity=8)
    for round_ in range(50):
        ids = range(round_ * 8 + 1, round_ * 8 + 9)
        events = engine.process(pack([new(i, 1, Side.BUY, 100, 1) for i in ids]
                                     + [cancel(i, 1) for i in ids]))
        assert (events["kind"] == EventKind.CANCELED).sum() == 8
    assert engine.live_orders == 0
    engine.check_invariants()


def test_prefault_maps_every_array_and_changes_nothing():
    from ringex.book.state import prefault

    commands = pack([_book_of(300), pack(new(1000 + i, 9, Side.BUY, 104, 2) for i in range(50))])
    touched = MatchingEngine(PAIRS, order_capacity=1 << 16, client_id_window=1_000)
    untouched = MatchingEngine(PAIRS, order_capacity=1 << 16, client_id_window=1_000)
    first = touched.process(commands[:200])
    assert np.array_equal(first, untouched.process(commands[:200]))
    before = touched.canonical_words().copy()
    mapped = prefault(touched.book_state)
    assert mapped == sum(a.nbytes for a in touched.book_state if a.size)
    # every byte kept, so the future is the same as without it
    assert np.array_equal(touched.canonical_words(), before)
    assert touched.process(commands[200:]).tobytes() == untouched.process(commands[200:]).tobytes()
    assert touched.state_hash() == untouched.state_hash()
