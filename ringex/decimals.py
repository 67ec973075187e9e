"""Exact conversion between decimal numbers and int64 units (ticks, lots).

Why it exists: the matchers see only int64 ticks and lots. Every number a client or a config
file writes enters through :func:`to_units` and leaves through :func:`format_units`, so this is
the one module that decides what a number may look like. It never produces a float and refuses
to take one.

Accepted input:

* ``str``: JSON's number grammar without sign and without exponent, ASCII only::

      0 | [1-9][0-9]*        optionally followed by   . [0-9]+

  at most :data:`MAX_INPUT_CHARS` characters (checked before anything is parsed).
* ``int`` (and numpy integers); ``bool`` is refused.
* ``decimal.Decimal``, as a JSON parser with ``parse_float=Decimal`` produces it: it must be
  finite, unsigned and carry no positive exponent (``Decimal("1E+3")`` only comes from
  exponent notation). Its fractional digits are those it carries: ``Decimal("1.50")`` has two.

Invariants: all arithmetic runs in the private context :data:`_CONTEXT`, which traps
``Inexact`` and ``Rounded`` so that a lost digit raises instead of passing silently; the
global decimal context is never read. Every error is a :class:`ringex.errors.ValidationError`
naming the caller's field.

Callers: :mod:`ringex.pairs`, the gateway and the CLI. Not the matchers.
"""

from __future__ import annotations

import re
from decimal import (
    Clamped,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
)
from numbers import Integral, Real

from ringex.errors import ValidationError

__all__ = [
    "INT64_MAX",
    "MAX_INPUT_CHARS",
    "MAX_STEP_PLACES",
    "parse_decimal",
    "check_step",
    "step_places",
    "to_units",
    "format_units",
]

INT64_MAX = 2**63 - 1

#: Longest accepted decimal string (and most digits in a ``Decimal``). Checked first, so a
#: megabyte of digits costs one ``len()``.
MAX_INPUT_CHARS = 64

#: A step (tick or lot size) has at most this many fractional digits and is at most 10**18.
MAX_STEP_PLACES = 18

# Inputs are bounded (64 digits, or 256 bits for ints) and steps carry at most 18 places and 18
# integer digits, so no exact result here needs more than ~100 digits. Anything that would
# round raises.
_CONTEXT = Context(
    prec=160,
    Emin=-999_999,
    Emax=999_999,
    traps=[
        InvalidOperation, DivisionByZero, Overflow, Underflow, Subnormal, Inexact, Rounded, Clamped
    ],
)

_PLAIN_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})
_MAX_INT_BITS = 256
_MAX_STEP = Decimal(10) ** MAX_STEP_PLACES


def parse_decimal(value: object, *, field: str) -> Decimal:
    """``value`` as an exact non-negative finite ``Decimal``, or ``ValidationError(field)``.

    Checks syntax only (see the module docstring); zero is allowed here.
    """
    if isinstance(value, bool):
        raise ValidationError(field, "expected a decimal string, got a boolean")
    if isinstance(value, float) or (isinstance(value, Real) and not isinstance(value, Integral)):
        raise ValidationError(
            field, f"floats are not accepted ({value!r}); pass the number as a decimal string"
        )
    if isinstance(value, str):
        return _parse_text(value, field)
    if isinstance(value, Decimal):
        return _check_decimal(value, field)
    if isinstance(value, Integral):
        return _from_int(int(value), field)
    raise ValidationError(
        field, f"expected a decimal string or an integer, got {type(value).__name__}"
    )


def check_step(step: object, *, field: str = "step") -> Decimal:
    """A valid step (tick or lot size) in plain form: ``0 < step <= 10**18``, at most 18 places.

    ``Decimal("0.010")`` becomes ``Decimal("0.01")``; ``Decimal("1E+1")`` becomes ``Decimal("10")``.
    """
    if isinstance(step, Decimal):
        if not step.is_finite() or step.is_signed():
            raise ValidationError(field, f"{step} is not a positive finite number")
    else:
        step = parse_decimal(step, field=field)
    if step == 0:
        raise ValidationError(field, "must be greater than zero")
    if step > _MAX_STEP:
        raise ValidationError(field, f"must be at most 10**{MAX_STEP_PLACES}")
    normal = step.normalize(_CONTEXT)
    places = -normal.as_tuple().exponent
    if places > MAX_STEP_PLACES:
        raise ValidationError(field, f"has more than {MAX_STEP_PLACES} fractional digits")
    if places < 0:
        return _CONTEXT.create_decimal(int(normal))
    return normal


def step_places(step: Decimal) -> int:
    """Number of fractional digits a multiple of ``step`` may need (0 for integral steps)."""
    return _places(check_step(step))


