"""Exact decimal <-> units conversion: what is refused, what round-trips, no float anywhere."""

from __future__ import annotations

import ast
import decimal
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ringex
from ringex.decimals import (
    INT64_MAX,
    MAX_INPUT_CHARS,
    check_step,
    format_units,
    parse_decimal,
    step_places,
    to_units,
)
from ringex.errors import ValidationError

CENT = Decimal("0.01")

# (value, step, extra kwargs, fragment of the message)
REJECTED = [
    pytest.param("NaN", CENT, {}, "not a finite number", id="nan"),
    pytest.param("nan", CENT, {}, "not a finite number", id="nan-lower"),
    pytest.param("sNaN", CENT, {}, "not a finite number", id="snan"),
    pytest.param("inf", CENT, {}, "not a finite number", id="inf"),
    pytest.param("Infinity", CENT, {}, "not a finite number", id="infinity"),
    pytest.param("-inf", CENT, {}, "not a finite number", id="minus-inf"),
    pytest.param(Decimal("NaN"), CENT, {}, "not a finite number", id="decimal-nan"),
    pytest.param(Decimal("Infinity"), CENT, {}, "not a finite number", id="decimal-inf"),
    pytest.param("+1", CENT, {}, "signs", id="plus"),
    pytest.param("-1", CENT, {}, "signs", id="minus"),
    pytest.param("-0", CENT, {"allow_zero": True}, "signs", id="minus-zero"),
    pytest.param(-5, CENT, {}, "signs", id="negative-int"),
    pytest.param(Decimal("-1.5"), CENT, {}, "signs", id="negative-decimal"),
    pytest.param(Decimal("-0"), CENT, {"allow_zero": True}, "signs", id="decimal-minus-zero"),
    pytest.param("0", CENT, {}, "greater than zero", id="zero"),
    pytest.param("0.00", CENT, {}, "greater than zero", id="zero-with-places"),
    pytest.param(0, CENT, {}, "greater than zero", id="zero-int"),
    pytest.param("1e3", CENT, {}, "exponent", id="exp-lower"),
    pytest.param("1E-2", CENT, {}, "exponent", id="exp-upper-negative"),
    pytest.param("1.5e+2", CENT, {}, "exponent", id="exp-fraction"),
    pytest.param(Decimal("1E+3"), CENT, {}, "exponent", id="decimal-positive-exponent"),
    pytest.param(" 1", CENT, {}, "whitespace", id="leading-space"),
    pytest.param("1 ", CENT, {}, "whitespace", id="trailing-space"),
    pytest.param("1\n", CENT, {}, "whitespace", id="trailing-newline"),
    pytest.param("\t1", CENT, {}, "whitespace", id="leading-tab"),
    pytest.param("1_000", CENT, {}, "underscore", id="underscore"),
    pytest.param("\u0661", CENT, {}, "ASCII", id="arabic-indic-one"),
    pytest.param("1\u0660", CENT, {}, "ASCII", id="arabic-indic-zero"),
    pytest.param("\uff11", CENT, {}, "ASCII", id="fullwidth-one"),
    pytest.param("", CENT, {}, "empty", id="empty"),
    pytest.param("1.2.3", CENT, {}, "plain decimal", id="two-dots"),
    pytest.param(".5", CENT, {}, "plain decimal", id="no-integer-part"),
    pytest.param("5.", CENT, {}, "plain decimal", id="no-fraction-digits"),
    pytest.param("01", CENT, {}, "plain decimal", id="leading-zero"),
    pytest.param("0x10", CENT, {}, "plain decimal", id="hex"),
    pytest.param("1,5", CENT, {}, "plain decimal", id="comma"),
    pytest.param("abc", CENT, {}, "plain decimal", id="letters"),
    pytest.param("1" * (MAX_INPUT_CHARS + 1), CENT, {}, "longer than", id="too-long"),
    pytest.param(Decimal("1" * (MAX_INPUT_CHARS + 1)), CENT, {}, "digits", id="decimal-too-long"),
    pytest.param("1.001", CENT, {}, "3 fractional digits; at most 2", id="too-many-places"),
    pytest.param("1.000", CENT, {}, "3 fractional digits; at most 2", id="trailing-zero-places"),
    pytest.param("1.5", Decimal("1"), {}, "at most 0", id="fraction-on-integral-step"),
    pytest.param(Decimal("1.500"), CENT, {}, "3 fractional digits", id="decimal-too-many-places"),
    pytest.param("1.02", Decimal("0.05"), {}, "not a multiple of 0.05", id="not-multiple"),
    pytest.param("15", Decimal("10"), {}, "not a multiple of 10", id="not-multiple-of-ten"),
    pytest.param(7, Decimal("0.25"), {"max_units": 20}, "maximum 5.00", id="caller-max"),
    pytest.param("92233720368547758.08", CENT, {}, "overflows int64", id="int64-plus-one"),
    pytest.param("9" * 40, CENT, {}, "overflows int64", id="huge"),
    pytest.param(2**300, CENT, {}, "overflows int64", id="huge-int"),
    pytest.param(1.5, CENT, {}, "floats are not accepted", id="float"),
    pytest.param(float("nan"), CENT, {}, "floats are not accepted", id="float-nan"),
    pytest.param(np.float64(2.0), CENT, {}, "floats are not accepted", id="numpy-float"),
    pytest.param(np.float32(2.0), CENT, {}, "floats are not accepted", id="numpy-float32"),
    pytest.param(Fraction(1, 2), CENT, {}, "floats are not accepted", id="fraction"),
    pytest.param(True, CENT, {}, "boolean", id="bool"),
    pytest.param(None, CENT, {}, "NoneType", id="none"),
    pytest.param(b"1.00", CENT, {}, "bytes", id="bytes"),
]


