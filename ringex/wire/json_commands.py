"""JSON commands in: one Kafka message (or REST body) -> one ``COMMAND_DTYPE`` record.

Why it exists: the bridge and the gateway must turn client JSON into matcher commands with
exact numbers and a rejection that names the field. Two input formats are accepted (see
``docs/wire-format.md``):

* the envelope format (the original design's) ``{"action": "new"|"cancel", "order": {id,
  pair, side, type, price, amount}}``; its ``id`` is the client's id (-> ``client_order_id``);
* the native format, discriminated by ``"type"``: ``new``, ``cancel``, ``amend``,
  ``cancel_all``, ``set_status``.

Shape, types, unknown and duplicate keys are checked by :mod:`ringex.wire.json_messages`;
values and meaning by :mod:`ringex.wire.json_commands_fallback`: enum names
(case-insensitive), exact prices and quantities on the pair's tick and lot (band and min/max
included), and the flag rules the matcher would reject anyway (MARKET with GTC, post-only
with MARKET or IOC/FOK). The checks that need book state (duplicates, unknown orders,
ownership, pair status, crossing post-only orders) stay in the matcher.

Speed: a batch is decoded by the compiled kernel (:mod:`ringex.wire.json_command_kernel`)
straight into records; the messages it is not sure about (every bad one among them) go
through the plain-Python fallback decoder, which accepts them or raises the canonical
``ValidationError``. Results and errors are those of the fallback (tested with Hypothesis).
:func:`decode_batch` is the bridge-shaped entry: one outcome per message, in order.

Ids: the caller assigns ``order_id`` (the bridge derives it with
:func:`ringex.wire.ids.kafka_order_id`); it is written on NEW records only. CANCEL and AMEND
name their target by ``order_id``, or by ``client_order_id`` (then the record's ``order_id``
is 0 and the matcher looks up ``(account, client_order_id)``).

Pure functions; the per-registry tables are cached and read-only, so any thread may call.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import numpy as np

from ringex.errors import ValidationError
from ringex.pairs import PairRegistry
from ringex.records import COMMAND_DTYPE, Reason
from ringex.wire import json_command_kernel as kernel
from ringex.wire.blake2b import HASH_WORDS
from ringex.wire.ids import client_id_to_int
from ringex.wire.json_commands_fallback import JSON_VERSION, decode_values
from ringex.wire.json_messages import DEFAULT_MAX_BYTES
from ringex.wire.units import registry_units

__all__ = ["JSON_VERSION", "decode_command", "decode_commands", "decode_batch",
           "rejection_reason", "message_identity"]

_INT64_MAX = 2**63 - 1
_RECORD_SIZE = COMMAND_DTYPE.itemsize


def _build_pairs(registry: PairRegistry) -> np.ndarray:
    """The registry as the kernel reads it (see :mod:`ringex.wire.json_command_kernel`)."""
    units = registry_units(registry).by_id
    pairs = np.zeros((len(units), len(kernel.PAIR_COLUMNS) + kernel.MAX_NAME), dtype=np.int64)
    for row, pair in enumerate(units):
        name = pair.pair.name.encode("ascii")
        pairs[row, :len(kernel.PAIR_COLUMNS)] = (
            pair.price.places, _small(pair.price.multiplier), pair.quantity.places,
            _small(pair.quantity.multiplier), pair.pair.band_lo_ticks, pair.pair.band_hi_ticks,
            pair.pair.min_qty_lots, pair.pair.max_qty_lots, len(name))
        pairs[row, len(kernel.PAIR_COLUMNS):len(kernel.PAIR_COLUMNS) + len(name)] = list(name)
    return pairs


def _small(multiplier: int) -> int:
    return multiplier if multiplier <= _INT64_MAX else 0


_PAIRS: "weakref.WeakKeyDictionary[PairRegistry, np.ndarray]" = weakref.WeakKeyDictionary()
_SCRATCH = threading.local()


def _pairs(registry: PairRegistry) -> np.ndarray:
    pairs = _PAIRS.get(registry)
    if pairs is None:
        pairs = _PAIRS[registry] = _build_pairs(registry)
    return pairs


def _scratch() -> tuple[np.ndarray, np.ndarray]:
    """This thread's scratch for the kernel (it writes there, so threads may not share)."""
    scratch = getattr(_SCRATCH, "arrays", None)
    if scratch is None:
        scratch = _SCRATCH.arrays = (np.empty((kernel.SLOT_ROWS, 4), dtype=np.int64),
                                     np.empty(HASH_WORDS, dtype=np.uint64))
    return scratch


def _check_caller(order_id: int, default_account: int) -> None:
    if not (type(order_id) is int and 0 < order_id <= _INT64_MAX):
        raise ValueError(f"order_id must be a positive int64, got {order_id!r}")
    if not (type(default_account) is int and 0 < default_account <= _INT64_MAX):
        raise ValueError(f"default_account must be a positive int64, got {default_account!r}")


def _per_message(value, count: int) -> np.ndarray:
    if isinstance(value, int):
        return np.full(count, value, dtype=np.int64)
    values = np.array(list(value), dtype=np.int64)
    if values.shape != (count,):
        raise ValueError("timestamp_ns and source_partition need one entry per payload")
    return values


