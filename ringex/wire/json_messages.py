"""The JSON command message as a typed object: syntax, types, unknown and duplicate keys.

Why it exists: :mod:`ringex.wire.json_commands` gives a message its meaning; this module only
makes sure the bytes are one well-formed JSON object of the right shape, and names the field
when they are not. One ``msgspec`` decode into :class:`Message` (a superset of both input
formats, every field optional) checks syntax, types and unknown fields in C; the rest is here:

* size before anything else (``max_bytes``), then UTF-8 over the whole payload (``msgspec``
  checks strings lazily and never looks inside the raw number fields);
* which format: a message with ``action`` is the envelope format (the original design's) and may use no native key; one
  without it may not use ``order``;
* duplicate keys, which ``msgspec`` silently lets win last. After the two checks above every
  key is a known field name and no name occurs at two nesting levels, so a name seen twice is
  a duplicate. In a payload without a backslash the regex :data:`_KEY` finds exactly the keys
  (a string followed by ``:`` is a key, and without escapes no string hides a quote); with a
  backslash (an escaped key could spell a known name) the stdlib parser with
  ``object_pairs_hook`` lists them instead. Both are skipped in the common case: with no
  whitespace after any quote, every key ends in ``":``, so ``payload.count(b'":')`` is at
  least the number of keys, and it equals the number of fields present only if no key
  repeats.

Prices and quantities are decoded as ``msgspec.Raw``: the literal text of the JSON number or
the string, never a float. Pure functions; safe in any process.
"""

from __future__ import annotations

import json
import re

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType
from msgspec.structs import astuple

from ringex.errors import ValidationError

__all__ = ["DEFAULT_MAX_BYTES", "EnvelopeOrder", "Message", "parse_message", "raw_text"]

DEFAULT_MAX_BYTES = 64 * 1024


class EnvelopeOrder(Struct, forbid_unknown_fields=True):
    """``order`` of the envelope format (the original design's payload)."""

    id: int | str | UnsetType = UNSET
    pair: str | UnsetType = UNSET
    side: str | UnsetType = UNSET
    type: str | UnsetType = UNSET
    price: Raw | UnsetType = UNSET
    amount: Raw | UnsetType = UNSET


class Message(Struct, forbid_unknown_fields=True):
    """Every top-level key of both formats; which ones a message may use is decided later."""

    action: str | UnsetType = UNSET  # envelope format
    order: EnvelopeOrder | UnsetType = UNSET  # envelope format
    type: str | UnsetType = UNSET  # native discriminator
    version: int | UnsetType = UNSET
    pair: str | UnsetType = UNSET
    side: str | UnsetType = UNSET
    order_type: str | UnsetType = UNSET
    price: Raw | UnsetType = UNSET
    quantity: Raw | UnsetType = UNSET
    time_in_force: str | UnsetType = UNSET
    post_only: bool | UnsetType = UNSET
    client_order_id: int | str | UnsetType = UNSET
    order_id: int | str | UnsetType = UNSET
    stp: str | UnsetType = UNSET
    account: int | UnsetType = UNSET
    status: str | UnsetType = UNSET


_DECODER = msgspec.json.Decoder(Message)
_STRING_DECODER = msgspec.json.Decoder(str)
_KEY = re.compile(rb'"([^"]*)"\s*:')
_QUOTE_SPACE = re.compile(rb'"\s')
_PATH = re.compile(r" - at `\$((?:\.[A-Za-z_]+)*)`$")
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `([^`]*)`")
#: The top-level keys of the native format (everything but ``action`` and ``order``).
NATIVE_FIELDS = tuple(name for name in Message.__struct_fields__ if name not in ("action", "order"))


def parse_message(payload: object, max_bytes: int = DEFAULT_MAX_BYTES) -> Message:
    """``payload`` as a :class:`Message`, or ``ValidationError`` naming the field."""
    if type(payload) is not bytes:
        if not isinstance(payload, (bytearray, memoryview)):
            raise ValidationError(
                "payload", f"expected bytes, got {type(payload).__name__}"
            )
        payload = bytes(payload)
    if len(payload) > max_bytes:
        raise ValidationError("payload", f"{len(payload)} bytes exceeds the limit of {max_bytes}")
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("payload", f"invalid UTF-8 at byte {exc.start}") from None
    try:
        message = _DECODER.decode(payload)
    except msgspec.ValidationError as exc:
        raise _translate(str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValidationError("payload", f"malformed JSON: {exc}") from None
    fields = astuple(message)
    present = len(fields) - fields.count(UNSET)
    envelope = message.action is not UNSET
    if envelope:
        if present > 2 or (present == 2 and message.order is UNSET):
            for name in NATIVE_FIELDS:
                if getattr(message, name) is not UNSET:
                    raise ValidationError(
                        name, "not a field of the envelope format (it has 'action')"
                    )
        if message.order is not UNSET:
            nested = astuple(message.order)
            present += len(nested) - nested.count(UNSET)
    elif message.order is not UNSET:
        raise ValidationError("action", "missing: 'order' belongs to the envelope format")
    if payload.count(b'":') != present or _QUOTE_SPACE.search(payload) is not None:
        _reject_duplicate_keys(payload, envelope)
    return message


def raw_text(raw: Raw, field: str) -> str | None:
    """The literal of a raw number field: a JSON string's content, a JSON number's text, or
    ``None`` for ``null``. Other JSON types raise ``ValidationError(field)``."""
    literal = bytes(raw)
    first = literal[:1]
    if first == b'"':
        return _STRING_DECODER.decode(literal)
    if first.isdigit() or first == b"-":
        return literal.decode("ascii")
    if literal == b"null":
        return None
    raise ValidationError(field, "expected a decimal string or a JSON number")


def _translate(message: str) -> ValidationError:
    path_match = _PATH.search(message)
    path = path_match.group(1).lstrip(".") if path_match else ""
    text = message[: path_match.start()] if path_match else message
    unknown = _UNKNOWN_FIELD.match(text)
    if unknown:
        name = unknown.group(1)
        return ValidationError(f"{path}.{name}" if path else name, "unknown field")
    return ValidationError(path or "payload", text)


def _reject_duplicate_keys(payload: bytes, envelope: bool) -> None:
    # In an accepted message of either format no key name occurs at two levels, so a key seen
    # twice anywhere is a duplicate within one object.
    if b"\\" in payload:
        keys: list[str] = []
        try:
            json.loads(payload, object_pairs_hook=lambda pairs: keys.extend(k for k, _ in pairs))
        except (ValueError, RecursionError) as exc:
            raise ValidationError("payload", f"malformed JSON: {exc}") from None
    else:
        found = _KEY.findall(payload)
        if len(found) == len(set(found)):
            return
        keys = [key.decode("utf-8") for key in found]
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            nested = envelope and key not in ("action", "order")
            raise ValidationError(f"order.{key}" if nested else key, "duplicate key")
        seen.add(key)
