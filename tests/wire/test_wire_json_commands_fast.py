"""The compiled JSON decoder answers exactly as the reference decoder: the same record for
every message the reference accepts, the same ValidationError (field and message) for every
one it refuses, alone or in a batch.

Messages are drawn near the edge of validity: each field from valid values in several
spellings and near misses (case, ``/`` pair names, JSON numbers for prices, too many
decimals, out of band, 0, int64 max and one past it, leading zeros, exponents, escapes,
non-ASCII, nulls, nested objects), with keys dropped, repeated or unknown, and whitespace
in every gap; then some bytes are mutated.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringex.errors import ValidationError
from ringex.pairs import PairRegistry, default_pairs
from ringex.records import COMMAND_DTYPE
from ringex.wire.json_commands import decode_batch, decode_command, decode_commands
from ringex.wire.json_commands_fallback import (
    decode_command_reference,
    decode_commands_reference,
)
from ringex.wire.json_messages import DEFAULT_MAX_BYTES
from ringex.wire.units import registry_units

INT64_MAX = 2**63 - 1


class Literal(str):
    """A value written into the JSON as-is (a number's text, or deliberate garbage)."""


class Members(list):
    """``[(key, value)]`` written as a JSON object, keys in order, repeats kept."""


def _wide_registry() -> PairRegistry:
    return PairRegistry.from_configs([
        {"name": "HUGE-TICK", "tick_size": "123456789012345678.123456789012345678",
         "lot_size": "0.000000000000000001", "min_qty": "0.000000000000000001",
         "max_qty": "1", "price_band": ["123456789012345678.123456789012345678"] * 2},
        {"name": "DEC-USD", "tick_size": "0.1", "lot_size": "0.1", "min_qty": "0.1",
         "max_qty": "100000", "price_band": ["0.1", "100000"]},
        {"name": "BIG-USD", "tick_size": "1", "lot_size": "1", "min_qty": "1",
         "max_qty": "9223372036854775807", "price_band": ["1", "1"]},
        {"name": "NICKEL-USD", "tick_size": "0.05", "lot_size": "25", "min_qty": "25",
         "max_qty": "1000000", "price_band": ["0.05", "1000"]},
    ])


REGISTRIES = [default_pairs(), _wide_registry()]

PAIRS = st.sampled_from([
    "BTC-USDT", "btc-usdt", "Eth/Usdt", "SOL/USDT", "sol-usdt", "DEC-USD", "dec/usd",
    "BIG-USD", "NICKEL-USD", "huge-tick", "DOGE-USDT", "BTC_USDT", "BTC--USDT", "", "BTC-",
    "BTC-USDT ", "b\u00e9c-usdt", "BTC-BTC",
])
DECIMALS = st.one_of(
    st.sampled_from([
        "65000.01", "65000", "65000.1", "65000.10", "65000.001", "2500.00", "150.000", "150.5",
        "0.5", "0.50000", "0.000001", "1", "25", "50", "75", "0.05", "0.15", "0.1", "100000",
        "0", "0.0", "00.5", "065000.01", "65000.", ".5", "-1", "+1", "1e3", "1E3", "NaN",
        "9223372036854775807", "9223372036854775808", "99999999999999999999",
        "123456789012345678.123456789012345678", "1 ", " 1", "1_000", "\u0661",
        "999999999999999999", "1000000000000000000",
    ]),
    st.integers(1, 10**6).map(str),
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False).map(str),
)
NUMBER_LITERALS = st.sampled_from(["65000.01", "0.5", "1", "25", "150.000", "1e3", "-0.5",
                                   "0", "2500.00", "1.0", "100000"]).map(Literal)
PRICES = st.one_of(DECIMALS, NUMBER_LITERALS, st.sampled_from([None, True, [], {}]))
IDS = st.one_of(
    st.sampled_from([1, 7, INT64_MAX, INT64_MAX + 1, 0, -1, 2**64, "7", "007", "0",
                     "9223372036854775807", "9223372036854775808", "abc", "x" * 64, "x" * 65,
                     "", "tab\there", "caf\u00e9", 'quo"te', "back\\slash", "12345678901234567890",
                     None, True, 1.5]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
            max_size=12),
    st.integers(1, INT64_MAX),
)
ACCOUNTS = st.sampled_from([1, 5, INT64_MAX, INT64_MAX + 1, 0, -3, "5", 1.0, None])
WORDS = {
    "side": ["buy", "SELL", "Buy", "sell", "x", "", "bu\u00ff"],
    "order_type": ["limit", "MARKET", "Limit", "stop"],
    "time_in_force": ["gtc", "IOC", "fok", "day", "GTC"],
    "stp": ["none", "expire_taker", "EXPIRE_MAKER", "expire_both", "decrement", "bogus"],
    "status": ["trading", "HALTED", "cancel_only", "post_only", "open"],
    "type": ["new", "cancel", "amend", "cancel_all", "set_status", "NEW", "Cancel", "nope"],
    "action": ["new", "cancel", "NEW", "amend", "x"],
}
NATIVE_KEYS = ["type", "version", "pair", "side", "order_type", "price", "quantity",
               "time_in_force", "post_only", "client_order_id", "order_id", "stp", "account",
               "status"]
