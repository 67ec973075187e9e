"""The compiled JSON command decoder: the meaning of the fields :mod:`ringex.wire.json_scan`
found, written straight into ``COMMAND_DTYPE`` records.

Why it exists: the bridge decodes every JSON order; in Python that cost ~7.5 us a message.
This kernel applies the rules of :mod:`ringex.wire.json_commands_fallback` to the messages
it is sure about and answers, per message:

* :data:`DECODED`: the record is complete and equals the fallback's (a string client id
  is hashed here, by :func:`ringex.wire.blake2b.client_id_hash`);
* :data:`FALLBACK`: anything else, including every message the fallback would reject;
  the caller decodes it with the fallback, so each error still comes from there.

Invariant: the kernel never returns DECODED for a message the fallback would
reject or decode differently (Hypothesis tests compare the two). When unsure it falls back.

The registry enters as one int64 array ``pairs`` (built by :mod:`ringex.wire.json_commands`),
a row of :data:`PAIR_COLUMNS` and the canonical name per pair: one array, because each
argument of a compiled call costs ~50 ns and a single message is decoded in ~1 us.
Allocates nothing.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit
from ringex.records import (
    CommandKind,
    OrderType,
    PairStatus,
    Side,
    StpMode,
    TimeInForce,
)
from ringex.wire.blake2b import client_id_hash
from ringex.wire.json_scan import (
    ABSENT,
    FALSE,
    FIELD_COUNT,
    NUMBER,
    OBJECT,
    STRING,
    TRUE,
    field_id,
    scan,
)

__all__ = ["DECODED", "FALLBACK", "PAIR_COLUMNS", "MAX_NAME", "SLOT_ROWS", "decode_one",
           "decode_kernel"]

DECODED, FALLBACK = 0, 2
_NEEDS_HASH = 1  # between the interpreters and decode_one: client_order_id is to be hashed

#: Columns of a ``pairs`` row, then the canonical name's length and its bytes (one column
#: each, :data:`MAX_NAME` of them). A multiplier of 0 means "beyond int64" (falls back).
PAIR_COLUMNS = ("price_places", "price_multiplier", "quantity_places", "quantity_multiplier",
                "band_lo_ticks", "band_hi_ticks", "min_qty_lots", "max_qty_lots", "name_length")
(_PRICE_PLACES, _PRICE_MULTIPLIER, _QTY_PLACES, _QTY_MULTIPLIER, _BAND_LO, _BAND_HI, _MIN_QTY,
 _MAX_QTY, _NAME_LENGTH) = range(len(PAIR_COLUMNS))
_NAME = len(PAIR_COLUMNS)
MAX_NAME = 40  # normalize_pair_name accepts nothing longer
#: Rows of the ``slots`` scratch: one per field.
SLOT_ROWS = FIELD_COUNT

_ACTION, _ORDER, _TYPE, _VERSION = (field_id(name) for name in ("action", "order", "type",
                                                                  "version"))
_PAIR, _SIDE, _ORDER_TYPE, _PRICE, _QUANTITY = (
    field_id(name) for name in ("pair", "side", "order_type", "price", "quantity"))
_TIF, _POST_ONLY, _CLIENT_ORDER_ID, _ORDER_ID, _STP, _ACCOUNT, _STATUS = (
    field_id(name) for name in ("time_in_force", "post_only", "client_order_id", "order_id",
                                "stp", "account", "status"))
_ENVELOPE_ID, _ENVELOPE_PAIR, _ENVELOPE_SIDE, _ENVELOPE_TYPE, _ENVELOPE_PRICE, _ENVELOPE_AMOUNT = (
    field_id(f"order.{name}") for name in ("id", "pair", "side", "type", "price", "amount"))
_TOP_FIELDS = _ENVELOPE_ID  # the native keys are the top-level ones but action and order

# Enum names, lower case, grouped: (_NAME_TEXT[start:end], code) per row of _NAME_ROWS.
_GROUPS = {
    "action": {"new": CommandKind.NEW, "cancel": CommandKind.CANCEL},
    "kind": {kind.name.lower(): kind for kind in CommandKind},
    "side": {"buy": Side.BUY, "sell": Side.SELL},
    "type": {"limit": OrderType.LIMIT, "market": OrderType.MARKET},
    "tif": {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK},
    "stp": {mode.name.lower(): mode for mode in StpMode},
    "status": {status.name.lower(): status for status in PairStatus},
}
_GROUP_ACTION, _GROUP_KIND, _GROUP_SIDE, _GROUP_TYPE, _GROUP_TIF, _GROUP_STP, _GROUP_STATUS = \
    range(len(_GROUPS))
_rows, _text = [], b""
for _group, _names in enumerate(_GROUPS.values()):
    for _name, _code in _names.items():
        _rows.append((_group, len(_text), len(_text) + len(_name), int(_code)))
        _text += _name.encode("ascii")
_NAME_ROWS = np.array(_rows, dtype=np.int64)
_NAME_TEXT = np.frombuffer(_text, dtype=np.uint8).copy()
del _rows, _text, _group, _names, _name, _code

_NEW, _CANCEL, _AMEND = int(CommandKind.NEW), int(CommandKind.CANCEL), int(CommandKind.AMEND)
_CANCEL_ALL, _SET_STATUS = int(CommandKind.CANCEL_ALL), int(CommandKind.SET_STATUS)
_LIMIT, _MARKET = int(OrderType.LIMIT), int(OrderType.MARKET)
_GTC, _IOC = int(TimeInForce.GTC), int(TimeInForce.IOC)
_ALL_PAIRS = -1
_NO = -1  # "not decoded": the caller falls back
_HASH = -2  # a client id string the fallback hashes
_INT64_MAX_TEXT = np.frombuffer(b"9223372036854775807", dtype=np.uint8).copy()
_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
_MAX_DIGITS = 18  # of a decimal's scaled integer: below 10**18, so no int64 overflow

# The native keys each command may carry besides type and version (json_commands_fallback).
_ALLOWED = {
    _NEW: ("pair", "side", "order_type", "price", "quantity", "time_in_force", "post_only",
           "client_order_id", "stp", "account"),
    _CANCEL: ("pair", "order_id", "client_order_id", "account"),
    _AMEND: ("pair", "order_id", "client_order_id", "price", "quantity", "account"),
    _CANCEL_ALL: ("pair", "account"),
    _SET_STATUS: ("pair", "status"),
}
#: ``_ALLOWED_FIELDS[kind, field]``: whether a native message of ``kind`` may carry it.
_ALLOWED_FIELDS = np.zeros((8, _TOP_FIELDS), dtype=np.bool_)
for _kind, _names in _ALLOWED.items():
    for _name in ("type", "version") + _names:
        _ALLOWED_FIELDS[_kind, field_id(_name)] = True
del _kind, _names, _name


@njit
def _enum(payload, slots, field, group):
    """The code of a string field's name in ``group`` (ASCII case-insensitive), or -1."""
    if slots[field, 0] != STRING:
        return _NO
    start = slots[field, 1]
    length = slots[field, 2] - start
    for row in range(_NAME_ROWS.shape[0]):
        if _NAME_ROWS[row, 0] != group or _NAME_ROWS[row, 2] - _NAME_ROWS[row, 1] != length:
            continue
        name_at = _NAME_ROWS[row, 1]
        same = True
        for k in range(length):
            byte = payload[start + k]
            if 65 <= byte <= 90:
                byte += 32
            if byte != _NAME_TEXT[name_at + k]:
                same = False
                break
        if same:
            return _NAME_ROWS[row, 3]
    return _NO


