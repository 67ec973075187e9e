"""Binary frames: round trips, zero copy, one rejection per header rule, and the vectorized
record checks, which must agree with the reference matcher's own rejections."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringex.commands import amend, cancel, cancel_all, new, pack, set_status
from ringex.errors import ValidationError
from ringex.records import (
    COMMAND_DTYPE,
    RECORD_VERSION,
    CommandKind,
    EventKind,
    OrderType,
    Reason,
    Side,
    TimeInForce,
)
from ringex.spec.matcher import ReferenceMatcher
from ringex.testing.generator import CommandStream
from ringex.wire import (
    FRAME_MAGIC,
    FRAME_VERSION,
    check_commands,
    command_errors,
    decode_frame,
    encode_frame,
    is_frame,
)


def stream_commands(registry, n=300, seed=3) -> np.ndarray:
    return CommandStream(registry.pairs, seed=seed).next_batch(n)


def test_round_trip_is_byte_exact(registry):
    commands = stream_commands(registry)
    frame = encode_frame(commands)
    assert len(frame) == 16 + 72 * len(commands) + 4
    assert is_frame(frame) and frame[:4] == FRAME_MAGIC
    decoded = decode_frame(frame)
    assert decoded.dtype == COMMAND_DTYPE
    assert decoded.tobytes() == commands.tobytes()


def test_header_layout_is_pinned():
    frame = encode_frame(pack([new(1, 2, Side.BUY, 100, 5), cancel(1, 2)]))
    assert struct.unpack_from("<4sHHII", frame) == (b"RGXF", FRAME_VERSION, RECORD_VERSION, 72, 2)
    assert struct.unpack_from("<I", frame, len(frame) - 4)[0] == zlib.crc32(frame[:-4])


def test_decode_is_a_read_only_view_without_copy(registry):
    frame = encode_frame(stream_commands(registry, 10))
    decoded = decode_frame(frame)
    assert np.shares_memory(decoded, np.frombuffer(frame, dtype=np.uint8))
    assert not decoded.flags.writeable
    ring_slots = np.zeros(10, dtype=COMMAND_DTYPE)
    ring_slots[:] = decoded
    assert ring_slots.tobytes() == decoded.tobytes()


def test_empty_frame_round_trips():
    assert len(decode_frame(encode_frame(np.zeros(0, dtype=COMMAND_DTYPE)))) == 0


def test_encode_refuses_other_arrays():
    with pytest.raises(TypeError):
        encode_frame(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError):
        encode_frame(np.zeros((2, 2), dtype=COMMAND_DTYPE))


def _reframe(header_fields=None, records=b"", crc=None, tail=b""):
    magic, frame_version, record_version, record_size, count = header_fields
    header = struct.pack("<4sHHII", magic, frame_version, record_version, record_size, count)
    body = header + records
    return body + struct.pack("<I", zlib.crc32(body) if crc is None else crc) + tail


GOOD = (b"RGXF", FRAME_VERSION, RECORD_VERSION, 72, 1)
RECORD = new(1, 2, Side.BUY, 100, 5).tobytes()

FRAME_REJECTIONS = [
    ("short header", b"RGXF\x01\x00", "header", "truncated"),
    ("empty", b"", "header", "truncated"),
    ("bad magic", _reframe((b"RGXG",) + GOOD[1:], RECORD), "magic", "expected b'RGXF'"),
    ("json", b'{"type":"new","pair":"BTC-USDT"}', "magic", "expected"),
    ("frame version", _reframe(GOOD[:1] + (2,) + GOOD[2:], RECORD), "frame_version",
     "unsupported"),
    ("record version", _reframe(GOOD[:2] + (RECORD_VERSION + 1,) + GOOD[3:], RECORD),
     "record_version", "unsupported"),
    ("record size", _reframe(GOOD[:3] + (64, 1), RECORD[:64]), "record_size", "72"),
    ("count over max", _reframe(GOOD[:4] + (65_537,), RECORD), "count", "exceeds the limit"),
    ("truncated record", _reframe(GOOD, RECORD)[:-5], "length", "truncated"),
    ("count too high", _reframe(GOOD[:4] + (2,), RECORD), "length", "truncated"),
    ("trailing bytes", _reframe(GOOD, RECORD, tail=b"\x00"), "length", "trailing"),
    ("count too low", _reframe(GOOD[:4] + (0,), RECORD), "length", "trailing"),
    ("bad crc", _reframe(GOOD, RECORD, crc=12345), "crc32", "mismatch"),
    ("flipped record byte", _reframe(GOOD, RECORD)[:20] + b"\xff" + _reframe(GOOD, RECORD)[21:],
     "crc32", "mismatch"),
    ("not bytes", "RGXF", "payload", "expected bytes"),
]


@pytest.mark.parametrize("payload, field, fragment", [row[1:] for row in FRAME_REJECTIONS],
                         ids=[row[0] for row in FRAME_REJECTIONS])
def test_frame_rejection_names_the_field(payload, field, fragment):
    with pytest.raises(ValidationError) as error:
        decode_frame(payload)
    assert error.value.field == field
    assert fragment in error.value.message


def test_max_records_is_configurable():
    frame = encode_frame(pack([cancel(1, 2)] * 3))
    assert len(decode_frame(frame, max_records=3)) == 3
    with pytest.raises(ValidationError) as error:
        decode_frame(frame, max_records=2)
    assert error.value.field == "count"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 16 + 72 * 2 + 3), st.integers(1, 255))
def test_any_corrupted_byte_is_rejected(position, flip):
    frame = bytearray(encode_frame(pack([new(1, 2, Side.BUY, 100, 5), cancel(1, 2)])))
    frame[position] ^= flip
    with pytest.raises(ValidationError):
        decode_frame(bytes(frame))


# ---------------------------------------------------------------- record checks

VALID = {
    "new": lambda: new(7, 3, Side.BUY, 6_500_000, 10),
    "market": lambda: new(7, 3, Side.SELL, 0, 10, type=OrderType.MARKET, tif=TimeInForce.IOC),
    "cancel": lambda: cancel(7, 3),
    "cancel by client id": lambda: _with(cancel(0, 3), client_order_id=9),
    "amend": lambda: amend(7, 3, 6_500_001, 10),
    "cancel_all": lambda: cancel_all(3),
    "cancel_all one pair": lambda: cancel_all(3, pair=2),
    "set_status": lambda: set_status(1, 2),
}


def _with(record, **fields):
    record = record.copy()
    for name, value in fields.items():
        record[name] = value
    return record


def test_valid_commands_pass(registry):
    assert check_commands(pack(make() for make in VALID.values()), registry).tolist() == [0] * 8


RECORD_REJECTIONS = [
    ("kind 0", "cancel", {"kind": 0}, Reason.INVALID_COMMAND, "kind"),
    ("kind 9", "new", {"kind": 9}, Reason.INVALID_COMMAND, "kind"),
    ("reserved", "new", {"_reserved": 1}, Reason.INVALID_COMMAND, "_reserved"),
    ("pair 3", "new", {"pair_id": 3}, Reason.UNKNOWN_PAIR, "pair_id"),
    ("pair -1 on new", "new", {"pair_id": -1}, Reason.UNKNOWN_PAIR, "pair_id"),
    ("pair -2 on cancel_all", "cancel_all", {"pair_id": -2}, Reason.UNKNOWN_PAIR, "pair_id"),
    ("pair on set_status", "set_status", {"pair_id": 9}, Reason.UNKNOWN_PAIR, "pair_id"),
    ("new order_id 0", "new", {"order_id": 0}, Reason.INVALID_ORDER_ID, "order_id"),
    ("cancel without target", "cancel", {"order_id": 0}, Reason.INVALID_ORDER_ID, "order_id"),
    ("amend negative order_id", "amend", {"order_id": -4}, Reason.INVALID_ORDER_ID, "order_id"),
    ("account 0", "new", {"account": 0}, Reason.INVALID_ACCOUNT, "account"),
    ("cancel_all account", "cancel_all", {"account": -1}, Reason.INVALID_ACCOUNT, "account"),
    ("negative client id", "new", {"client_order_id": -1}, Reason.INVALID_COMMAND,
     "client_order_id"),
    ("side 0", "new", {"side": 0}, Reason.INVALID_SIDE, "side"),
    ("side 3", "new", {"side": 3}, Reason.INVALID_SIDE, "side"),
    ("type 3", "new", {"order_type": 3}, Reason.INVALID_TYPE, "order_type"),
    ("tif 4", "new", {"tif": 4}, Reason.INVALID_TIF, "tif"),
    ("market gtc", "market", {"tif": TimeInForce.GTC}, Reason.INVALID_TIF, "tif"),
    ("flag bit 2", "new", {"flags": 2}, Reason.INVALID_FLAGS, "flags"),
    ("post-only ioc", "new", {"flags": 1, "tif": TimeInForce.IOC}, Reason.INVALID_FLAGS, "flags"),
    ("post-only market", "market", {"flags": 1}, Reason.INVALID_FLAGS, "flags"),
    ("stp 5", "new", {"stp": 5}, Reason.INVALID_STP, "stp"),
    ("limit price 0", "new", {"price": 0}, Reason.INVALID_PRICE, "price"),
    ("market with price", "market", {"price": 5}, Reason.INVALID_PRICE, "price"),
    ("amend price -1", "amend", {"price": -1}, Reason.INVALID_PRICE, "price"),
    ("below band", "new", {"price": 5_999_999}, Reason.PRICE_OUT_OF_BAND, "price"),
    ("amend above band", "amend", {"price": 7_000_001}, Reason.PRICE_OUT_OF_BAND, "price"),
    ("quantity 0", "new", {"quantity": 0}, Reason.INVALID_QUANTITY, "quantity"),
    ("quantity over max", "amend", {"quantity": 10_000_001}, Reason.INVALID_QUANTITY,
     "quantity"),
    ("market quantity", "market", {"quantity": -5}, Reason.INVALID_QUANTITY, "quantity"),
    ("status 0", "set_status", {"status": 0}, Reason.INVALID_STATUS, "status"),
    ("status 5", "set_status", {"status": 5}, Reason.INVALID_STATUS, "status"),
    ("first failing check wins", "new", {"side": 9, "price": 0}, Reason.INVALID_SIDE, "side"),
]


@pytest.mark.parametrize("base, changes, reason, field", [row[1:] for row in RECORD_REJECTIONS],
                         ids=[row[0] for row in RECORD_REJECTIONS])
def test_record_rejection(registry, base, changes, reason, field):
    bad = _with(VALID[base](), **changes)
    batch = pack([VALID["new"](), bad, VALID["cancel"]()])
    assert check_commands(batch, registry).tolist() == [0, reason, 0]
    errors = command_errors(batch, registry)
    assert [(index, error.field) for index, error in errors] == [(1, f"records[1].{field}")]
    assert reason.name in errors[0][1].message


def test_record_checks_agree_with_the_reference_matcher(registry):
    """On an empty book the stateless checks decide a NEW order alone: a record the edge
    passes is ACCEPTED, one it flags is REJECTED with the same reason."""
    rng = np.random.default_rng(11)
    n = 1500

    def pick(good, bad):
        """Mostly a valid value, sometimes a broken one, so each check gets its turn."""
        return np.where(rng.random(n) < 0.9, rng.choice(good, n), rng.choice(bad, n))

    records = np.zeros(n, dtype=COMMAND_DTYPE)
    records["kind"] = CommandKind.NEW
    records["pair_id"] = pick([0, 1, 2], [-1, 3])
    records["order_id"] = np.arange(1, n + 1) * pick([1], [0, -1])
    records["account"] = pick([1, 2], [0, -1])
    records["side"] = pick([1, 2], [0, 3])
    records["order_type"] = pick([1, 1, 2], [0, 3])
    records["tif"] = pick([1, 1, 2, 3], [0, 4])
    records["flags"] = pick([0, 0, 1], [2, 3])
    records["stp"] = pick([0, 1, 4], [5, 6])
    lo = np.array([p.band_lo_ticks for p in registry.pairs])
    hi = np.array([p.band_hi_ticks for p in registry.pairs])
    pair = np.clip(records["pair_id"], 0, 2)
    market = records["order_type"] == OrderType.MARKET
    records["price"] = np.where(market, pick([0], [1]),
                                rng.integers(lo[pair] - 2, hi[pair] + 3) * pick([1], [0, -1]))
    records["quantity"] = pick([1, 2, 3], [0, -1])
    reasons = check_commands(records, registry)
    assert 0.1 < np.mean(reasons == 0) < 0.6, "the sample must exercise both outcomes"
    assert len(set(reasons.tolist())) >= 10, "most checks must fail at least once"
    for record, reason in zip(records, reasons):
        matcher = ReferenceMatcher(registry.pairs)
        first = matcher.process(record.reshape(1))[0]
        if reason == 0:
            assert first["kind"] == EventKind.ACCEPTED, record
        else:
            assert (first["kind"], first["reason"]) == (EventKind.REJECTED, reason), record
