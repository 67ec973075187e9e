"""The compiled event encoder writes exactly the reference encoder's bytes, for any record.

The reference (:mod:`ringex.spec.json_events`) is the old f-string encoder. Records
are drawn field by field over the whole int64 / uint8 range, with the edges (0, -1, +-2**63,
every enum member and an unnamed code, pair ids inside and outside the registry) made likely,
on registries whose scales exercise every path of the kernel: multiplier 1, a multiplier that
is not a power of ten, and one beyond int64 (the limb product).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringex.decimals import check_step, format_units
from ringex.pairs import PairRegistry, default_pairs
from ringex.records import (
    EVENT_DTYPE,
    EventKind,
    OrderStatus,
    OrderType,
    PairStatus,
    Reason,
    Side,
    TimeInForce,
)
from ringex.spec.json_events import events_to_json_reference, trades_to_json_reference
from ringex.spec.matcher import ReferenceMatcher
from ringex.testing.generator import CommandStream
from ringex.wire.json_events import (
    encode_events,
    encode_trades,
    event_json,
    events_to_json,
    trade_json,
    trades_to_json,
)
from ringex.wire.units import StepScale

INT64 = st.one_of(
    st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63), -(2**63) + 1, 999_999, 1_000_000,
                     -999_999, -1_000_000, -1_000_001, 10**18, 10**18 - 1]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-10**7, 10**7),
)
UINT8_OF = {
    "kind": EventKind, "reason": Reason, "side": Side, "order_type": OrderType,
    "tif": TimeInForce, "order_status": OrderStatus, "pair_status": PairStatus,
}


def _code(enum_type):
    return st.one_of(st.sampled_from([int(member) for member in enum_type]),
                     st.integers(0, 255))


def _registries() -> list[PairRegistry]:
    odd = PairRegistry.from_configs([
        {"name": "DEC-USD", "tick_size": "0.1", "lot_size": "0.1", "min_qty": "0.1",
         "max_qty": "100000", "price_band": ["0.1", "100000"]},
        {"name": "BIG-USD", "tick_size": "1", "lot_size": "1", "min_qty": "1",
         "max_qty": "9223372036854775807", "price_band": ["1", "1"]},
        {"name": "NICKEL-USD", "tick_size": "0.05", "lot_size": "25", "min_qty": "25",
         "max_qty": "1000000", "price_band": ["0.05", "1000"]},
    ])
    wide = PairRegistry.from_configs([
        {"name": "HUGE-TICK", "tick_size": "123456789012345678.123456789012345678",
         "lot_size": "0.000000000000000001", "min_qty": "0.000000000000000001",
         "max_qty": "1", "price_band": ["123456789012345678.123456789012345678"] * 2},
        {"name": "EIGHTEEN0123456-X", "tick_size": "7.5", "lot_size": "1000000000000000000",
         "min_qty": "1000000000000000000", "max_qty": "1000000000000000000",
         "price_band": ["7.5", "75"]},
    ])
    return [default_pairs(), odd, wide]


REGISTRIES = _registries()


@st.composite
def events(draw, kinds=None, max_size=12):
    count = draw(st.integers(0, max_size))
    records = np.zeros(count, dtype=EVENT_DTYPE)
    for index in range(count):
        record = records[index:index + 1]
        for name in EVENT_DTYPE.names:
            if name == "kind" and kinds is not None:
                value = draw(st.sampled_from(kinds))
            elif name in UINT8_OF:
                value = draw(_code(UINT8_OF[name]))
            elif name == "flags":
                value = draw(st.integers(0, 255))
            elif name in ("pair_id", "_reserved"):
                value = draw(st.one_of(st.integers(-2, 6),
                                       st.integers(-(2**31), 2**31 - 1)))
            else:
                value = draw(INT64)
            record[name] = value
    return records


PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(st.sampled_from(REGISTRIES), events())
def test_order_events_equal_the_reference(registry, records):
    assert events_to_json(records, registry) == events_to_json_reference(records, registry)


@PROPERTY
@given(st.sampled_from(REGISTRIES), events(kinds=[int(EventKind.TRADE)]))
def test_trades_equal_the_reference(registry, records):
    assert trades_to_json(records, registry) == trades_to_json_reference(records, registry)


@PROPERTY
@given(st.sampled_from(REGISTRIES), events(max_size=4))
def test_buffer_and_offsets_hold_the_same_messages(registry, records):
    buffer, offsets = encode_events(records, registry)
    assert offsets.tolist()[0] == 0 and offsets.tolist()[-1] == buffer.shape[0]
    assert np.all(np.diff(offsets) > 0)
    assert [buffer[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(records))] == \
        events_to_json_reference(records, registry)


@pytest.fixture(scope="module")
def matcher_events(registry):
    matcher = ReferenceMatcher(registry.pairs)
    stream = CommandStream(registry.pairs, seed=11)
    batches = []
    for _ in range(6):
        batch = matcher.process(stream.next_batch(400))
        stream.observe(batch)
        batches.append(batch)
    events = np.concatenate(batches)
    assert set(events["kind"].tolist()) == {int(kind) for kind in EventKind}
    return events


def test_every_kind_from_a_matcher_run(registry, matcher_events):
    assert events_to_json(matcher_events, registry) == \
        events_to_json_reference(matcher_events, registry)
    trades = matcher_events[matcher_events["kind"] == EventKind.TRADE]
    assert trades_to_json(trades, registry) == trades_to_json_reference(trades, registry)


def test_odd_layouts_encode_alike(registry):
    records = np.zeros(6, dtype=EVENT_DTYPE)
    records["kind"] = EventKind.TRADE
    records["seq"] = np.arange(6)
    records["price"] = 6_500_001
    expected = events_to_json_reference(records, registry)
    read_only = records.copy()
    read_only.flags.writeable = False
    assert events_to_json(read_only, registry) == expected
    assert events_to_json(records[::2], registry) == expected[::2]
    assert events_to_json(records.reshape(2, 3), registry) == expected
    assert [event_json(record, registry) for record in records] == expected
    assert [trade_json(record, registry) for record in records] == \
        trades_to_json_reference(records, registry)
    assert events_to_json(records[:0], registry) == []
    buffer, offsets = encode_trades(records[:0], registry)
    assert buffer.shape == (0,) and offsets.tolist() == [0]


def test_a_non_trade_is_refused_with_the_reference_message(registry):
    records = np.zeros(3, dtype=EVENT_DTYPE)
    records["kind"] = EventKind.TRADE
    records["seq"] = [7, 8, 9]
    records["kind"][1] = EventKind.CANCELED
    with pytest.raises(ValueError) as fast:
        trades_to_json(records, registry)
    with pytest.raises(ValueError) as reference:
        trades_to_json_reference(records, registry)
    assert str(fast.value) == str(reference.value) == "event seq 8 is not a TRADE"
    with pytest.raises(TypeError):
        encode_events(np.zeros(2, dtype=np.int64), registry)


WIDE_STEPS = st.builds(
    lambda whole, fraction, places: Decimal(f"{whole}.{fraction:0{places}d}"[:19 + 1 + places]),
    st.integers(0, 10**18 - 1), st.integers(0, 10**18 - 1), st.integers(1, 18),
).filter(lambda step: step > 0)


@settings(max_examples=300, deadline=None)
@given(WIDE_STEPS, st.integers(0, 2**63 - 1))
def test_steps_of_up_to_36_digits_format_exactly(step, units):
    """StepScale.of once used the 28-digit global context and rounded such steps."""
    step = check_step(step)
    assert StepScale.of(step).format(units) == format_units(units, step)


def test_a_36_digit_tick_is_written_exactly():
    registry = PairRegistry.from_configs([
        {"name": "NINES-USD", "tick_size": "999999999999999999.999999999999999999",
         "lot_size": "1", "min_qty": "1", "max_qty": "1",
         "price_band": ["999999999999999999.999999999999999999"] * 2}])
    records = np.zeros(1, dtype=EVENT_DTYPE)
    records["kind"] = EventKind.TRADE
    records["price"] = 3
    expected = b'"price":"2999999999999999999.999999999999999997"'
    assert expected in events_to_json(records, registry)[0]
    assert events_to_json(records, registry) == events_to_json_reference(records, registry)
