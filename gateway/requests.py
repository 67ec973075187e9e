"""REST bodies -> ``COMMAND_DTYPE`` records, through ``ringex.wire.json_commands``.

Why it exists: the gateway must validate exactly what the Kafka bridge validates (exact
decimals on tick and lot, band and min/max, enum names, duplicate keys, unknown fields,
UTF-8), so it never parses order fields itself. Each body is turned into one message of the
wire formats by *splicing bytes*, never by re-encoding, and handed to ``decode_command``:

* ``POST /order`` (the original design's payload): ``{"pair","side","type","price","amount"
  [,"id"]}`` becomes the envelope ``{"action":"new","order":<body>}``; error fields lose their
  ``order.`` prefix.
* ``POST /orders`` and each item of ``POST /orders/batch``: a native ``new`` command; the
  ``"type":"new"`` discriminator is optional and is spliced in when absent.
* ``PATCH /orders/{id}``: ``{"price","quantity"}`` becomes a native ``amend`` with the order's
  pair and id spliced in front.

Splicing cannot smuggle a field: the body keeps its own braces, a repeated key anywhere is
a duplicate-key error, and the decoder rejects keys that do not belong to the command kind.
The account always comes from the API key: a body may name ``account`` only if it is the
key's own. The order id written here is a placeholder; the sink assigns the real one.
Pure functions.
"""

from __future__ import annotations

import re

import msgspec
import numpy as np

from ringex.errors import ValidationError
from ringex.pairs import PairRegistry
from ringex.records import CommandKind
from ringex.wire.json_commands import decode_command, decode_commands

__all__ = ["envelope_order", "native_order", "native_orders", "amend_order", "cancel_order",
           "cancel_all", "batch_items"]

_PLACEHOLDER_ID = 1
_TYPE_KEY = re.compile(rb'"type"\s*:')
_ORDERS_KEY = re.compile(rb'"orders"\s*:')
_SPLICE_ROOM = 256  # bytes the splices add, so the body limit stays the caller's


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    orders: list[msgspec.Raw]


_BATCH = msgspec.json.Decoder(_Batch)


def _object_body(body: bytes, field: str = "body") -> bytes:
    stripped = body.strip()
    if not stripped.startswith(b"{") or not stripped.endswith(b"}"):
        raise ValidationError(field, "expected a JSON object")
    return stripped


def _decode(payload: bytes, registry: PairRegistry, account: int, timestamp_ns: int,
            max_bytes: int) -> np.ndarray:
    try:
        record = decode_command(payload, registry, order_id=_PLACEHOLDER_ID,
                                timestamp_ns=timestamp_ns, default_account=account,
                                max_bytes=max_bytes + _SPLICE_ROOM)
    except ValidationError as exc:
        if exc.field == "payload":  # the wire's name for the whole message
            raise ValidationError("body", exc.message) from None
        raise
    if int(record["account"][0]) != account:
        raise ValidationError("account", "set by the API key; leave it out")
    return record


def envelope_order(body: bytes, registry: PairRegistry, account: int, timestamp_ns: int,
                   max_bytes: int) -> np.ndarray:
    """``POST /order`` body -> one NEW record, decoded as the ``order`` of an envelope."""
    try:
        payload = b'{"action":"new","order":' + _object_body(body) + b"}"
        return _decode(payload, registry, account, timestamp_ns, max_bytes)
    except ValidationError as exc:
        field = exc.field
        if field.startswith("order."):
            field = field[len("order."):]
        elif field in ("order", "action"):
            field = "body"
        raise ValidationError(field, exc.message) from None


def _new_command(body: bytes) -> bytes:
    """A native order body with the ``"type":"new"`` discriminator spliced in if absent."""
    stripped = _object_body(body)
    if _TYPE_KEY.search(stripped) is None:
        inner = stripped[1:].lstrip()
        separator = b"" if inner.startswith(b"}") else b","
        stripped = b'{"type":"new"' + separator + inner
    return stripped


def native_order(body: bytes, registry: PairRegistry, account: int, timestamp_ns: int,
                 max_bytes: int) -> np.ndarray:
    """``POST /orders`` body -> one NEW record."""
    record = _decode(_new_command(body), registry, account, timestamp_ns, max_bytes)
    if int(record["kind"][0]) != CommandKind.NEW:
        raise ValidationError("type", "only 'new' orders are placed here")
    return record