@pytest.mark.parametrize("value, step, kwargs, fragment", REJECTED)
def test_rejections_name_the_field(value, step, kwargs, fragment):
    with pytest.raises(ValidationError) as caught:
        to_units(value, step, field="price", **kwargs)
    assert caught.value.field == "price"
    assert fragment in caught.value.message
    assert str(caught.value).startswith("price: ")


# (value, step, units, canonical text)
ACCEPTED = [
    ("123.45", CENT, 12345, "123.45"),
    ("123.4", CENT, 12340, "123.40"),
    ("123", CENT, 12300, "123.00"),
    ("0.01", CENT, 1, "0.01"),
    ("0.00001", Decimal("0.00001"), 1, "0.00001"),
    ("0.15", Decimal("0.05"), 3, "0.15"),
    ("1.75", Decimal("0.25"), 7, "1.75"),
    ("30", Decimal("10"), 3, "30"),
    ("7", Decimal("1"), 7, "7"),
    (7, Decimal("0.5"), 14, "7.0"),
    (np.int64(3), CENT, 300, "3.00"),
    (Decimal("1.5"), Decimal("0.1"), 15, "1.5"),
    (Decimal("2"), CENT, 200, "2.00"),
    ("92233720368547758.07", CENT, INT64_MAX, "92233720368547758.07"),
    ("9223372036854775807", Decimal("1"), INT64_MAX, "9223372036854775807"),
    ("0.000000000000000001", Decimal("0.000000000000000001"), 1, "0.000000000000000001"),
]


@pytest.mark.parametrize("value, step, units, canonical", ACCEPTED)
def test_exact_round_trip(value, step, units, canonical):
    got = to_units(value, step, field="quantity")
    assert type(got) is int
    assert got == units
    assert format_units(got, step) == canonical
    assert to_units(canonical, step, field="quantity") == units


def test_zero_only_when_allowed():
    assert to_units("0", CENT, field="fee", allow_zero=True) == 0
    assert to_units("0.00", CENT, field="fee", allow_zero=True) == 0
    assert format_units(0, CENT) == "0.00"


def test_caller_max_is_inclusive():
    assert to_units("5.00", Decimal("0.25"), field="q", max_units=20) == 20
    with pytest.raises(ValidationError):
        to_units("5.25", Decimal("0.25"), field="q", max_units=20)


@pytest.mark.parametrize(
    "step, expected, places",
    [
        ("0.01", Decimal("0.01"), 2),
        ("0.010", Decimal("0.01"), 2),
        (Decimal("0.0500"), Decimal("0.05"), 2),
        ("10", Decimal("10"), 0),
        (Decimal("1E+1"), Decimal("10"), 0),
        (1, Decimal("1"), 0),
    ],
)
def test_check_step_normalizes(step, expected, places):
    normal = check_step(step)
    assert normal == expected
    assert str(normal) == str(expected)  # no exponent form
    assert step_places(normal) == places


@pytest.mark.parametrize(
    "step, fragment",
    [
        ("0", "greater than zero"),
        (Decimal("0"), "greater than zero"),
        (Decimal("-0.01"), "positive"),
        (Decimal("NaN"), "positive"),
        ("0.0000000000000000001", "more than 18 fractional digits"),
        ("10000000000000000000", "at most 10**18"),
        (0.01, "floats are not accepted"),
    ],
)
def test_check_step_rejects(step, fragment):
    with pytest.raises(ValidationError) as caught:
        check_step(step, field="tick_size")
    assert caught.value.field == "tick_size"
    assert fragment in caught.value.message