def to_units(
    value: object,
    step: Decimal,
    *,
    field: str,
    allow_zero: bool = False,
    max_units: int = INT64_MAX,
) -> int:
    """The exact number of ``step``s in ``value``, as a Python int in ``0 .. max_units``.

    Rejected (``ValidationError(field, ...)``): anything :func:`parse_decimal` rejects, more
    fractional digits than ``step`` has (trailing zeros count), zero unless ``allow_zero``, a
    value that is not an exact multiple of ``step``, and more than ``min(max_units, INT64_MAX)``
    units.
    """
    step = check_step(step)
    places = _places(step)
    number = parse_decimal(value, field=field)
    written_places = max(0, -number.as_tuple().exponent)
    if written_places > places:
        raise ValidationError(
            field,
            f"{_show(value)} has {written_places} fractional digits; at most {places} allowed",
        )
    if number == 0 and not allow_zero:
        raise ValidationError(field, "must be greater than zero")
    quotient, remainder = _CONTEXT.divmod(number, step)
    if remainder != 0:
        raise ValidationError(field, f"{_show(value)} is not a multiple of {format(step, 'f')}")
    units = int(quotient)
    limit = min(max_units, INT64_MAX)
    if units > limit:
        if limit == INT64_MAX:
            raise ValidationError(field, f"{_show(value)} overflows int64 ({units} units)")
        raise ValidationError(
            field, f"{_show(value)} exceeds the maximum {format_units(limit, step)}"
        )
    return units


def format_units(units: int, step: Decimal) -> str:
    """``units * step`` as a plain decimal string with exactly the step's fractional digits.

    The scale is fixed per step, never trimmed below it and never exponent notation: with step
    ``0.01``, ``12300 -> "123.00"`` and ``5 -> "0.05"``; with step ``10``, ``3 -> "30"``. The
    result is accepted back by :func:`to_units` with the same step.
    """
    if isinstance(units, bool) or not isinstance(units, Integral):
        raise ValidationError("units", f"expected an integer, got {type(units).__name__}")
    units = int(units)
    if units < 0 or units > INT64_MAX:
        raise ValidationError("units", f"{units} is outside 0 .. int64 max")
    step = check_step(step)
    scale = Decimal(1).scaleb(-_places(step), _CONTEXT)
    exact = _CONTEXT.multiply(_CONTEXT.create_decimal(units), step)
    return format(exact.quantize(scale, context=_CONTEXT), "f")


def _places(step: Decimal) -> int:
    return max(0, -step.as_tuple().exponent)


def _parse_text(text: str, field: str) -> Decimal:
    if len(text) > MAX_INPUT_CHARS:
        raise ValidationError(field, f"longer than {MAX_INPUT_CHARS} characters")
    if not text:
        raise ValidationError(field, "must not be empty")
    if text != text.strip():
        raise ValidationError(field, f"{text!r} has leading or trailing whitespace")
    if text.lstrip("+-").lower() in _NOT_FINITE:
        raise ValidationError(field, f"{text!r} is not a finite number")
    if text[0] in "+-":
        raise ValidationError(field, f"{text!r}: signs are not accepted")
    if not text.isascii():
        raise ValidationError(field, f"{text!r}: only ASCII digits are accepted")
    if "_" in text:
        raise ValidationError(field, f"{text!r}: underscores are not accepted")
    if "e" in text or "E" in text:
        raise ValidationError(field, f"{text!r}: exponent notation is not accepted")
    if _PLAIN_DECIMAL.fullmatch(text) is None:
        raise ValidationError(
            field, f"{text!r} is not a plain decimal number (digits, optionally .digits)"
        )
    return _CONTEXT.create_decimal(text)


def _check_decimal(number: Decimal, field: str) -> Decimal:
    if not number.is_finite():
        raise ValidationError(field, f"{number} is not a finite number")
    if number.is_signed():
        raise ValidationError(field, f"{number}: signs are not accepted")
    _, digits, exponent = number.as_tuple()
    if exponent > 0:
        raise ValidationError(field, f"{number}: exponent notation is not accepted")
    if len(digits) > MAX_INPUT_CHARS or -exponent > MAX_INPUT_CHARS:
        raise ValidationError(field, f"more than {MAX_INPUT_CHARS} digits")
    return number


def _from_int(value: int, field: str) -> Decimal:
    if value < 0:
        raise ValidationError(field, f"{value}: signs are not accepted")
    if value.bit_length() > _MAX_INT_BITS:
        raise ValidationError(field, "overflows int64")
    return _CONTEXT.create_decimal(value)


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)