SEED_KEYS = ["id", "pair", "side", "type", "price", "amount"]


def rare(draw, one_in: int) -> bool:
    """True about once in ``one_in`` draws; False is the simpler (shrunk) answer."""
    return draw(st.sampled_from([False] * (one_in - 1) + [True]))


def _bad(draw, key: str, nested: bool):
    if key == "type" and nested:
        return draw(st.sampled_from(WORDS["order_type"]))
    if key in ("pair",):
        return draw(PAIRS)
    if key in ("price", "quantity", "amount"):
        return draw(PRICES)
    if key in ("client_order_id", "order_id", "id"):
        return draw(IDS)
    if key == "account":
        return draw(ACCOUNTS)
    if key == "version":
        return draw(st.sampled_from([1, 1, 2, 0, Literal("1.0"), "1", None]))
    if key == "post_only":
        return draw(st.sampled_from([True, False, True, None, "true", 1]))
    if key in WORDS:
        return draw(st.sampled_from(WORDS[key]))
    return draw(IDS)


def _spelled(draw, word: str) -> str:
    """``word`` in a random ASCII case."""
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(word, flips))


def _decimal(draw, scale, low: int, high: int):
    """A valid amount of ``scale`` steps in ``[low, high]``, in one of its spellings."""
    units = draw(st.one_of(st.sampled_from([low, high, min(low + 1, high)]),
                           st.integers(low, min(high, low + 10**9)),
                           st.integers(low, high)))
    text = scale.format(units)
    if "." in text and draw(st.booleans()):
        text = text.rstrip("0").rstrip(".")
    return Literal(text) if rare(draw, 4) else text


_GOOD_WORDS = {
    "side": ["buy", "sell"], "order_type": ["limit", "market"],
    "time_in_force": ["gtc", "ioc", "fok"],
    "stp": ["none", "expire_taker", "expire_maker", "expire_both", "decrement"],
    "status": ["trading", "halted", "cancel_only", "post_only"],
}


def _good(draw, key: str, nested: bool, units):
    if key == "pair":
        name = units.pair.name
        return _spelled(draw, name.replace("-", "/") if draw(st.booleans()) else name)
    if key == "price":
        return _decimal(draw, units.price, units.pair.band_lo_ticks, units.pair.band_hi_ticks)
    if key in ("quantity", "amount"):
        return _decimal(draw, units.quantity, units.pair.min_qty_lots, units.pair.max_qty_lots)
    if key in ("client_order_id", "id"):
        return draw(st.one_of(st.integers(1, INT64_MAX), st.integers(1, INT64_MAX).map(str),
                              st.text(alphabet=st.characters(min_codepoint=32,
                                                             max_codepoint=126),
                                      min_size=1, max_size=64)))
    if key == "order_id":
        return draw(st.one_of(st.integers(1, INT64_MAX), st.integers(1, INT64_MAX).map(str)))
    if key == "account":
        return draw(st.integers(1, INT64_MAX))
    if key == "version":
        return 1
    if key == "post_only":
        return draw(st.booleans())
    if key == "type" and nested:
        key = "order_type"
    if key in _GOOD_WORDS:
        return _spelled(draw, draw(st.sampled_from(_GOOD_WORDS[key])))
    return _bad(draw, key, nested)


@st.composite
def members(draw, keys: list[str], likely: list[str], units, nested: bool = False):
    """``[(key, value)]``: the likely keys usually, any key sometimes, some unknown or twice;
    most values valid for ``units`` (a pair), some not."""
    chosen = [key for key in likely if not rare(draw, 20)]
    if rare(draw, 4):
        chosen += draw(st.lists(st.sampled_from(keys), max_size=2))
    if rare(draw, 20):
        chosen.append(draw(st.sampled_from(["x", "Type", "order", "action", "amount"])))
    ordered = draw(st.permutations(chosen)) if draw(st.booleans()) else chosen
    good = not rare(draw, 5)
    return Members(
        (key, _good(draw, key, nested, units) if good and not rare(draw, 30)
         else _bad(draw, key, nested))
        for key in ordered)