@njit
def _pair(payload, slots, field, pairs):
    """The pair id a string names in any accepted spelling (case, ``-`` or ``/``), or -1."""
    if slots[field, 0] != STRING:
        return _NO
    start = slots[field, 1]
    length = slots[field, 2] - start
    for pair in range(pairs.shape[0]):
        if pairs[pair, _NAME_LENGTH] != length:
            continue
        same = True
        for k in range(length):
            byte = payload[start + k]
            if 97 <= byte <= 122:
                byte -= 32
            elif byte == 47:  # "/" spells "-"
                byte = 45
            if byte != pairs[pair, _NAME + k]:
                same = False
                break
        if same:
            return pair
    return _NO


@njit
def _natural(payload, start, end):
    """The value of ``1 .. 2**63 - 1`` written as digits without a leading zero, else -1."""
    length = end - start
    if length < 1 or length > 19 or payload[start] == 48:
        return _NO
    value = 0
    for k in range(length):
        byte = payload[start + k]
        if byte < 48 or byte > 57:
            return _NO
    if length == 19:
        for k in range(19):
            if payload[start + k] != _INT64_MAX_TEXT[k]:
                if payload[start + k] > _INT64_MAX_TEXT[k]:
                    return _NO
                break
    for k in range(length):
        value = value * 10 + (payload[start + k] - 48)
    return value


