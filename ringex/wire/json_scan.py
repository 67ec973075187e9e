"""A compiled scanner for the common JSON command: one object, known keys, plain values.

Why it exists: parsing a JSON order with ``msgspec`` and then interpreting the ``Message`` in
Python costs microseconds; the bridge decodes every order. This scanner finds, in the raw
bytes, where each known field's value is, so :mod:`ringex.wire.json_command_kernel` can
interpret it without leaving compiled code.

It accepts a strict subset of JSON and answers ``False`` for anything else, never a wrong
``True``: optional whitespace, one object whose keys are field names of
:class:`ringex.wire.json_messages.Message` (and, inside ``"order"``, of ``EnvelopeOrder``),
each at most once, with string values of printable ASCII without escapes, JSON numbers,
``true``/``false``/``null``, and one nested object only as ``"order"``. A ``False`` sends the
message to the fallback decoder, which accepts or names the problem; so the scanner may
refuse valid JSON (escapes, non-ASCII), but must not accept what ``msgspec`` refuses.

``slots[field]`` receives ``(token, start, end, number_flags)`` (``token`` 0 = absent);
strings span their content without quotes. Allocates nothing; any process may call it.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit
from ringex.wire.json_messages import Message, EnvelopeOrder

__all__ = ["FIELDS", "FIELD_COUNT", "ABSENT", "STRING", "NUMBER", "TRUE", "FALSE", "NULL",
           "OBJECT", "MINUS", "FRACTION", "EXPONENT", "field_id", "scan"]

#: Field ids: the top-level keys in ``Message`` order, then ``order.<key>`` of ``EnvelopeOrder``.
FIELDS: tuple[str, ...] = tuple(Message.__struct_fields__) + tuple(
    f"order.{name}" for name in EnvelopeOrder.__struct_fields__)
FIELD_COUNT = len(FIELDS)
_TOP_COUNT = len(Message.__struct_fields__)
_ORDER = FIELDS.index("order")

ABSENT, STRING, NUMBER, TRUE, FALSE, NULL, OBJECT = range(7)
#: ``number_flags`` bits: a sign, a fraction, an exponent (an integer has none).
MINUS, FRACTION, EXPONENT = 1, 2, 4

_NAMES = [name.rsplit(".", 1)[-1].encode("ascii") for name in FIELDS]
_KEY_TEXT = np.frombuffer(b"".join(_NAMES), dtype=np.uint8).copy()
_KEY_SPANS = np.cumsum([0] + [len(name) for name in _NAMES]).astype(np.int64)


def field_id(name: str) -> int:
    """The slot of a field: ``"price"`` or ``"order.price"``."""
    return FIELDS.index(name)


@njit
def _skip_space(payload, at, end):
    while at < end:
        byte = payload[at]
        if byte != 32 and byte != 9 and byte != 10 and byte != 13:
            break
        at += 1
    return at


@njit
def _string_end(payload, at, end):
    """The index of the closing quote of a string whose content starts at ``at``, or -1 for
    an escape, a control or non-ASCII byte, or no closing quote."""
    while at < end:
        byte = payload[at]
        if byte == 34:
            return at
        if byte < 32 or byte > 126 or byte == 92:
            return -1
        at += 1
    return -1


@njit
def _digits_end(payload, at, end):
    while at < end and 48 <= payload[at] <= 57:
        at += 1
    return at


@njit
def _number_end(payload, at, end):
    """``(end, flags)`` of the JSON number at ``at``; ``end`` is -1 if it is not one."""
    flags = 0
    if at < end and payload[at] == 45:
        flags |= MINUS
        at += 1
    if at >= end:
        return -1, 0
    if payload[at] == 48:
        at += 1
    elif 49 <= payload[at] <= 57:
        at = _digits_end(payload, at + 1, end)
    else:
        return -1, 0
    if at < end and payload[at] == 46:
        after = _digits_end(payload, at + 1, end)
        if after == at + 1:
            return -1, 0
        flags |= FRACTION
        at = after
    if at < end and (payload[at] == 101 or payload[at] == 69):
        at += 1
        if at < end and (payload[at] == 43 or payload[at] == 45):
            at += 1
        after = _digits_end(payload, at, end)
        if after == at:
            return -1, 0
        flags |= EXPONENT
        at = after
    return at, flags


@njit
def _literal(payload, at, end, a, b, c, d, e, length):
    """Whether ``payload[at:at + length]`` spells the literal ``a b c d (e)``."""
    if at + length > end:
        return False
    if payload[at] != a or payload[at + 1] != b or payload[at + 2] != c or payload[at + 3] != d:
        return False
    return length == 4 or payload[at + 4] == e


@njit
def _key(payload, start, end, nested):
    length = end - start
    first = _TOP_COUNT if nested else 0
    last = FIELD_COUNT if nested else _TOP_COUNT
    for field in range(first, last):
        name_at = _KEY_SPANS[field]
        if _KEY_SPANS[field + 1] - name_at != length:
            continue
        same = True
        for k in range(length):
            if payload[start + k] != _KEY_TEXT[name_at + k]:
                same = False
                break
        if same:
            return field
    return -1


@njit
def _value(payload, at, end, slots, field):
    """Record the scalar at ``at`` in ``slots[field]``; the index after it, or -1."""
    byte = payload[at]
    if byte == 34:
        close = _string_end(payload, at + 1, end)
        if close < 0:
            return -1
        slots[field, 0] = STRING
        slots[field, 1] = at + 1
        slots[field, 2] = close
        slots[field, 3] = 0
        return close + 1
    if byte == 45 or 48 <= byte <= 57:
        after, flags = _number_end(payload, at, end)
        if after < 0:
            return -1
        slots[field, 0] = NUMBER
        slots[field, 1] = at
        slots[field, 2] = after
        slots[field, 3] = flags
        return after
    if _literal(payload, at, end, 116, 114, 117, 101, 0, 4):  # true
        token, length = TRUE, 4
    elif _literal(payload, at, end, 102, 97, 108, 115, 101, 5):  # false
        token, length = FALSE, 5
    elif _literal(payload, at, end, 110, 117, 108, 108, 0, 4):  # null
        token, length = NULL, 4
    else:
        return -1
    slots[field, 0] = token
    slots[field, 1] = at
    slots[field, 2] = at + length
    slots[field, 3] = 0
    return at + length


@njit
def scan(payload, start, end, slots):
    """Fill ``slots`` from the message ``payload[start:end]``; ``False`` if it is outside the
    subset (see the module docstring)."""
    for field in range(FIELD_COUNT):
        slots[field, 0] = ABSENT
    at = _skip_space(payload, start, end)
    if at >= end or payload[at] != 123:  # {
        return False
    at = _skip_space(payload, at + 1, end)
    nested = False
    if at < end and payload[at] == 125:  # {}
        return _skip_space(payload, at + 1, end) == end
    while True:
        if at >= end or payload[at] != 34:
            return False
        close = _string_end(payload, at + 1, end)
        if close < 0:
            return False
        field = _key(payload, at + 1, close, nested)
        if field < 0 or slots[field, 0] != ABSENT:
            return False
        at = _skip_space(payload, close + 1, end)
        if at >= end or payload[at] != 58:  # :
            return False
        at = _skip_space(payload, at + 1, end)
        if at >= end:
            return False
        if payload[at] == 123:
            if field != _ORDER:
                return False
            slots[field, 0] = OBJECT
            slots[field, 1] = at
            at = _skip_space(payload, at + 1, end)
            if at < end and payload[at] == 125:
                at += 1  # an empty "order"; look for what follows it
            else:
                nested = True
                continue
        else:
            at = _value(payload, at, end, slots, field)
            if at < 0:
                return False
        while True:  # after a value: a comma, or the end of one or two objects
            at = _skip_space(payload, at, end)
            if at >= end:
                return False
            byte = payload[at]
            if byte == 44:  # ,
                at = _skip_space(payload, at + 1, end)
                break
            if byte != 125:
                return False
            at += 1
            if nested:
                nested = False
                continue
            return _skip_space(payload, at, end) == end
