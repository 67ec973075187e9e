"""JSON events out: pinned shapes, every event of a matcher run parses back to its record, and
the integer formatter equals the Decimal one."""

from __future__ import annotations

import json
from decimal import Context, Decimal, Inexact, Rounded, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringex.decimals import format_units, to_units
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
from ringex.spec.matcher import ReferenceMatcher
from ringex.testing.generator import CommandStream
from ringex.wire import event_json, events_to_json, trade_json, trades_to_json
from ringex.wire.units import StepScale


def event(**fields) -> np.ndarray:
    record = np.zeros(1, dtype=EVENT_DTYPE)
    for name, value in fields.items():
        record[name] = value
    return record


TRADE = event(kind=EventKind.TRADE, seq=41, command_index=17, timestamp_ns=1_700_000_000_123_456_789,
              pair_id=0, side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
              order_status=OrderStatus.PARTIALLY_FILLED, order_id=1_099_511_627_777,
              account=7, client_order_id=99, price=6_500_001, quantity=150_000,
              filled_qty=50_000, leaves_qty=100_000, trade_qty=50_000, maker_order_id=12,
              maker_account=8, maker_quantity=50_000, maker_filled_qty=50_000,
              maker_leaves_qty=0)


def test_trade_shape_is_pinned(registry):
    assert json.loads(trade_json(TRADE, registry)) == {
        "maker_order_id": 12, "taker_order_id": 1_099_511_627_777, "price": "65000.01",
        "amount": "0.50000", "pair": "BTC-USDT", "timestamp": 1_700_000_000_123,
        "quantity": "0.50000", "seq": 41, "taker_side": "BUY", "maker_side": "SELL",
        "maker_account": 8, "taker_account": 7, "maker_leaves": "0.00000",
        "taker_leaves": "1.00000", "command_index": 17,
    }
    assert list(json.loads(trade_json(TRADE[0], registry)))[:6] == [
        "maker_order_id", "taker_order_id", "price", "amount", "pair", "timestamp"]


def test_trade_order_event_shape_is_pinned(registry):
    assert json.loads(event_json(TRADE, registry)) == {
        "seq": 41, "kind": "TRADE", "reason": "NONE", "command_index": 17,
        "timestamp": 1_700_000_000_123, "timestamp_ns": 1_700_000_000_123_456_789,
        "pair": "BTC-USDT", "pair_id": 0, "order_id": 1_099_511_627_777,
        "client_order_id": 99, "account": 7, "side": "BUY", "order_type": "LIMIT",
        "tif": "GTC", "post_only": False, "order_status": "PARTIALLY_FILLED",
        "price": "65000.01", "quantity": "1.50000", "filled_qty": "0.50000",
        "leaves_qty": "1.00000", "trade_qty": "0.50000", "maker_order_id": 12,
        "maker_account": 8, "maker_side": "SELL", "maker_quantity": "0.50000",
        "maker_filled_qty": "0.50000", "maker_leaves_qty": "0.00000",
    }


def test_status_and_mass_cancel_shapes_are_pinned(registry):
    status = event(kind=EventKind.PAIR_STATUS, seq=5, command_index=4, timestamp_ns=2_000_000,
                   pair_id=2, pair_status=PairStatus.CANCEL_ONLY)
    assert json.loads(event_json(status, registry)) == {
        "seq": 5, "kind": "PAIR_STATUS", "reason": "NONE", "command_index": 4, "timestamp": 2,
        "timestamp_ns": 2_000_000, "pair": "SOL-USDT", "pair_id": 2,
        "pair_status": "CANCEL_ONLY"}
    mass = event(kind=EventKind.MASS_CANCELED, seq=9, command_index=8, pair_id=-1, account=3,
                 trade_qty=12)
    assert json.loads(event_json(mass, registry)) == {
        "seq": 9, "kind": "MASS_CANCELED", "reason": "NONE", "command_index": 8, "timestamp": 0,
        "timestamp_ns": 0, "pair": None, "pair_id": -1, "account": 3, "canceled_count": 12}


def test_rejected_garbage_gets_nulls_not_crashes(registry):
    garbage = event(kind=EventKind.REJECTED, reason=Reason.UNKNOWN_PAIR, pair_id=17, side=9,
                    order_type=0, tif=200, flags=3, order_status=OrderStatus.REJECTED,
                    price=-5, quantity=2**63 - 1, leaves_qty=2**63 - 1)
    parsed = json.loads(event_json(garbage, registry))
    assert (parsed["pair"], parsed["side"], parsed["order_type"], parsed["tif"],
            parsed["price"], parsed["quantity"], parsed["post_only"]) == (
        None, None, None, None, None, None, True)
    known_pair = json.loads(event_json(_with(garbage, pair_id=1, reason=Reason.INVALID_PRICE),
                                       registry))
    assert (known_pair["price"], known_pair["quantity"]) == ("-0.05", "922337203685477.5807")