@njit
def _integer(payload, slots, field):
    """A JSON integer field (``int`` in the Message) in ``1 .. 2**63 - 1``, else -1."""
    if slots[field, 0] != NUMBER or slots[field, 3] != 0:
        return _NO
    return _natural(payload, slots[field, 1], slots[field, 2])


@njit
def _client_id(payload, slots, field):
    """:func:`ringex.wire.ids.client_id_to_int` of an ``int | str`` field: the id, ``_HASH``
    for a string it hashes, or -1 (absent counts as -1; callers check presence first)."""
    if slots[field, 0] == NUMBER:
        return _integer(payload, slots, field)
    if slots[field, 0] != STRING:
        return _NO
    start, end = slots[field, 1], slots[field, 2]
    if end - start < 1 or end - start > 64:
        return _NO
    number = _natural(payload, start, end)
    return number if number > 0 else _HASH


@njit
def _units(payload, slots, field, places, multiplier, low, high):
    """Exact units of a decimal (string or number) on a step of ``multiplier * 10**-places``,
    inside ``[low, high]``; -1 where ``StepScale.parse`` or the limits would refuse it, or
    where it needs more than 18 digits."""
    token = slots[field, 0]
    if token != STRING and not (token == NUMBER and slots[field, 3] & 1 == 0):
        return _NO
    at, end = slots[field, 1], slots[field, 2]
    if at >= end or multiplier <= 0:
        return _NO
    value = 0
    whole = 0
    if payload[at] == 48:
        at += 1
        whole = 1
    else:
        while at < end and 48 <= payload[at] <= 57:
            whole += 1
            if whole > _MAX_DIGITS:
                return _NO
            value = value * 10 + (payload[at] - 48)
            at += 1
        if whole == 0:
            return _NO
    fraction = 0
    if at < end and payload[at] == 46:
        at += 1
        while at < end and 48 <= payload[at] <= 57:
            fraction += 1
            if fraction > places or whole + fraction > _MAX_DIGITS:
                return _NO
            value = value * 10 + (payload[at] - 48)
            at += 1
        if fraction == 0:
            return _NO
    if at != end or whole + places > _MAX_DIGITS:
        return _NO
    value *= _POW10[places - fraction]
    if value % multiplier != 0:
        return _NO
    units = value // multiplier
    if units <= 0 or units < low or units > high:
        return _NO
    return units


@njit
def _price(payload, slots, field, pair, pairs):
    return _units(payload, slots, field, pairs[pair, _PRICE_PLACES],
                  pairs[pair, _PRICE_MULTIPLIER], pairs[pair, _BAND_LO], pairs[pair, _BAND_HI])


@njit
def _quantity(payload, slots, field, pair, pairs):
    return _units(payload, slots, field, pairs[pair, _QTY_PLACES], pairs[pair, _QTY_MULTIPLIER],
                  pairs[pair, _MIN_QTY], pairs[pair, _MAX_QTY])


@njit
def _ignored_raw(slots, field):
    """A field the decoder ignores still has its Message type: absent, a string or a number."""
    token = slots[field, 0]
    return token == ABSENT or token == STRING or token == NUMBER


