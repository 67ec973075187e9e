"""Whatever the bytes, decoding either succeeds or raises ValidationError: never another
exception, never a crash. Also: anything that decodes passes the edge record checks."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringex.errors import ValidationError
from ringex.records import COMMAND_DTYPE
from ringex.wire import check_commands, decode_command, decode_frame, encode_frame
from ringex.wire.json_messages import Message, EnvelopeOrder

KEYS = sorted(set(Message.__struct_fields__) | set(EnvelopeOrder.__struct_fields__)) + ["x"]
WORDS = ["new", "cancel", "amend", "cancel_all", "set_status", "BUY", "sell", "LIMIT", "market",
         "gtc", "ioc", "fok", "halted", "decrement", "BTC-USDT", "eth/usdt", "SOL-USDT", "0",
         "65000.01", "2500.00", "150.000", "0.5", "1", "-1", "1e3", "NaN", ""]
SCALARS = st.one_of(
    st.sampled_from(WORDS), st.text(max_size=6), st.integers(-(2**64), 2**64), st.booleans(),
    st.none(), st.floats(allow_nan=False, allow_infinity=False),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=8)),
    max_leaves=12,
)
MESSAGES = st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=10)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decode(payload, registry):
    try:
        record = decode_command(payload, registry, order_id=5, timestamp_ns=1,
                                default_account=2)
    except ValidationError:
        return None
    assert check_commands(record, registry).tolist() == [0], record
    return record


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(registry, payload):
    _decode(payload, registry)


@FUZZ
@given(MESSAGES)
def test_arbitrary_json_objects_over_the_known_keys(registry, message):
    _decode(json.dumps(message).encode(), registry)


@FUZZ
@given(MESSAGES, st.data())
def test_mutated_json_bytes(registry, message, data):
    payload = bytearray(json.dumps(message).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        if payload:
            position = data.draw(st.integers(0, len(payload) - 1))
            payload[position] = data.draw(st.integers(0, 255))
    _decode(bytes(payload), registry)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_frames(payload):
    try:
        decode_frame(payload)
    except ValidationError:
        pass
    try:
        decode_frame(b"RGXF\x01\x00\x01\x00\x48\x00\x00\x00" + payload)
    except ValidationError:
        pass


@FUZZ
@given(st.binary(min_size=72, max_size=72 * 3).map(lambda b: b[: len(b) // 72 * 72]))
def test_any_record_bytes_in_a_valid_frame_are_checked_not_crashed(registry, records):
    commands = np.frombuffer(records, dtype=COMMAND_DTYPE)
    decoded = decode_frame(encode_frame(commands))
    assert decoded.tobytes() == records
    assert len(check_commands(decoded, registry)) == len(commands)