def native_orders(items: list[bytes], registry: PairRegistry, account: int, timestamp_ns: int,
                  max_bytes: int) -> tuple[np.ndarray, list[int], dict[int, ValidationError]]:
    """The items of ``POST /orders/batch`` -> ``(NEW records, their item indices, {index:
    error})``, with the same checks as :func:`native_order` item by item (errors name
    ``orders[i].<field>``), but decoded in one pass into one array."""
    errors: dict[int, ValidationError] = {}
    payloads: list[bytes] = []
    positions: list[int] = []
    for index, item in enumerate(items):
        try:
            payloads.append(_new_command(item))
            positions.append(index)
        except ValidationError as exc:
            errors[index] = exc
    records, failures = decode_commands(
        payloads, registry, order_ids=[_PLACEHOLDER_ID] * len(payloads),
        timestamp_ns=timestamp_ns, default_account=account, max_bytes=max_bytes + _SPLICE_ROOM)
    failed = {positions[at] for at, _ in failures}
    for at, exc in failures:
        field = "body" if exc.field == "payload" else exc.field
        errors[positions[at]] = ValidationError(field, exc.message)
    decoded = [index for index in positions if index not in failed]
    wrong_account = records["account"] != account
    not_new = records["kind"] != CommandKind.NEW
    if wrong_account.any() or not_new.any():
        for row in np.flatnonzero(wrong_account | not_new).tolist():
            errors[decoded[row]] = (
                ValidationError("account", "set by the API key; leave it out")
                if wrong_account[row] else
                ValidationError("type", "only 'new' orders are placed here"))
        keep = ~(wrong_account | not_new)
        records = records[keep]
        decoded = [index for index, kept in zip(decoded, keep.tolist()) if kept]
    prefixed = {index: ValidationError(f"orders[{index}].{exc.field}", exc.message)
                for index, exc in errors.items()}
    return records, decoded, prefixed


def amend_order(body: bytes, registry: PairRegistry, account: int, timestamp_ns: int,
                max_bytes: int, *, pair_name: str, order_id: int) -> np.ndarray:
    """``PATCH /orders/{id}`` body ``{"price","quantity"}`` -> one AMEND record."""
    inner = _object_body(body)[1:].lstrip()
    separator = b"" if inner.startswith(b"}") else b","
    head = f'{{"type":"amend","pair":"{pair_name}","order_id":{order_id}'.encode()
    try:
        return _decode(head + separator + inner, registry, account, timestamp_ns, max_bytes)
    except ValidationError as exc:
        if exc.field in ("pair", "order_id", "type") and "duplicate" in exc.message:
            raise ValidationError(exc.field, "comes from the URL; leave it out of the body") \
                from None
        raise


def cancel_order(registry: PairRegistry, account: int, timestamp_ns: int, *, pair_name: str,
                 order_id: int) -> np.ndarray:
    payload = f'{{"type":"cancel","pair":"{pair_name}","order_id":{order_id}}}'.encode()
    return _decode(payload, registry, account, timestamp_ns, 1024)


def cancel_all(registry: PairRegistry, account: int, timestamp_ns: int,
               pair: str | None) -> np.ndarray:
    """``DELETE /orders[?pair=]``: every open order of the account (on one pair)."""
    if pair is None:
        payload = b'{"type":"cancel_all"}'
    else:
        payload = msgspec.json.encode({"type": "cancel_all", "pair": pair})
    return _decode(payload, registry, account, timestamp_ns, 1024)


def batch_items(body: bytes, max_orders: int) -> list[bytes]:
    """The raw items of ``{"orders": [...]}``, 1..max_orders of them."""
    stripped = _object_body(body)
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("body", f"invalid UTF-8 at byte {exc.start}") from None
    try:
        batch = _BATCH.decode(stripped)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "unknown field" in text:
            name = text.split("`")[1] if "`" in text else "?"
            raise ValidationError(name, "unknown field") from None
        if "missing required field" in text:
            raise ValidationError("orders", "missing") from None
        raise ValidationError("orders", text) from None
    except msgspec.DecodeError as exc:
        raise ValidationError("body", f"malformed JSON: {exc}") from None
    if len(_ORDERS_KEY.findall(stripped)) > 1 and _top_level_duplicate(stripped):
        raise ValidationError("orders", "duplicate key")
    if not batch.orders:
        raise ValidationError("orders", "must hold at least one order")
    if len(batch.orders) > max_orders:
        raise ValidationError("orders", f"{len(batch.orders)} orders; at most {max_orders} "
                                        "in one batch")
    return [bytes(item) for item in batch.orders]


def _top_level_duplicate(body: bytes) -> bool:
    import json

    try:
        top = json.loads(body, object_pairs_hook=list)
    except ValueError:
        return False
    keys = [key for key, _ in top]
    return len(keys) != len(set(keys))