@njit
def _envelope(payload, slots, pairs, order_id, account, record):
    """The envelope message into ``record`` (zeroed); FALLBACK, DECODED or _NEEDS_HASH."""
    for field in range(_TOP_FIELDS):
        if field != _ACTION and field != _ORDER and slots[field, 0] != ABSENT:
            return FALLBACK
    kind = _enum(payload, slots, _ACTION, _GROUP_ACTION)
    if kind < 0 or slots[_ORDER, 0] != OBJECT:
        return FALLBACK
    pair = _pair(payload, slots, _ENVELOPE_PAIR, pairs)
    if pair < 0:
        return FALLBACK
    record["pair_id"] = pair
    record["account"] = account
    coid = 0
    if slots[_ENVELOPE_ID, 0] != ABSENT:
        coid = _client_id(payload, slots, _ENVELOPE_ID)
        if coid == _NO:
            return FALLBACK
    if kind == _CANCEL:
        for field in (_ENVELOPE_SIDE, _ENVELOPE_TYPE):
            token = slots[field, 0]
            if token != ABSENT and token != STRING:
                return FALLBACK
        if slots[_ENVELOPE_ID, 0] == ABSENT or not _ignored_raw(slots, _ENVELOPE_PRICE) \
                or not _ignored_raw(slots, _ENVELOPE_AMOUNT):
            return FALLBACK
        record["kind"] = kind
        record["client_order_id"] = coid
        return _NEEDS_HASH if coid == _HASH else DECODED
    side = _enum(payload, slots, _ENVELOPE_SIDE, _GROUP_SIDE)
    order_type = _enum(payload, slots, _ENVELOPE_TYPE, _GROUP_TYPE)
    if side < 0 or order_type < 0:
        return FALLBACK
    price = 0
    if order_type == _LIMIT:
        price = _price(payload, slots, _ENVELOPE_PRICE, pair, pairs)
        if price < 0:
            return FALLBACK
    elif slots[_ENVELOPE_PRICE, 0] != ABSENT:
        return FALLBACK
    quantity = _quantity(payload, slots, _ENVELOPE_AMOUNT, pair, pairs)
    if quantity < 0:
        return FALLBACK
    record["kind"] = kind
    record["side"] = side
    record["order_type"] = order_type
    record["tif"] = _GTC if order_type == _LIMIT else _IOC
    record["order_id"] = order_id
    record["client_order_id"] = coid
    record["price"] = price
    record["quantity"] = quantity
    return _NEEDS_HASH if coid == _HASH else DECODED


@njit
def _native(payload, slots, pairs, order_id, account, record):
    """The native message into ``record`` (zeroed); FALLBACK, DECODED or _NEEDS_HASH."""
    kind = _enum(payload, slots, _TYPE, _GROUP_KIND)
    if kind < 0 or slots[_ORDER, 0] != ABSENT:
        return FALLBACK
    for field in range(_TOP_FIELDS):
        if slots[field, 0] != ABSENT and not _ALLOWED_FIELDS[kind, field]:
            return FALLBACK
    if slots[_VERSION, 0] != ABSENT and _integer(payload, slots, _VERSION) != 1:
        return FALLBACK
    if slots[_ACCOUNT, 0] != ABSENT:
        account = _integer(payload, slots, _ACCOUNT)
        if account < 0:
            return FALLBACK
    record["kind"] = kind
    record["account"] = account
    if kind == _CANCEL_ALL:
        pair = _ALL_PAIRS
        if slots[_PAIR, 0] != ABSENT:
            pair = _pair(payload, slots, _PAIR, pairs)
            if pair < 0:
                return FALLBACK
        record["pair_id"] = pair
        return DECODED
    pair = _pair(payload, slots, _PAIR, pairs)
    if pair < 0:
        return FALLBACK
    record["pair_id"] = pair
    if kind == _SET_STATUS:
        status = _enum(payload, slots, _STATUS, _GROUP_STATUS)
        if status < 0:
            return FALLBACK
        record["status"] = status
        return DECODED
    coid = 0
    if slots[_CLIENT_ORDER_ID, 0] != ABSENT:
        coid = _client_id(payload, slots, _CLIENT_ORDER_ID)
        if coid == _NO:
            return FALLBACK
    record["client_order_id"] = coid
    if kind == _NEW:
        side = _enum(payload, slots, _SIDE, _GROUP_SIDE)
        order_type = _enum(payload, slots, _ORDER_TYPE, _GROUP_TYPE)
        if side < 0 or order_type < 0:
            return FALLBACK
        tif = _GTC if order_type == _LIMIT else _IOC
        if slots[_TIF, 0] != ABSENT:
            tif = _enum(payload, slots, _TIF, _GROUP_TIF)
            if tif < 0 or (order_type == _MARKET and tif == _GTC):
                return FALLBACK
        flags = 0
        post_only = slots[_POST_ONLY, 0]
        if post_only == TRUE:
            if order_type != _LIMIT or tif != _GTC:
                return FALLBACK
            flags = 1
        elif post_only != ABSENT and post_only != FALSE:
            return FALLBACK
        stp = 0
        if slots[_STP, 0] != ABSENT:
            stp = _enum(payload, slots, _STP, _GROUP_STP)
            if stp < 0:
                return FALLBACK
        price = 0
        if order_type == _LIMIT:
            price = _price(payload, slots, _PRICE, pair, pairs)
            if price < 0:
                return FALLBACK
        elif slots[_PRICE, 0] != ABSENT:
            return FALLBACK
        quantity = _quantity(payload, slots, _QUANTITY, pair, pairs)
        if quantity < 0:
            return FALLBACK
        record["side"] = side
        record["order_type"] = order_type
        record["tif"] = tif
        record["flags"] = flags
        record["stp"] = stp
        record["order_id"] = order_id
        record["price"] = price
        record["quantity"] = quantity
        return _NEEDS_HASH if coid == _HASH else DECODED
    # CANCEL and AMEND name their target by order_id or by client_order_id, not both.
    if slots[_ORDER_ID, 0] != ABSENT:
        if slots[_CLIENT_ORDER_ID, 0] != ABSENT:
            return FALLBACK
        token = slots[_ORDER_ID, 0]
        if token == STRING:
            target = _natural(payload, slots[_ORDER_ID, 1], slots[_ORDER_ID, 2])
        else:
            target = _integer(payload, slots, _ORDER_ID)
        if target < 0:
            return FALLBACK
        record["order_id"] = target
    elif slots[_CLIENT_ORDER_ID, 0] == ABSENT:
        return FALLBACK
    if kind == _AMEND:
        price = _price(payload, slots, _PRICE, pair, pairs)
        quantity = _quantity(payload, slots, _QUANTITY, pair, pairs)
        if price < 0 or quantity < 0:
            return FALLBACK
        record["price"] = price
        record["quantity"] = quantity
    return _NEEDS_HASH if coid == _HASH else DECODED


