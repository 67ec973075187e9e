"""JSON commands in: the Go design's payload, the native format, exact numbers, and one
rejection per rule, each naming its field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ringex.errors import ValidationError
from ringex.records import (
    ALL_PAIRS,
    COMMAND_DTYPE,
    CommandKind,
    OrderFlag,
    OrderType,
    PairStatus,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)
from ringex.wire import client_id_to_int, decode_command, decode_commands, rejection_reason
from ringex.wire.record_checks import check_commands

ORDER_ID = 1_099_511_627_777  # kafka_order_id(1, 0)
TS = 1_700_000_000_123_456_789
ACCOUNT = 42


class Lit(str):
    """A literal JSON token (a number as written, ``NaN``, ...)."""


def render(value) -> str:
    if isinstance(value, Lit):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


DROP = object()


def with_changes(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".", 1)
            out[outer] = with_changes(out[outer], {inner: value})
        elif value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


SEED_NEW = {"action": "new", "order": {"id": "7f3c", "pair": "BTC-USDT", "side": "BUY",
                                       "type": "LIMIT", "price": "65000.01", "amount": "0.5"}}
SEED_CANCEL = {"action": "cancel", "order": {"id": "7f3c", "pair": "BTC-USDT", "side": "BUY",
                                             "type": "LIMIT", "price": "65000.01",
                                             "amount": "0.5"}}
NEW = {"type": "new", "pair": "BTC-USDT", "side": "buy", "order_type": "limit",
       "price": "65000.01", "quantity": "0.5"}
CANCEL = {"type": "cancel", "pair": "BTC-USDT", "order_id": 12}
AMEND = {"type": "amend", "pair": "BTC-USDT", "order_id": 12, "price": "65000.02",
         "quantity": "0.4"}
CANCEL_ALL = {"type": "cancel_all"}
SET_STATUS = {"type": "set_status", "pair": "BTC-USDT", "status": "halted"}


def decode(message, registry, **kwargs):
    payload = message if isinstance(message, bytes) else render(message).encode()
    kwargs = {"order_id": ORDER_ID, "timestamp_ns": TS, "default_account": ACCOUNT, **kwargs}
    return decode_command(payload, registry, **kwargs)


def fields(record: np.ndarray) -> dict[str, int]:
    assert record.dtype == COMMAND_DTYPE and record.shape == (1,)
    return {name: record[name][0].item() for name in COMMAND_DTYPE.names}


def expected(**changes) -> dict[str, int]:
    base = dict.fromkeys(COMMAND_DTYPE.names, 0)
    base.update(source_partition=-1, source_offset=-1, timestamp_ns=TS, account=ACCOUNT)
    base.update(changes)
    return base


# ---------------------------------------------------------------- the Go design's payload


def test_seed_new_limit_sets_every_field(registry):
    record = decode(SEED_NEW, registry, source_partition=3, source_offset=99)
    assert fields(record) == expected(
        kind=CommandKind.NEW, side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
        pair_id=0, order_id=ORDER_ID, client_order_id=client_id_to_int("7f3c"),
        price=6_500_001, quantity=50_000, source_partition=3, source_offset=99,
    )


def test_seed_numbers_may_be_json_numbers(registry):
    as_numbers = with_changes(SEED_NEW, {"order.price": Lit("65000.01"),
                                         "order.amount": Lit("0.5")})
    assert fields(decode(as_numbers, registry)) == fields(decode(SEED_NEW, registry))


def test_seed_enums_and_pair_spellings_are_case_insensitive(registry):
    loose = with_changes(SEED_NEW, {"action": "NEW", "order.side": "bUy", "order.type": "limit",
                                    "order.pair": "btc/usdt"})
    assert fields(decode(loose, registry)) == fields(decode(SEED_NEW, registry))


@pytest.mark.parametrize("price", [DROP, None, "0", Lit("0"), "0.00"])
def test_seed_market_order_has_no_price_and_defaults_to_ioc(registry, price):
    market = with_changes(SEED_NEW, {"order.type": "MARKET", "order.side": "SELL",
                                     "order.price": price})
    record = fields(decode(market, registry))
    assert (record["order_type"], record["tif"], record["price"], record["side"]) == (
        OrderType.MARKET, TimeInForce.IOC, 0, Side.SELL)


def test_seed_cancel_names_the_order_by_client_id(registry):
    record = fields(decode(SEED_CANCEL, registry))
    assert record == expected(kind=CommandKind.CANCEL, pair_id=0, order_id=0,
                              client_order_id=client_id_to_int("7f3c"))
    minimal = {"action": "cancel", "order": {"id": "7f3c", "pair": "BTC-USDT"}}
    assert fields(decode(minimal, registry)) == record


@pytest.mark.parametrize("seed_id, client_order_id", [
    (17, 17), ("17", 17), (2**63 - 1, 2**63 - 1), ("017", client_id_to_int("017")),
])
def test_seed_integer_ids_map_to_themselves(registry, seed_id, client_order_id):
    message = with_changes(SEED_NEW, {"order.id": seed_id})
    assert fields(decode(message, registry))["client_order_id"] == client_order_id


def test_seed_new_without_id_has_no_client_order_id(registry):
    message = with_changes(SEED_NEW, {"order.id": DROP})
    assert fields(decode(message, registry))["client_order_id"] == 0


def test_pretty_printed_and_escaped_payloads_decode_the_same(registry):
    compact = fields(decode(SEED_NEW, registry))
    pretty = json.dumps(SEED_NEW, indent=2).encode()
    assert fields(decode(pretty, registry)) == compact
    escaped = render(SEED_NEW).replace('"price"', '"pr\\u0069ce"').replace("BUY", "B\\u0055Y")
    assert fields(decode(escaped.encode(), registry)) == compact


# ---------------------------------------------------------------- the native format


def test_native_new_with_every_option(registry):
    message = with_changes(NEW, {"time_in_force": "GTC", "post_only": True, "stp": "Decrement",
                                 "client_order_id": "abc", "account": 9, "version": 1})
    assert fields(decode(message, registry)) == expected(
        kind=CommandKind.NEW, side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
        flags=OrderFlag.POST_ONLY, stp=StpMode.DECREMENT, pair_id=0, account=9,
        order_id=ORDER_ID, client_order_id=client_id_to_int("abc"), price=6_500_001,
        quantity=50_000,
    )


@pytest.mark.parametrize("order_type, tif, expected_tif", [
    ("limit", DROP, TimeInForce.GTC), ("market", DROP, TimeInForce.IOC),
    ("limit", "ioc", TimeInForce.IOC), ("limit", "FOK", TimeInForce.FOK),
    ("market", "fok", TimeInForce.FOK),
])
def test_native_time_in_force_defaults(registry, order_type, tif, expected_tif):
    changes = {"order_type": order_type, "time_in_force": tif}
    if order_type == "market":
        changes["price"] = DROP
    assert fields(decode(with_changes(NEW, changes), registry))["tif"] == expected_tif


@pytest.mark.parametrize("mode", list(StpMode))
def test_native_stp_modes(registry, mode):
    message = with_changes(NEW, {"stp": mode.name.lower()})
    assert fields(decode(message, registry))["stp"] == mode


def test_native_cancel_by_order_id_or_client_id(registry):
    assert fields(decode(CANCEL, registry)) == expected(kind=CommandKind.CANCEL, pair_id=0,
                                                        order_id=12)
    as_string = with_changes(CANCEL, {"order_id": "12", "account": 5})
    assert fields(decode(as_string, registry)) == expected(kind=CommandKind.CANCEL, pair_id=0,
                                                           order_id=12, account=5)
    by_client = with_changes(CANCEL, {"order_id": DROP, "client_order_id": "x-1"})
    assert fields(decode(by_client, registry)) == expected(
        kind=CommandKind.CANCEL, pair_id=0, order_id=0, client_order_id=client_id_to_int("x-1"))


def test_native_amend(registry):
    assert fields(decode(AMEND, registry)) == expected(
        kind=CommandKind.AMEND, pair_id=0, order_id=12, price=6_500_002, quantity=40_000)
    by_client = with_changes(AMEND, {"order_id": DROP, "client_order_id": 77})
    assert fields(decode(by_client, registry)) == expected(
        kind=CommandKind.AMEND, pair_id=0, client_order_id=77, price=6_500_002,
        quantity=40_000)


def test_native_cancel_all(registry):
    assert fields(decode(CANCEL_ALL, registry)) == expected(kind=CommandKind.CANCEL_ALL,
                                                            pair_id=ALL_PAIRS)
    one_pair = {"type": "cancel_all", "pair": "eth/usdt", "account": 8}
    assert fields(decode(one_pair, registry)) == expected(kind=CommandKind.CANCEL_ALL,
                                                          pair_id=1, account=8)


@pytest.mark.parametrize("status", list(PairStatus))
def test_native_set_status(registry, status):
    message = with_changes(SET_STATUS, {"status": status.name.lower(), "pair": "SOL-USDT"})
    assert fields(decode(message, registry)) == expected(kind=CommandKind.SET_STATUS,
                                                         pair_id=2, status=status)


# ---------------------------------------------------------------- exact numbers


@pytest.mark.parametrize("price, ticks", [
    (Lit("0.3"), 3), ("0.3", 3), (Lit("0.7"), 7), (Lit("99999.9"), 999_999),
])
def test_tenths_are_exact(exact_registry, price, ticks):
    # 0.1 + 0.2 != 0.3 and 0.7 / 0.1 == 6.999... in binary floats.
    message = {"type": "new", "pair": "DEC-USD", "side": "buy", "order_type": "limit",
               "price": price, "quantity": price}
    record = fields(decode(message, exact_registry))
    assert (record["price"], record["quantity"]) == (ticks, ticks)


def test_cents_are_exact(registry):
    # float("65000.07") * 100 == 6500006.999999999
    message = with_changes(NEW, {"price": Lit("65000.07")})
    assert fields(decode(message, registry))["price"] == 6_500_007


@pytest.mark.parametrize("quantity", [
    "9007199254740993", Lit("9007199254740993"),          # 2**53 + 1: a float says ...992
    "9223372036854775807", Lit("9223372036854775807"),    # int64 max
])
def test_integers_beyond_float_precision_are_exact(exact_registry, quantity):
    message = {"type": "new", "pair": "BIG-USD", "side": "sell", "order_type": "limit",
               "price": "1", "quantity": quantity}
    assert fields(decode(message, exact_registry))["quantity"] == int(str(quantity))


@pytest.mark.parametrize("literal, fragment", [
    (Lit("65000.010000000000000000000001"), "fractional digits"),  # a float says 65000.01
    ("65000.010000000000000000000001", "fractional digits"),
    (Lit("123456789012345678901234567890"), "overflows int64"),
    (Lit("0.30000000000000004"), "fractional digits"),
])
def test_thirty_digit_numbers_are_never_rounded(registry, literal, fragment):
    with pytest.raises(ValidationError, match=fragment) as error:
        decode(with_changes(NEW, {"price": literal}), registry)
    assert error.value.field == "price"


def test_thirty_digit_quantity_overflows_instead_of_rounding(exact_registry):
    message = {"type": "new", "pair": "BIG-USD", "side": "sell", "order_type": "limit",
               "price": "1", "quantity": Lit("123456789012345678901234567890")}
    with pytest.raises(ValidationError, match="overflows int64") as error:
        decode(message, exact_registry)
    assert error.value.field == "quantity"


def test_steps_that_are_not_powers_of_ten(exact_registry):
    message = {"type": "new", "pair": "NICKEL-USD", "side": "buy", "order_type": "limit",
               "price": "12.35", "quantity": Lit("75")}
    record = fields(decode(message, exact_registry))
    assert (record["price"], record["quantity"]) == (247, 3)
    with pytest.raises(ValidationError, match="not a multiple of 0.05"):
        decode(with_changes(message, {"price": "12.31"}), exact_registry)


# ---------------------------------------------------------------- every rejection

BIG = "x" * (64 * 1024)

REJECTIONS = [
    # (id, payload, field, message fragment)
    ("not json", b"not json", "payload", "malformed"),
    ("empty", b"", "payload", "malformed"),
    ("array", b"[]", "payload", "Expected `object`"),
    ("trailing", render(NEW).encode() + b" {}", "payload", "malformed"),
    ("oversize", render(with_changes(NEW, {"client_order_id": BIG})).encode(), "payload",
     "exceeds the limit of 65536"),
    ("utf8 in string", render(NEW).replace("limit", "lim\udcffit", 1).encode(
        "utf-8", "surrogateescape"), "payload", "invalid UTF-8"),
    ("utf8 in raw price", render(NEW).replace("65000.01", "6500\udcff", 1).encode(
        "utf-8", "surrogateescape"), "payload", "invalid UTF-8"),
    ("NaN", with_changes(NEW, {"price": Lit("NaN")}), "payload", "malformed"),
    ("Infinity", with_changes(NEW, {"quantity": Lit("Infinity")}), "payload", "malformed"),
    ("-Infinity", with_changes(NEW, {"price": Lit("-Infinity")}), "payload", "malformed"),
    ("NaN string", with_changes(NEW, {"price": "NaN"}), "price", "not a finite number"),
    ("Infinity string", with_changes(NEW, {"quantity": "Infinity"}), "quantity",
     "not a finite number"),
    ("duplicate key", render(NEW).replace('"side"', '"quantity":"1","side"').encode(),
     "quantity", "duplicate key"),
    ("duplicate escaped key", render(NEW).replace('"side"', '"pr\\u0069ce":"1","side"').encode(),
     "price", "duplicate key"),
    ("duplicate key spaced", render(NEW).replace('"side"', '"side" : "sell", "side"').encode(),
     "side", "duplicate key"),
    ("duplicate nested key", render(SEED_NEW).replace('"amount"', '"amount":"1","amount"')
     .encode(), "order.amount", "duplicate key"),
    ("duplicate action", render(SEED_NEW).replace('"order"', '"action":"new","order"').encode(),
     "action", "duplicate key"),
    ("unknown field", with_changes(NEW, {"leverage": 3}), "leverage", "unknown field"),
    ("unknown nested field", with_changes(SEED_NEW, {"order.qty": "1"}), "order.qty",
     "unknown field"),
    ("native key in seed", with_changes(SEED_NEW, {"quantity": "1"}), "quantity",
     "not a field of the envelope format"),
    ("seed key in native", with_changes(NEW, {"order": {}}), "action", "missing"),
    # native: envelope
    ("missing type", with_changes(NEW, {"type": DROP}), "type", "missing"),
    ("unknown type", with_changes(NEW, {"type": "replace"}), "type", "is not one of"),
    ("type not a string", with_changes(NEW, {"type": 1}), "type", "Expected `str"),
    ("version 2", with_changes(NEW, {"version": 2}), "version", "unsupported version"),
    ("version string", with_changes(NEW, {"version": "1"}), "version", "Expected `int"),
    # native: new
    ("missing pair", with_changes(NEW, {"pair": DROP}), "pair", "missing"),
    ("unknown pair", with_changes(NEW, {"pair": "XRP-USDT"}), "pair", "unknown pair"),
    ("pair not a string", with_changes(NEW, {"pair": 0}), "pair", "Expected `str"),
    ("missing side", with_changes(NEW, {"side": DROP}), "side", "missing"),
    ("bad side", with_changes(NEW, {"side": "hold"}), "side", "is not one of BUY/SELL"),
    ("full-width side", with_changes(NEW, {"side": "ＢＵＹ"}), "side", "is not one of"),
    ("side null", with_changes(NEW, {"side": None}), "side", "got `null`"),
    ("missing order_type", with_changes(NEW, {"order_type": DROP}), "order_type", "missing"),
    ("bad order_type", with_changes(NEW, {"order_type": "stop"}), "order_type", "is not one of"),
    ("limit without price", with_changes(NEW, {"price": DROP}), "price", "missing"),
    ("limit with null price", with_changes(NEW, {"price": None}), "price", "missing"),
    ("price bool", with_changes(NEW, {"price": True}), "price", "decimal string or a JSON number"),
    ("price object", with_changes(NEW, {"price": {}}), "price", "decimal string or a JSON number"),
    ("negative price", with_changes(NEW, {"price": Lit("-65000.01")}), "price", "signs"),
    ("negative price string", with_changes(NEW, {"price": "-65000.01"}), "price", "signs"),
    ("exponent price", with_changes(NEW, {"price": Lit("6.5e4")}), "price", "exponent"),
    ("too many digits", with_changes(NEW, {"price": "65000.001"}), "price", "fractional digits"),
    ("off tick trailing zero", with_changes(NEW, {"price": "65000.010"}), "price",
     "fractional digits"),
    ("below band", with_changes(NEW, {"price": "59999.99"}), "price", "outside the band"),
    ("zero price", with_changes(NEW, {"price": "0"}), "price", "greater than zero"),
    ("price whitespace", with_changes(NEW, {"price": " 65000.01"}), "price", "whitespace"),
    ("price empty", with_changes(NEW, {"price": ""}), "price", "empty"),
    ("price 65 chars", with_changes(NEW, {"price": "1" * 65}), "price", "longer than 64"),
    ("market with price", with_changes(NEW, {"order_type": "market", "price": "65000.00"}),
     "price", "takes no price"),
    ("missing quantity", with_changes(NEW, {"quantity": DROP}), "quantity", "missing"),
    ("zero quantity", with_changes(NEW, {"quantity": Lit("0")}), "quantity", "greater than zero"),
    ("quantity above max", with_changes(NEW, {"quantity": "100.00001"}), "quantity", "outside"),
    ("quantity digits", with_changes(NEW, {"quantity": "0.000001"}), "quantity",
     "fractional digits"),
    ("bad time_in_force", with_changes(NEW, {"time_in_force": "day"}), "time_in_force",
     "is not one of"),
    ("market gtc", with_changes(NEW, {"order_type": "market", "price": DROP,
                                      "time_in_force": "gtc"}), "time_in_force", "MARKET"),
    ("post_only ioc", with_changes(NEW, {"post_only": True, "time_in_force": "ioc"}),
     "post_only", "GTC LIMIT"),
    ("post_only market", with_changes(NEW, {"post_only": True, "order_type": "market",
                                            "price": DROP}), "post_only", "GTC LIMIT"),
    ("post_only string", with_changes(NEW, {"post_only": "yes"}), "post_only", "Expected `bool"),
    ("bad stp", with_changes(NEW, {"stp": "sometimes"}), "stp", "is not one of"),
    ("empty client id", with_changes(NEW, {"client_order_id": ""}), "client_order_id", "empty"),
    ("long client id", with_changes(NEW, {"client_order_id": "a" * 65}), "client_order_id",
     "longer than 64"),
    ("non-ascii client id", with_changes(NEW, {"client_order_id": "é"}), "client_order_id",
     "printable ASCII"),
    ("control char client id", with_changes(NEW, {"client_order_id": "a\tb"}),
     "client_order_id", "printable ASCII"),
    ("zero client id", with_changes(NEW, {"client_order_id": 0}), "client_order_id", "1 .. 2**63"),
    ("negative client id", with_changes(NEW, {"client_order_id": -3}), "client_order_id",
     "1 .. 2**63"),
    ("huge client id", with_changes(NEW, {"client_order_id": 2**63}), "client_order_id",
     "1 .. 2**63"),
    ("float client id", with_changes(NEW, {"client_order_id": Lit("1.5")}), "client_order_id",
     "Expected `int | str"),
    ("zero account", with_changes(NEW, {"account": 0}), "account", "1 .. 2**63"),
    ("negative account", with_changes(NEW, {"account": -1}), "account", "1 .. 2**63"),
    ("huge account", with_changes(NEW, {"account": 2**63}), "account", "1 .. 2**63"),
    ("string account", with_changes(NEW, {"account": "7"}), "account", "Expected `int"),
    ("order_id on new", with_changes(NEW, {"order_id": 5}), "order_id", "not a field of the new command"),
    ("status on new", with_changes(NEW, {"status": "halted"}), "status", "not a field of the new command"),
    # native: cancel / amend / cancel_all / set_status
    ("cancel without target", with_changes(CANCEL, {"order_id": DROP}), "order_id", "missing"),
    ("cancel with both ids", with_changes(CANCEL, {"client_order_id": "a"}), "client_order_id",
     "not both"),
    ("cancel order_id 0", with_changes(CANCEL, {"order_id": 0}), "order_id", "1 .. 2**63"),
    ("cancel order_id text", with_changes(CANCEL, {"order_id": "abc"}), "order_id", "integer"),
    ("cancel order_id leading zero", with_changes(CANCEL, {"order_id": "012"}), "order_id",
     "integer"),
    ("cancel order_id huge", with_changes(CANCEL, {"order_id": 2**63}), "order_id", "integer"),
    ("cancel without pair", with_changes(CANCEL, {"pair": DROP}), "pair", "missing"),
    ("cancel with side", with_changes(CANCEL, {"side": "buy"}), "side", "not a field of the cancel command"),
    ("amend without price", with_changes(AMEND, {"price": DROP}), "price", "missing"),
    ("amend without quantity", with_changes(AMEND, {"quantity": DROP}), "quantity", "missing"),
    ("amend out of band", with_changes(AMEND, {"price": "70000.01"}), "price", "outside the band"),
    ("amend with post_only", with_changes(AMEND, {"post_only": True}), "post_only",
     "not a field of the amend command"),
    ("cancel_all unknown pair", with_changes(CANCEL_ALL, {"pair": "DOGE-USDT"}), "pair",
     "unknown pair"),
    ("cancel_all with order_id", with_changes(CANCEL_ALL, {"order_id": 1}), "order_id",
     "not a field"),
    ("set_status bad status", with_changes(SET_STATUS, {"status": "closed"}), "status",
     "is not one of"),
    ("set_status without status", with_changes(SET_STATUS, {"status": DROP}), "status",
     "missing"),
    ("set_status without pair", with_changes(SET_STATUS, {"pair": DROP}), "pair", "missing"),
    ("set_status with account", with_changes(SET_STATUS, {"account": 1}), "account",
     "not a field"),
    # the Go design's payload
    ("seed bad action", with_changes(SEED_NEW, {"action": "modify"}), "action", "NEW/CANCEL"),
    ("seed without action", with_changes(SEED_NEW, {"action": DROP}), "action", "missing"),
    ("seed without order", with_changes(SEED_NEW, {"order": DROP}), "order", "missing"),
    ("seed order not an object", with_changes(SEED_NEW, {"order": "x"}), "order",
     "Expected `object"),
    ("seed missing pair", with_changes(SEED_NEW, {"order.pair": DROP}), "order.pair", "missing"),
    ("seed unknown pair", with_changes(SEED_NEW, {"order.pair": "BTC-EUR"}), "order.pair",
     "unknown pair"),
    ("seed bad side", with_changes(SEED_NEW, {"order.side": "long"}), "order.side", "BUY/SELL"),
    ("seed missing side", with_changes(SEED_NEW, {"order.side": DROP}), "order.side", "missing"),
    ("seed bad type", with_changes(SEED_NEW, {"order.type": "stop"}), "order.type",
     "LIMIT/MARKET"),
    ("seed missing type", with_changes(SEED_NEW, {"order.type": DROP}), "order.type", "missing"),
    ("seed limit without price", with_changes(SEED_NEW, {"order.price": DROP}), "order.price",
     "missing"),
    ("seed bad price", with_changes(SEED_NEW, {"order.price": "abc"}), "order.price",
     "not a plain decimal"),
    ("seed missing amount", with_changes(SEED_NEW, {"order.amount": DROP}), "order.amount",
     "missing"),
    ("seed zero amount", with_changes(SEED_NEW, {"order.amount": "0"}), "order.amount",
     "greater than zero"),
    ("seed amount array", with_changes(SEED_NEW, {"order.amount": Lit("[1]")}), "order.amount",
     "decimal string or a JSON number"),
    ("seed empty id", with_changes(SEED_NEW, {"order.id": ""}), "order.id", "empty"),
    ("seed zero id", with_changes(SEED_NEW, {"order.id": 0}), "order.id", "1 .. 2**63"),
    ("seed float id", with_changes(SEED_NEW, {"order.id": Lit("1.5")}), "order.id",
     "Expected `int | str"),
    ("seed cancel without id", with_changes(SEED_CANCEL, {"order.id": DROP}), "order.id",
     "missing"),
    ("seed cancel without pair", with_changes(SEED_CANCEL, {"order.pair": DROP}), "order.pair",
     "missing"),
]


@pytest.mark.parametrize("payload, field, fragment",
                         [row[1:] for row in REJECTIONS], ids=[row[0] for row in REJECTIONS])
def test_rejection_names_the_field(registry, payload, field, fragment):
    with pytest.raises(ValidationError) as error:
        decode(payload, registry)
    assert error.value.field == field, str(error.value)
    assert fragment in error.value.message, str(error.value)


def test_max_bytes_is_configurable(registry):
    payload = render(NEW).encode()
    decode(payload, registry, max_bytes=len(payload))
    with pytest.raises(ValidationError, match="exceeds the limit") as error:
        decode(payload, registry, max_bytes=len(payload) - 1)
    assert error.value.field == "payload"


@pytest.mark.parametrize("payload", [None, "{}", 7])
def test_payload_must_be_bytes(registry, payload):
    with pytest.raises(ValidationError) as error:
        decode_command(payload, registry, order_id=1, timestamp_ns=0, default_account=1)
    assert error.value.field == "payload"


@pytest.mark.parametrize("kwargs", [{"order_id": 0}, {"order_id": -1}, {"default_account": 0},
                                    {"order_id": True}])
def test_caller_values_are_checked(registry, kwargs):
    with pytest.raises(ValueError):
        decode(NEW, registry, **kwargs)


@pytest.mark.parametrize("field, reason", [
    ("order.side", Reason.INVALID_SIDE), ("side", Reason.INVALID_SIDE),
    ("order.type", Reason.INVALID_TYPE), ("type", Reason.INVALID_COMMAND),
    ("order.pair", Reason.UNKNOWN_PAIR), ("order.amount", Reason.INVALID_QUANTITY),
    ("payload", Reason.INVALID_COMMAND), ("order.id", Reason.INVALID_COMMAND),
    ("time_in_force", Reason.INVALID_TIF), ("post_only", Reason.INVALID_FLAGS),
])
def test_rejection_reason_by_field(field, reason):
    assert rejection_reason(ValidationError(field, "bad")) == reason


def test_rejection_reason_tells_the_band_apart(registry):
    with pytest.raises(ValidationError) as band:
        decode(with_changes(NEW, {"price": "59999.99"}), registry)
    with pytest.raises(ValidationError) as digits:
        decode(with_changes(NEW, {"price": "1.001"}), registry)
    assert rejection_reason(band.value) == Reason.PRICE_OUT_OF_BAND
    assert rejection_reason(digits.value) == Reason.INVALID_PRICE


# ---------------------------------------------------------------- batches


def test_decode_commands_keeps_good_ones_in_order_and_indexes_the_bad(registry):
    payloads = [render(SEED_NEW).encode(), b"{", render(CANCEL).encode(),
                render(with_changes(NEW, {"side": "x"})).encode(), render(SET_STATUS).encode()]
    ids = [101, 102, 103, 104, 105]
    good, errors = decode_commands(payloads, registry, order_ids=ids, timestamp_ns=TS,
                                   default_account=ACCOUNT, source_partition=[0, 0, 1, 1, 2],
                                   source_offsets=[10, 11, 12, 13, 14])
    assert [(index, error.field) for index, error in errors] == [(1, "payload"), (3, "side")]
    assert good["kind"].tolist() == [CommandKind.NEW, CommandKind.CANCEL, CommandKind.SET_STATUS]
    assert good["source_offset"].tolist() == [10, 12, 14]
    assert good["source_partition"].tolist() == [0, 1, 2]
    assert good["order_id"].tolist() == [101, 12, 0]
    for index, row in zip([0, 2, 4], good):
        single = decode(payloads[index], registry, order_id=ids[index],
                        source_partition=row["source_partition"].item(),
                        source_offset=row["source_offset"].item())
        assert single.tobytes() == row.tobytes()


def test_decode_commands_all_bad_gives_an_empty_array(registry):
    good, errors = decode_commands([b"", b"[]"], registry, order_ids=[1, 2], timestamp_ns=0,
                                   default_account=1)
    assert good.dtype == COMMAND_DTYPE and good.shape == (0,)
    assert [index for index, _ in errors] == [0, 1]


def test_decoded_commands_pass_the_edge_record_checks(registry):
    messages = [SEED_NEW, SEED_CANCEL, NEW, CANCEL, AMEND, CANCEL_ALL, SET_STATUS,
                with_changes(NEW, {"order_type": "market", "price": DROP}),
                with_changes(CANCEL, {"order_id": DROP, "client_order_id": "c"})]
    good, errors = decode_commands([render(m).encode() for m in messages], registry,
                                   order_ids=list(range(1, len(messages) + 1)), timestamp_ns=TS,
                                   default_account=ACCOUNT)
    assert errors == []
    assert check_commands(good, registry).tolist() == [0] * len(messages)