def _with(record, **fields):
    record = record.copy()
    for name, value in fields.items():
        record[name] = value
    return record


def test_trades_refuse_other_kinds(registry):
    with pytest.raises(ValueError, match="not a TRADE"):
        trades_to_json(event(kind=EventKind.ACCEPTED), registry)
    with pytest.raises(TypeError):
        events_to_json(np.zeros(2, dtype=np.int64), registry)


@pytest.fixture(scope="module")
def matcher_events(registry):
    matcher = ReferenceMatcher(registry.pairs)
    stream = CommandStream(registry.pairs, seed=5)
    batches = []
    for _ in range(8):
        events = matcher.process(stream.next_batch(400))
        stream.observe(events)
        batches.append(events)
    events = np.concatenate(batches)
    assert set(events["kind"].tolist()) == {int(kind) for kind in EventKind}
    return events


_ENUMS = {"kind": EventKind, "reason": Reason, "side": Side, "order_type": OrderType,
          "tif": TimeInForce, "order_status": OrderStatus, "pair_status": PairStatus}
_QTY = ("quantity", "filled_qty", "leaves_qty", "trade_qty", "maker_quantity",
        "maker_filled_qty", "maker_leaves_qty")


def test_every_order_event_parses_back_to_its_record(registry, matcher_events):
    for record, text in zip(matcher_events, events_to_json(matcher_events, registry)):
        parsed = json.loads(text)
        pair_id = int(record["pair_id"])
        pair = registry[pair_id] if 0 <= pair_id < len(registry) else None
        seen = set()
        for key, value in parsed.items():
            if key in _ENUMS:
                names = {int(member): member.name for member in _ENUMS[key]}
                assert value == names.get(int(record[key])), key
            elif key in _QTY + ("price",) and pair is None:
                assert value is None, key
            elif key == "price":
                assert to_units(value, pair.tick_size, field=key, allow_zero=True) == record[key]
            elif key in _QTY:
                assert to_units(value, pair.lot_size, field=key, allow_zero=True) == record[key]
            elif key == "pair":
                assert value == (pair.name if pair else None)
            elif key == "timestamp":
                assert value == record["timestamp_ns"] // 1_000_000
            elif key == "post_only":
                assert value == bool(record["flags"] & 1)
            elif key == "canceled_count":
                assert value == record["trade_qty"]
                key = "trade_qty"
            elif key == "maker_side":
                assert value == Side(3 - record["side"]).name
                continue
            else:
                assert value == record[key], key
            seen.add(key)
        seen |= {"flags"} if "post_only" in parsed else set()
        omitted = set(EVENT_DTYPE.names) - seen - {"_reserved"}
        assert all(record[name] == 0 for name in omitted), (parsed, omitted)


def test_every_trade_message_parses_back(registry, matcher_events):
    trades = matcher_events[matcher_events["kind"] == EventKind.TRADE]
    assert len(trades) > 50
    for record, text in zip(trades, trades_to_json(trades, registry)):
        parsed = json.loads(text)
        pair = registry[int(record["pair_id"])]
        lots = lambda key: to_units(parsed[key], pair.lot_size, field=key, allow_zero=True)
        assert (parsed["maker_order_id"], parsed["taker_order_id"], parsed["seq"],
                parsed["maker_account"], parsed["taker_account"], parsed["command_index"]) == (
            record["maker_order_id"], record["order_id"], record["seq"], record["maker_account"],
            record["account"], record["command_index"])
        assert to_units(parsed["price"], pair.tick_size, field="price") == record["price"]
        assert lots("amount") == lots("quantity") == record["trade_qty"]
        assert lots("maker_leaves") == record["maker_leaves_qty"]
        assert lots("taker_leaves") == record["leaves_qty"]
        assert parsed["pair"] == pair.name
        assert {parsed["taker_side"], parsed["maker_side"]} == {"BUY", "SELL"}
        assert parsed["taker_side"] == Side(record["side"]).name


def test_single_and_batch_encoders_agree(registry, matcher_events):
    sample = matcher_events[:200]
    assert [event_json(record, registry) for record in sample] == events_to_json(sample, registry)


STEPS = st.sampled_from(["0.01", "0.00001", "0.05", "25", "1", "0.000000000000000001",
                         "1000000000000000000", "0.25", "7.5"]).map(Decimal)


@settings(max_examples=400, deadline=None)
@given(STEPS, st.integers(-(2**63) + 1, 2**63 - 1))
def test_integer_formatter_equals_decimal(step, units):
    fast = StepScale.of(step).format(units)
    if units >= 0:
        assert fast == format_units(units, step)
    places = max(0, -step.as_tuple().exponent)
    with localcontext(Context(prec=100, traps=[Inexact, Rounded])) as context:
        exact = (Decimal(units) * step).quantize(Decimal(1).scaleb(-places), context=context)
    assert fast == format(exact, "f")
