"""The runtime fallback of the JSON command decoder: the plain-Python decoder, in production.

Why it exists: :mod:`ringex.wire.json_commands` decodes the common messages with a compiled
kernel (:mod:`ringex.wire.json_command_kernel`) and hands every message the kernel is not
sure about to :func:`decode_values` here, so every ``ValidationError`` (field and message)
still comes from this one plain-Python decoder. It is also the kernel's specification:
:func:`decode_command_reference` and :func:`decode_commands_reference` decode whole messages
with it alone, and tests (Hypothesis) and ``perf/bench_wire.py`` compare the two on generated
and mutated messages.

What it checks is described in :mod:`ringex.wire.json_commands` and ``docs/wire-format.md``:
shape, types, unknown and duplicate keys in :mod:`ringex.wire.json_messages`; enum names
(case-insensitive), exact prices and quantities on the pair's tick and lot (band and min/max
included), and the flag rules here. Pure functions; any process may call them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from msgspec import UNSET

from ringex.decimals import to_units
from ringex.errors import ValidationError
from ringex.pairs import PairRegistry
from ringex.records import (
    ALL_PAIRS,
    COMMAND_DTYPE,
    CommandKind,
    OrderFlag,
    OrderType,
    PairStatus,
    Side,
    StpMode,
    TimeInForce,
)
from ringex.wire.ids import client_id_to_int
from ringex.wire.json_messages import DEFAULT_MAX_BYTES, Message, parse_message, raw_text
from ringex.wire.units import PairUnits, registry_units

__all__ = ["decode_command_reference", "decode_commands_reference", "decode_values"]

#: The native format's version; a message may carry ``"version": 1`` or omit it.
JSON_VERSION = 1

_INT64_MAX = 2**63 - 1
_KINDS = {kind.name.lower(): int(kind) for kind in CommandKind}
_ENVELOPE_ACTIONS = {"new": int(CommandKind.NEW), "cancel": int(CommandKind.CANCEL)}
_SIDES = {"buy": int(Side.BUY), "sell": int(Side.SELL)}
_TYPES = {"limit": int(OrderType.LIMIT), "market": int(OrderType.MARKET)}
_TIFS = {"gtc": int(TimeInForce.GTC), "ioc": int(TimeInForce.IOC), "fok": int(TimeInForce.FOK)}
_STPS = {mode.name.lower(): int(mode) for mode in StpMode}
_STATUSES = {status.name.lower(): int(status) for status in PairStatus}
_DEFAULT_TIF = {int(OrderType.LIMIT): int(TimeInForce.GTC),
                int(OrderType.MARKET): int(TimeInForce.IOC)}

# The native keys each command may carry (``type`` and ``version`` always).
_ALLOWED = {
    CommandKind.NEW: {"pair", "side", "order_type", "price", "quantity", "time_in_force",
                      "post_only", "client_order_id", "stp", "account"},
    CommandKind.CANCEL: {"pair", "order_id", "client_order_id", "account"},
    CommandKind.AMEND: {"pair", "order_id", "client_order_id", "price", "quantity", "account"},
    CommandKind.CANCEL_ALL: {"pair", "account"},
    CommandKind.SET_STATUS: {"pair", "status"},
}
_OPTIONAL = ("pair", "side", "order_type", "price", "quantity", "time_in_force", "post_only",
             "client_order_id", "order_id", "stp", "account", "status")
_FORBIDDEN = {kind: tuple(name for name in _OPTIONAL if name not in allowed)
              for kind, allowed in _ALLOWED.items()}

# The decoders below return ``(kind, side, order_type, tif, flags, stp, status, pair_id,
# account, order_id, client_order_id, price, quantity)``: the record in COMMAND_DTYPE order,
# without ``_reserved`` and the source fields, which the entry points add.
_Values = tuple


def decode_command_reference(
    payload: bytes,
    registry: PairRegistry,
    *,
    order_id: int,
    timestamp_ns: int,
    default_account: int,
    source_partition: int = -1,
    source_offset: int = -1,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """One JSON message as a one-record ``COMMAND_DTYPE`` array with every field set.

    Raises ``ValidationError(field, message)`` for any bad input; ``field`` is a dotted path
    (``order.price``, ``quantity``, ``payload``). ``order_id`` and ``default_account`` must be
    positive (``ValueError`` otherwise: they come from the caller, not the client).
    """
    _check_caller(order_id, default_account)
    values = decode_values(payload, registry, order_id, default_account, max_bytes)
    return np.array(
        [values[:7] + (0, values[7], source_partition) + values[8:]
         + (timestamp_ns, source_offset)],
        dtype=COMMAND_DTYPE,
    )


def decode_commands_reference(
    payloads: Sequence[bytes],
    registry: PairRegistry,
    *,
    order_ids: Sequence[int],
    timestamp_ns: int | Sequence[int],
    default_account: int,
    source_partition: int | Sequence[int] = -1,
    source_offsets: Sequence[int] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[np.ndarray, list[tuple[int, ValidationError]]]:
    """Decode a batch: ``(good commands in input order, [(index, error), ...])``.

    ``order_ids[i]`` (and ``source_offsets[i]``) belong to ``payloads[i]``; ``timestamp_ns``
    and ``source_partition`` are one value for all or one per payload.
    """
    count = len(payloads)
    if len(order_ids) != count or (source_offsets is not None and len(source_offsets) != count):
        raise ValueError("order_ids and source_offsets need one entry per payload")
    timestamps = [timestamp_ns] * count if isinstance(timestamp_ns, int) else list(timestamp_ns)
    partitions = (
        [source_partition] * count if isinstance(source_partition, int) else list(source_partition)
    )
    offsets = [-1] * count if source_offsets is None else source_offsets
    if len(timestamps) != count or len(partitions) != count:
        raise ValueError("timestamp_ns and source_partition need one entry per payload")
    rows = []
    errors: list[tuple[int, ValidationError]] = []
    units = registry_units(registry)
    for index, payload in enumerate(payloads):
        order_id = order_ids[index]
        _check_caller(order_id, default_account)
        try:
            values = decode_values(payload, units, order_id, default_account, max_bytes)
        except ValidationError as exc:
            errors.append((index, exc))
            continue
        rows.append(values[:7] + (0, values[7], partitions[index]) + values[8:]
                    + (timestamps[index], offsets[index]))
    return np.array(rows, dtype=COMMAND_DTYPE).reshape(len(rows)), errors


def _check_caller(order_id: int, default_account: int) -> None:
    if not (type(order_id) is int and 0 < order_id <= _INT64_MAX):
        raise ValueError(f"order_id must be a positive int64, got {order_id!r}")
    if not (type(default_account) is int and 0 < default_account <= _INT64_MAX):
        raise ValueError(f"default_account must be a positive int64, got {default_account!r}")


def decode_values(payload, registry, order_id: int, default_account: int,
                  max_bytes: int) -> _Values:
    units = registry if not isinstance(registry, PairRegistry) else registry_units(registry)
    message = parse_message(payload, max_bytes)
    if message.action is not UNSET:
        return _envelope(message, units, order_id, default_account)
    return _native(message, units, order_id, default_account)


def _envelope(message: Message, units, order_id: int, default_account: int) -> _Values:
    kind = _enum(message.action, _ENVELOPE_ACTIONS, "action")
    order = message.order
    if order is UNSET:
        raise ValidationError("order", "missing")
    pair = units.lookup(_required(order.pair, "order.pair"), "order.pair")
    if kind == CommandKind.CANCEL:
        # The envelope's cancel carries the whole order; only id and pair identify it.
        coid = client_id_to_int(_required(order.id, "order.id"), field="order.id")
        return (kind, 0, 0, 0, 0, 0, 0, pair.pair.pair_id, default_account, 0, coid, 0, 0)
    coid = 0 if order.id is UNSET else client_id_to_int(order.id, field="order.id")
    side = _enum(_required(order.side, "order.side"), _SIDES, "order.side")
    order_type = _enum(_required(order.type, "order.type"), _TYPES, "order.type")
    price = _price(order.price, pair, order_type, "order.price")
    quantity = pair.qty_to_lots(_number(order.amount, "order.amount"), "order.amount")
    tif = _DEFAULT_TIF[order_type]
    return (kind, side, order_type, tif, 0, 0, 0, pair.pair.pair_id, default_account, order_id,
            coid, price, quantity)


def _native(message: Message, units, order_id: int, default_account: int) -> _Values:
    kind = _enum(_required(message.type, "type"), _KINDS, "type")
    if message.version is not UNSET and message.version != JSON_VERSION:
        raise ValidationError("version", f"unsupported version {message.version}; "
                                         f"this bridge reads {JSON_VERSION}")
    for name in _FORBIDDEN[kind]:
        if getattr(message, name) is not UNSET:
            raise ValidationError(name, f"not a field of the {CommandKind(kind).name.lower()} command")
    account = default_account if message.account is UNSET else _account(message.account)
    if kind == CommandKind.NEW:
        pair = units.lookup(_required(message.pair, "pair"), "pair")
        side = _enum(_required(message.side, "side"), _SIDES, "side")
        order_type = _enum(_required(message.order_type, "order_type"), _TYPES, "order_type")
        if message.time_in_force is UNSET:
            tif = _DEFAULT_TIF[order_type]
        else:
            tif = _enum(message.time_in_force, _TIFS, "time_in_force")
            if order_type == OrderType.MARKET and tif == TimeInForce.GTC:
                raise ValidationError("time_in_force", "a MARKET order cannot be GTC")
        flags = 0
        if message.post_only is True:
            if order_type == OrderType.MARKET or tif != TimeInForce.GTC:
                raise ValidationError("post_only", "only a GTC LIMIT order can be post-only")
            flags = int(OrderFlag.POST_ONLY)
        stp = 0 if message.stp is UNSET else _enum(message.stp, _STPS, "stp")
        coid = (0 if message.client_order_id is UNSET
                else client_id_to_int(message.client_order_id))
        price = _price(message.price, pair, order_type, "price")
        quantity = pair.qty_to_lots(_number(message.quantity, "quantity"), "quantity")
        return (kind, side, order_type, tif, flags, stp, 0, pair.pair.pair_id, account,
                order_id, coid, price, quantity)
    if kind == CommandKind.CANCEL_ALL:
        pair_id = ALL_PAIRS if message.pair is UNSET else units.lookup(message.pair, "pair").pair.pair_id
        return (kind, 0, 0, 0, 0, 0, 0, pair_id, account, 0, 0, 0, 0)
    pair = units.lookup(_required(message.pair, "pair"), "pair")
    if kind == CommandKind.SET_STATUS:
        status = _enum(_required(message.status, "status"), _STATUSES, "status")
        return (kind, 0, 0, 0, 0, 0, status, pair.pair.pair_id, account, 0, 0, 0, 0)
    target, coid = _target(message)
    price = quantity = 0
    if kind == CommandKind.AMEND:
        price = pair.price_to_ticks(_number(message.price, "price"), "price")
        quantity = pair.qty_to_lots(_number(message.quantity, "quantity"), "quantity")
    return (kind, 0, 0, 0, 0, 0, 0, pair.pair.pair_id, account, target, coid, price, quantity)


def _target(message: Message) -> tuple[int, int]:
    """``(order_id, client_order_id)`` of the order a cancel or amend is aimed at."""
    if message.order_id is not UNSET:
        if message.client_order_id is not UNSET:
            raise ValidationError("client_order_id", "give order_id or client_order_id, not both")
        value = message.order_id
        if type(value) is str and value.isascii() and value.isdigit() and value[0] != "0" \
                and len(value) <= 19:
            value = int(value)
        if type(value) is not int or not 0 < value <= _INT64_MAX:
            raise ValidationError("order_id", "expected an integer in 1 .. 2**63 - 1")
        return value, 0
    if message.client_order_id is UNSET:
        raise ValidationError("order_id", "missing: give order_id or client_order_id")
    return 0, client_id_to_int(message.client_order_id)


def _price(raw, pair: PairUnits, order_type: int, field: str) -> int:
    if order_type == OrderType.LIMIT:
        return pair.price_to_ticks(_number(raw, field), field)
    text = None if raw is UNSET else raw_text(raw, field)
    if text is not None:
        # The envelope may carry 0 for a market order's price; any other price is an error.
        if to_units(text, pair.pair.tick_size, field=field, allow_zero=True) != 0:
            raise ValidationError(field, "a MARKET order takes no price")
    return 0


def _number(raw, field: str) -> str:
    text = None if raw is UNSET else raw_text(raw, field)
    if text is None:
        raise ValidationError(field, "missing")
    return text


def _account(value: int) -> int:
    if not 0 < value <= _INT64_MAX:
        raise ValidationError("account", f"must be in 1 .. 2**63 - 1, not {value}")
    return value


def _required(value, field: str):
    if value is UNSET:
        raise ValidationError(field, "missing")
    return value


def _enum(value: str, names: dict[str, int], field: str) -> int:
    code = names.get(value.lower()) if value.isascii() else None
    if code is None:
        choices = "/".join(name.upper() for name in names)
        raise ValidationError(field, f"{value[:40]!r} is not one of {choices}")
    return code