@st.composite
def messages(draw, registry):
    units = draw(st.sampled_from(registry_units(registry).by_id))
    if rare(draw, 4):
        kind = draw(st.sampled_from(["new", "cancel"]))
        likely = ["id", "pair", "side", "type", "price", "amount"] if kind == "new" \
            else ["id", "pair"]
        order = draw(members(SEED_KEYS, likely, units, nested=True))
        market = any(key == "type" and str(value).lower() == "market" for key, value in order)
        if market and not rare(draw, 5):
            order = Members(member for member in order if member[0] != "price")
        top = Members([("action", _spelled(draw, kind) if not rare(draw, 20)
                        else draw(st.sampled_from(WORDS["action"]))), ("order", order)])
        if rare(draw, 20):
            top.append(draw(st.sampled_from([("pair", "BTC-USDT"), ("order", []),
                                             ("type", "new")])))
        return top
    kind = draw(st.sampled_from(["new", "new", "new", "cancel", "amend", "cancel_all",
                                 "set_status"]))
    required, optional = {
        "new": (["pair", "side", "order_type", "price", "quantity"],
                ["time_in_force", "post_only", "client_order_id", "stp", "account", "version"]),
        "cancel": (["pair", "order_id"], ["account"]),
        "amend": (["pair", "order_id", "price", "quantity"], ["account"]),
        "cancel_all": ([], ["pair", "account"]), "set_status": (["pair", "status"], ["version"]),
    }[kind]
    if kind in ("cancel", "amend") and draw(st.booleans()):
        required[1] = "client_order_id"
    likely = required + [key for key in optional if draw(st.booleans())]
    body = draw(members(NATIVE_KEYS, likely, units))
    market = any(key == "order_type" and str(value).lower() == "market" for key, value in body)
    if market and not rare(draw, 5):
        body = [member for member in body
                if member[0] != "price" and not (member[0] == "time_in_force"
                                                  and str(member[1]).lower() == "gtc")]
    kind_text = _spelled(draw, kind) if not rare(draw, 20) else draw(
        st.sampled_from(WORDS["type"]))
    return Members([("type", kind_text)] + list(body))


def render(message, spaces) -> str:
    def one(value) -> str:
        if isinstance(value, Literal):
            return str(value)
        if isinstance(value, Members):
            return obj(value)
        return json.dumps(value)

    def obj(pairs) -> str:
        if not pairs:
            return "{" + next(spaces) + "}"
        parts = [f"{next(spaces)}{json.dumps(key)}{next(spaces)}:{next(spaces)}{one(value)}"
                 f"{next(spaces)}" for key, value in pairs]
        return "{" + ",".join(parts) + "}"

    return next(spaces) + obj(message) + next(spaces)


@st.composite
def payloads(draw, registry):
    message = draw(messages(registry))
    style = draw(st.sampled_from(["compact", "compact", "spaced", "random"]))
    if style == "compact":
        spaces = iter(lambda: "", None)
    elif style == "spaced":
        spaces = iter(lambda: " ", None)
    else:
        gaps = draw(st.lists(st.sampled_from(["", "", " ", "\n", "\t ", "\r\n"]), min_size=1))
        spaces = (gaps[k % len(gaps)] for k in range(10**6))
    payload = bytearray(render(message, spaces).encode("utf-8"))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        if payload:
            payload[draw(st.integers(0, len(payload) - 1))] = draw(st.integers(0, 255))
    return bytes(payload)


def outcome(decode, payload, registry, **kwargs):
    try:
        record = decode(payload, registry, order_id=kwargs.get("order_id", 77),
                        timestamp_ns=1_700_000_000_000_000_001, default_account=9,
                        source_partition=3, source_offset=41,
                        max_bytes=kwargs.get("max_bytes", DEFAULT_MAX_BYTES))
    except ValidationError as exc:
        return ("error", exc.field, exc.message)
    assert record.dtype == COMMAND_DTYPE and record.shape == (1,)
    return ("record", record.tobytes())


PROPERTY = settings(max_examples=1500, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(st.sampled_from(REGISTRIES), st.data())
def test_one_message_decodes_as_the_reference_does(registry, data):
    payload = data.draw(payloads(registry))
    assert outcome(decode_command, payload, registry) == \
        outcome(decode_command_reference, payload, registry)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(REGISTRIES), st.data())
