"""Order ids from Kafka positions, client ids folded into int64, and the fast decimal path
that must answer exactly as ringex.decimals does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ringex.wire
from ringex.errors import ValidationError
from ringex.wire import client_id_to_int, kafka_order_id, kafka_position
from ringex.wire.units import registry_units

INT64_MAX = 2**63 - 1


def test_public_surface_is_pinned():
    assert sorted(ringex.wire.__all__) == sorted([
        "DEFAULT_MAX_BYTES", "DEFAULT_MAX_RECORDS", "FRAME_MAGIC", "FRAME_VERSION",
        "JSON_VERSION", "CHECKS", "decode_command", "decode_commands", "rejection_reason",
        "encode_frame", "decode_frame", "is_frame", "check_commands", "command_errors",
        "trade_json", "event_json", "trades_to_json", "events_to_json", "kafka_order_id",
        "kafka_position", "client_id_to_int",
    ])
    assert all(hasattr(ringex.wire, name) for name in ringex.wire.__all__)


@pytest.mark.parametrize("partition, offset, order_id", [
    (0, 0, 1), (0, 41, 42), (1, 0, 2**40 + 1), (3, 7, 3 * 2**40 + 8),
    (2**23 - 1, 2**40 - 2, INT64_MAX),
])
def test_kafka_order_id(partition, offset, order_id):
    assert kafka_order_id(partition, offset) == order_id
    assert kafka_position(order_id) == (partition, offset)


@pytest.mark.parametrize("partition, offset", [
    (-1, 0), (2**23, 0), (0, -1), (0, 2**40 - 1), (2**23 - 1, 2**40 - 1), (True, 0), (0, 1.0),
])
def test_kafka_order_id_limits(partition, offset):
    with pytest.raises(ValueError):
        kafka_order_id(partition, offset)


@pytest.mark.parametrize("order_id", [0, -1, 2**63, 2**40])
def test_kafka_position_refuses_ids_it_never_made(order_id):
    with pytest.raises(ValueError):
        kafka_position(order_id)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**23 - 1), st.integers(0, 2**40 - 2), st.integers(0, 2**23 - 1),
       st.integers(0, 2**40 - 2))
def test_kafka_ids_are_unique_and_ordered(p1, o1, p2, o2):
    a, b = kafka_order_id(p1, o1), kafka_order_id(p2, o2)
    assert 0 < a <= INT64_MAX
    assert (a == b) == ((p1, o1) == (p2, o2))
    if p1 == p2:
        assert (a < b) == (o1 < o2)


@pytest.mark.parametrize("value, expected", [
    (1, 1), (INT64_MAX, INT64_MAX), ("1", 1), ("9223372036854775807", INT64_MAX),
    ("abc", 6_093_713_577_395_187_742),  # pinned: changing the hash changes every stored id
])
def test_client_ids(value, expected):
    assert client_id_to_int(value) == expected


@pytest.mark.parametrize("value", ["0", "01", "-1", "+1", "9223372036854775808", " 1", "1.0",
                                   "x", "a b", "~" * 64])
def test_other_strings_are_hashed_into_positive_int63(value):
    hashed = client_id_to_int(value)
    assert 0 < hashed <= INT64_MAX
    assert hashed == client_id_to_int(value)


def test_distinct_strings_hash_apart():
    values = {client_id_to_int(f"order-{i}") for i in range(20_000)}
    assert len(values) == 20_000


@pytest.mark.parametrize("value, fragment", [
    (0, "1 .. 2**63"), (-5, "1 .. 2**63"), (2**63, "1 .. 2**63"), (True, "bool"),
    (1.5, "float"), (None, "NoneType"), (b"abc", "bytes"), ("", "empty"),
    ("x" * 65, "longer than 64"), ("é", "printable ASCII"), ("a\nb", "printable ASCII"),
    ("\x7f", "printable ASCII"),
])
def test_client_id_rejections(value, fragment):
    with pytest.raises(ValidationError) as error:
        client_id_to_int(value, field="order.id")
    assert error.value.field == "order.id"
    assert fragment in error.value.message


# ---------------------------------------------------------------- fast decimals

DECIMAL_TEXT = st.one_of(
    st.from_regex(r"\A[0-9]{1,22}(\.[0-9]{1,22})?\Z"),
    st.text(alphabet="0123456789.-+eE _", max_size=30),
    st.text(max_size=8),
)


@settings(max_examples=800, deadline=None)
@given(DECIMAL_TEXT, st.integers(0, 5))
def test_fast_conversion_answers_as_the_pair_does(exact_registry, registry, text, which):
    pairs = list(registry) + list(exact_registry)
    pair = pairs[which]
    units = registry_units(exact_registry if which >= 3 else registry).by_id[pair.pair_id]
    for fast, slow in ((units.price_to_ticks, pair.price_to_ticks),
                       (units.qty_to_lots, pair.qty_to_lots)):
        try:
            expected = slow(text)
        except ValidationError as error:
            with pytest.raises(ValidationError) as fast_error:
                fast(text, "f")
            assert (fast_error.value.field, fast_error.value.message) == ("f", error.message)
        else:
            assert fast(text, "f") == expected