@pytest.mark.parametrize("units", [-1, INT64_MAX + 1, 1.0, True, "5"])
def test_format_units_rejects_non_int64(units):
    with pytest.raises(ValidationError) as caught:
        format_units(units, CENT)
    assert caught.value.field == "units"


def test_parse_decimal_is_exact():
    assert parse_decimal("0.1", field="x") == Decimal(1) / Decimal(10)
    assert parse_decimal("1" * MAX_INPUT_CHARS, field="x") == Decimal("1" * MAX_INPUT_CHARS)


def test_independent_of_the_global_context():
    """A hostile global context (3 digits, nothing trapped) must change nothing."""
    hostile = decimal.Context(prec=3, rounding=decimal.ROUND_DOWN, traps=[])
    with decimal.localcontext(hostile):
        assert to_units("92233720368547758.07", CENT, field="price") == INT64_MAX
        assert format_units(INT64_MAX, CENT) == "92233720368547758.07"
        assert check_step("0.123456789012345678") == Decimal("0.123456789012345678")
        with pytest.raises(ValidationError):
            to_units("12345.678", CENT, field="price")
        with pytest.raises(ValidationError):
            to_units("abc", CENT, field="price")


def test_absurd_input_is_bounded_before_parsing():
    text = "1" * 5_000_000
    started = time.perf_counter()
    with pytest.raises(ValidationError, match="longer than"):
        to_units(text, CENT, field="price")
    assert time.perf_counter() - started < 0.05


def test_no_float_in_the_conversion_modules():
    """``float`` may appear only as the type being refused, and no float literal exists."""
    package = Path(ringex.__file__).parent
    for module in ("decimals.py", "pairs.py"):
        tree = ast.parse((package / module).read_text())
        refused = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                refused.update(id(sub) for sub in ast.walk(node.args[1]))
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), module
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "float":
                assert id(node) in refused, f"{module}:{node.lineno} uses float"


# --- properties -------------------------------------------------------------------------------

STEPS = [
    "0.01", "0.00001", "0.0001", "0.001", "0.05", "0.25", "0.5", "1", "10", "0.000000000000000001"
]


def _spell(scaled: int, places: int, trim: int) -> str:
    """``scaled / 10**places`` written plainly, with up to ``trim`` trailing zeros dropped."""
    digits = str(scaled).rjust(places + 1, "0")
    whole, fraction = digits[: len(digits) - places], digits[len(digits) - places :]
    trimmed = fraction[: len(fraction) - min(trim, len(fraction) - len(fraction.rstrip("0")))]
    return f"{whole}.{trimmed}" if trimmed else whole


def _canonical(text: str, places: int) -> str:
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(places, '0')}" if places else whole


@settings(max_examples=300, deadline=None)
@given(
    step_text=st.sampled_from(STEPS),
    units=st.integers(min_value=1, max_value=INT64_MAX),
    trim=st.integers(min_value=0, max_value=20),
)
def test_round_trip_property(step_text, units, trim):
    whole, _, fraction = step_text.partition(".")
    places, step_scaled = len(fraction), int(whole + fraction)
    text = _spell(units * step_scaled, places, trim)
    step = Decimal(step_text)

    got = to_units(text, step, field="price")
    assert type(got) is int and got == units
    formatted = format_units(got, step)
    assert type(formatted) is str
    assert formatted == _canonical(text, places)


@settings(max_examples=200, deadline=None)
@given(
    step_text=st.sampled_from(["0.05", "0.25", "10"]),
    units=st.integers(min_value=0, max_value=10**12),
    offset=st.integers(min_value=1, max_value=24),
)
def test_non_multiples_are_refused(step_text, units, offset):
    whole, _, fraction = step_text.partition(".")
    places, step_scaled = len(fraction), int(whole + fraction)
    remainder = 1 + offset % (step_scaled - 1)  # in 1 .. step_scaled - 1
    text = _spell(units * step_scaled + remainder, places, 0)
    with pytest.raises(ValidationError) as caught:
        to_units(text, Decimal(step_text), field="quantity")
    assert caught.value.field == "quantity"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80) | st.from_regex(r"[0-9.eE+\-_ ]{0,30}", fullmatch=True))
def test_arbitrary_text_gives_an_int_or_a_validation_error(text):
    try:
        units = to_units(text, CENT, field="price", allow_zero=True)
    except ValidationError as error:
        assert error.field == "price"
    else:
        assert type(units) is int and 0 <= units <= INT64_MAX
        assert text.isascii() and text.replace(".", "", 1).isdigit()