def test_a_batch_decodes_as_the_reference_does(registry, data):
    batch = data.draw(st.lists(payloads(registry), max_size=8))
    ids = [data.draw(st.integers(1, INT64_MAX)) for _ in batch]
    offsets = list(range(100, 100 + len(batch)))
    timestamps = [data.draw(st.integers(-(2**63), INT64_MAX)) for _ in batch]
    kwargs = dict(order_ids=ids, timestamp_ns=timestamps, default_account=9,
                  source_partition=5, source_offsets=offsets)
    good, errors = decode_commands(batch, registry, **kwargs)
    expected, expected_errors = decode_commands_reference(batch, registry, **kwargs)
    assert good.tobytes() == expected.tobytes()
    assert [(i, e.field, e.message) for i, e in errors] == \
        [(i, e.field, e.message) for i, e in expected_errors]
    everything, same_errors = decode_batch(batch, registry, **kwargs)
    assert [(i, e.field, e.message) for i, e in same_errors] == \
        [(i, e.field, e.message) for i, e in errors]
    failed = {index for index, _ in errors}
    assert everything[[i for i in range(len(batch)) if i not in failed]].tobytes() == \
        good.tobytes()
    for index in failed:
        stand_in = everything[index]
        assert (stand_in["kind"], stand_in["pair_id"], stand_in["order_id"],
                stand_in["source_offset"], stand_in["timestamp_ns"]) == \
            (0, -1, ids[index], offsets[index], timestamps[index])


@pytest.mark.parametrize("payload", [
    b'{"type":"new","pair":"BTC-USDT","side":"buy","order_type":"limit","price":"65000.01",'
    b'"quantity":"0.5","client_order_id":"abc-1"}',
    b'{"action":"new","order":{"id":"x1","pair":"btc/usdt","side":"BUY","type":"limit",'
    b'"price":65000.01,"amount":"0.5"}}',
    b'{"action":"cancel","order":{"id":12,"pair":"ETH-USDT","side":"sell","price":"1"}}',
    b'{"type":"amend","pair":"SOL-USDT","client_order_id":"007","price":"150.5",'
    b'"quantity":"1.00","account":5,"version":1}',
    b'{"type":"cancel_all"}',
    b' {\n "type" : "set_status" , "pair":"eth-usdt", "status":"HALTED" }\n',
])
def test_the_kernel_decodes_the_usual_messages_itself(registry, payload):
    """Not a fallback in disguise: the kernel decodes these itself."""
    from ringex.wire import json_command_kernel as kernel
    from ringex.wire.json_commands import _pairs, _scratch

    record = np.zeros(1, dtype=COMMAND_DTYPE)
    status = kernel.decode_one(payload, 0, len(payload), DEFAULT_MAX_BYTES, _pairs(registry),
                               77, 9, 3, 41, 1, record, 0, *_scratch())
    assert status == kernel.DECODED
    assert outcome(decode_command, payload, registry) == \
        outcome(decode_command_reference, payload, registry)


@pytest.mark.parametrize("max_bytes", [10, 60, 118, 119, 120])
def test_the_size_limit_is_the_reference_one(registry, max_bytes):
    payload = (b'{"type":"new","pair":"BTC-USDT","side":"buy","order_type":"limit",'
               b'"price":"65000.01","quantity":"0.5"}')
    assert outcome(decode_command, payload, registry, max_bytes=max_bytes) == \
        outcome(decode_command_reference, payload, registry, max_bytes=max_bytes)


def test_other_payload_types_and_caller_errors_match(registry):
    for payload in (bytearray(b'{"type":"cancel_all"}'), memoryview(b'{"type":"cancel_all"}'),
                    None, "{}", 7):
        assert outcome(decode_command, payload, registry) == \
            outcome(decode_command_reference, payload, registry)
    for kwargs in ({"order_id": 0}, {"order_id": True}, {"default_account": 0}):
        arguments = dict(order_id=1, timestamp_ns=0, default_account=1) | kwargs
        with pytest.raises(ValueError):
            decode_command(b'{"type":"cancel_all"}', registry, **arguments)
        with pytest.raises(ValueError):
            decode_batch([b"{}"], registry, order_ids=[arguments["order_id"]], timestamp_ns=0,
                         default_account=arguments["default_account"])


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
               max_size=64))
def test_the_compiled_hash_is_client_id_to_int(text):
    from ringex.wire.blake2b import HASH_WORDS, client_id_hash
    from ringex.wire.ids import client_id_to_int

    canonical = text.isdigit() and text[0] != "0" and len(text) <= 19 and int(text) <= INT64_MAX
    if not canonical:
        words = np.empty(HASH_WORDS, dtype=np.uint64)
        padded = b"{" + text.encode("ascii") + b"}"
        assert client_id_hash(padded, 1, 1 + len(text), words) == client_id_to_int(text)


def test_the_hash_person_is_the_one_ids_uses():
    from ringex.wire import blake2b, ids

    assert blake2b._PERSON == ids._HASH_PERSON