def decode_batch(
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
    """One record per payload, in input order, and ``[(index, error), ...]`` of the payloads
    that failed; a failed payload's record is all zero but its source fields and order id
    (``kind = 0``, ``pair_id = -1``: the matcher rejects it as INVALID_COMMAND, like
    :func:`ringex.kafka.decode.invalid_command`). Arguments as :func:`decode_commands`."""
    count = len(payloads)
    if len(order_ids) != count or (source_offsets is not None and len(source_offsets) != count):
        raise ValueError("order_ids and source_offsets need one entry per payload")
    if isinstance(order_ids, np.ndarray) and order_ids.dtype == np.int64 \
            and order_ids.ndim == 1 and (count == 0 or order_ids.min() > 0):
        _check_caller(1, default_account)
    else:
        for order_id in order_ids:
            _check_caller(order_id, default_account)
    timestamps = _per_message(timestamp_ns, count)
    partitions = _per_message(source_partition, count)
    offsets = _per_message(-1 if source_offsets is None else source_offsets, count)
    ids = np.array(order_ids, dtype=np.int64).reshape(count)
    records = np.zeros(count, dtype=COMMAND_DTYPE)
    statuses = np.empty(count, dtype=np.int64)
    plain = max_bytes <= _INT64_MAX and all(type(payload) is bytes for payload in payloads)
    if plain:
        data = b"".join(payloads)
        starts = np.zeros(count + 1, dtype=np.int64)
        np.cumsum([len(payload) for payload in payloads], out=starts[1:])
        kernel.decode_kernel(data, starts, max_bytes, _pairs(registry), ids, default_account,
                             partitions, offsets, timestamps, records, statuses, *_scratch())
        redo = np.flatnonzero(statuses == kernel.FALLBACK).tolist()
    else:
        redo = range(count)
    errors: list[tuple[int, ValidationError]] = []
    units = registry_units(registry)
    for index in redo:
        try:
            values = decode_values(payloads[index], units, int(ids[index]), default_account,
                                   max_bytes)
        except ValidationError as exc:
            errors.append((index, exc))
            records[index] = (0, 0, 0, 0, 0, 0, 0, 0, -1, partitions[index], 0, ids[index], 0,
                              0, 0, timestamps[index], offsets[index])
            continue
        records[index] = (values[:7] + (0, values[7], partitions[index]) + values[8:]
                          + (timestamps[index], offsets[index]))
    return records, errors


def decode_command(
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
    if type(payload) is bytes and max_bytes <= _INT64_MAX:
        # bytearray-backed: np.empty of this dtype costs ~600 ns, this ~350 ns
        record = np.frombuffer(bytearray(_RECORD_SIZE), dtype=COMMAND_DTYPE)
        slots, words = _scratch()
        status = kernel.decode_one(payload, 0, len(payload), max_bytes, _pairs(registry),
                                   order_id, default_account, source_partition, source_offset,
                                   timestamp_ns, record, 0, slots, words)
        if status == kernel.DECODED:
            return record
    values = decode_values(payload, registry_units(registry), order_id, default_account,
                           max_bytes)
    return np.array(
        [values[:7] + (0, values[7], source_partition) + values[8:]
         + (timestamp_ns, source_offset)],
        dtype=COMMAND_DTYPE,
    )


def decode_commands(
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
    and ``source_partition`` are one value for all or one per payload. ``order_ids`` may be
    an int64 array (checked at once) or a sequence of ints (checked one by one).
    """
    records, errors = decode_batch(payloads, registry, order_ids=order_ids,
                                   timestamp_ns=timestamp_ns, default_account=default_account,
                                   source_partition=source_partition,
                                   source_offsets=source_offsets, max_bytes=max_bytes)
    if errors:
        good = np.ones(len(records), dtype=bool)
        good[[index for index, _ in errors]] = False
        records = records[good]
    return records, errors


_REASON_BY_FIELD = {
    "pair": Reason.UNKNOWN_PAIR,
    "side": Reason.INVALID_SIDE,
    "type": Reason.INVALID_TYPE,
    "order_type": Reason.INVALID_TYPE,
    "time_in_force": Reason.INVALID_TIF,
    "post_only": Reason.INVALID_FLAGS,
    "stp": Reason.INVALID_STP,
    "price": Reason.INVALID_PRICE,
    "quantity": Reason.INVALID_QUANTITY,
    "amount": Reason.INVALID_QUANTITY,
    "account": Reason.INVALID_ACCOUNT,
    "order_id": Reason.INVALID_ORDER_ID,
    "status": Reason.INVALID_STATUS,
}


def rejection_reason(error: ValidationError) -> Reason:
    """The ``Reason`` a bridge puts on the REJECTED event of a message that failed decoding.

    By the field's last name (``order.side`` -> ``INVALID_SIDE``); a price outside the band is
    ``PRICE_OUT_OF_BAND``; the message-level fields (``payload``, ``type`` of the native
    format, ``action``, ``version``, ``client_order_id``, ``order.id``) give
    ``INVALID_COMMAND``.
    """
    field = error.field
    if field == "type":
        return Reason.INVALID_COMMAND
    reason = _REASON_BY_FIELD.get(field.rsplit(".", 1)[-1], Reason.INVALID_COMMAND)
    if reason == Reason.INVALID_PRICE and "outside the band" in error.message:
        return Reason.PRICE_OUT_OF_BAND
    return reason


def message_identity(payload: bytes | None, default_account: int) -> tuple[int, int]:
    """``(account, client_order_id)`` of a message that failed decoding, as far as they can
    be read, so its REJECTED event reaches its sender: the ids of a JSON object in either
    format (``order.id``; ``client_order_id`` and ``account``), ``default_account`` when it
    names none, ``(0, 0)`` when the payload is no JSON object. Never raises."""
    import json

    try:
        message = json.loads(payload) if payload else None
    except (ValueError, RecursionError):
        return 0, 0
    if not isinstance(message, dict):
        return 0, 0
    order = message.get("order")
    client_id = order.get("id") if isinstance(order, dict) else message.get("client_order_id")
    account = message.get("account", default_account)
    try:
        coid = client_id_to_int(client_id) if client_id is not None else 0
    except ValidationError:
        coid = 0
    if type(account) is not int or not 0 < account < 2**63:
        account = default_account
    return account, coid