@njit
def decode_one(data, start, end, max_bytes, pairs, order_id, default_account, partition,
               offset, timestamp, records, index, slots, words):
    """Decode the message ``data[start:end]`` into ``records[index]``; DECODED or FALLBACK
    (then the record holds garbage). ``slots`` (SLOT_ROWS x 4, int64) and ``words``
    (HASH_WORDS, uint64) are scratch."""
    record = records[index]
    record["kind"] = 0
    record["side"] = 0
    record["order_type"] = 0
    record["tif"] = 0
    record["flags"] = 0
    record["stp"] = 0
    record["status"] = 0
    record["_reserved"] = 0
    record["pair_id"] = 0
    record["source_partition"] = partition
    record["account"] = 0
    record["order_id"] = 0
    record["client_order_id"] = 0
    record["price"] = 0
    record["quantity"] = 0
    record["timestamp_ns"] = timestamp
    record["source_offset"] = offset
    if end - start > max_bytes or not scan(data, start, end, slots):
        return FALLBACK
    envelope = slots[_ACTION, 0] != ABSENT
    if envelope:
        status = _envelope(data, slots, pairs, order_id, default_account, record)
    else:
        status = _native(data, slots, pairs, order_id, default_account, record)
    if status == _NEEDS_HASH:
        field = _ENVELOPE_ID if envelope else _CLIENT_ORDER_ID
        record["client_order_id"] = client_id_hash(data, slots[field, 1], slots[field, 2],
                                                   words)
        status = DECODED
    return status


@njit
def decode_kernel(data, starts, max_bytes, pairs, order_ids, default_account, partitions,
                  offsets, timestamps, records, statuses, slots, words):
    """:func:`decode_one` for message ``i = data[starts[i]:starts[i + 1]]`` with
    ``order_ids[i]`` ... into ``records[i]`` and ``statuses[i]``."""
    for index in range(records.shape[0]):
        statuses[index] = decode_one(data, starts[index], starts[index + 1], max_bytes, pairs,
                                     order_ids[index], default_account, partitions[index],
                                     offsets[index], timestamps[index], records, index, slots,
                                     words)
