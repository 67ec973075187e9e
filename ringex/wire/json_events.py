"""JSON events out: ``EVENT_DTYPE`` records -> the ``trades`` and ``order-events`` messages.

Why it exists: the Kafka publisher turns every outbound-ring batch into JSON, so this must
cost little per event and never round a number. Names replace codes (``"BUY"``,
``"IOC_REMAINDER"``); prices and quantities are exact decimal strings on the pair's tick and
lot, formatted with integer arithmetic; ``timestamp`` is integer milliseconds since the epoch
(``timestamp_ns // 10**6``, floored), as the original design's ``trades`` messages had it.

Shapes (documented with examples in ``docs/wire-format.md``):

* ``trades``: the original design's ``maker_order_id, taker_order_id, price, amount, pair, timestamp``
  then ``quantity, seq, taker_side, maker_side, maker_account, taker_account, maker_leaves,
  taker_leaves, command_index``;
* ``order-events``: ``seq, kind, reason, command_index, timestamp, timestamp_ns, pair,
  pair_id`` then per kind: order fields (ACCEPTED, REJECTED, CANCELED, AMENDED, and TRADE
  with the maker's fields added), ``pair_status`` (PAIR_STATUS), or ``account,
  canceled_count`` (MASS_CANCELED).

An enum code that has no name (only possible in a REJECTED event echoing a bad command) is
written as ``null``; so are the pair and the decimal fields when ``pair_id`` is not a pair of
the registry. Every output is ASCII and built from ints, names and digit strings only, so
nothing needs escaping.

How: :mod:`ringex.wire.json_event_kernel` writes a whole batch into one buffer;
:func:`encode_events` / :func:`encode_trades` return ``(buffer, offsets)`` for callers that
can use slices of it, :func:`events_to_json` / :func:`trades_to_json` cut it into one
``bytes`` per message. The output equals :mod:`ringex.spec.json_events` byte for
byte (Hypothesis tests, ``perf/bench_wire.py``). Pure functions; the per-registry tables are
cached and read-only, so any thread may call them.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import numpy as np

from ringex.pairs import PairRegistry
from ringex.records import (
    EVENT_DTYPE,
    EventKind,
    OrderStatus,
    OrderType,
    PairStatus,
    Reason,
    Side,
    TimeInForce,
)
from ringex.wire import json_event_kernel as kernel
from ringex.wire.units import StepScale, registry_units

__all__ = ["trade_json", "event_json", "trades_to_json", "events_to_json", "encode_events",
           "encode_trades"]

_TRADE = int(EventKind.TRADE)
_LIMB = 10**9
_INT64_DIGITS = 20  # "-9223372036854775808"
_NUMBER_FIELDS = 16  # ints and decimals in the longest message, with room to spare
_ENUM_FIELDS = 10
_SLACK = 16  # the kernel copies 16 bytes at a time


class _Tables(NamedTuple):
    """The kernel's arguments that depend only on the registry, and the message bound."""

    text: np.ndarray
    spans: np.ndarray
    enum_pieces: np.ndarray
    pair_pieces: np.ndarray
    price_places: np.ndarray
    price_small: np.ndarray
    price_limbs: np.ndarray
    qty_places: np.ndarray
    qty_small: np.ndarray
    qty_limbs: np.ndarray
    bound: int


def scale_columns(scales: list[StepScale]):
    """``(places, multiplier or 0 if >= 2**63, multiplier in base-1e9 limbs)`` per scale: how
    the compiled decimal writers (this encoder's and the Redis store's) receive a pair's steps."""
    places = np.array([scale.places for scale in scales], dtype=np.int64)
    small = np.array([scale.multiplier if scale.multiplier < 2**63 else 0 for scale in scales],
                     dtype=np.int64)
    limbs = np.array([[scale.multiplier // _LIMB**k % _LIMB for k in range(4)]
                      for scale in scales], dtype=np.int64).reshape(len(scales), 4)
    return places, small, limbs


def pack_pieces(pieces: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The literal pieces back to back (``text``, with the kernels' 16 bytes of copy slack)
    and each piece's ``(start, end)`` in it (``spans``)."""
    spans = np.zeros((len(pieces), 2), dtype=np.int64)
    at = 0
    for index, piece in enumerate(pieces):
        spans[index] = (at, at + len(piece))
        at += len(piece)
    text = np.frombuffer(b"".join(pieces) + bytes(_SLACK), dtype=np.uint8).copy()
    return spans, text


def _build_tables(registry: PairRegistry) -> _Tables:
    pieces = list(kernel.PIECES)

    def piece(text: str) -> int:
        pieces.append(text.encode("ascii"))
        return len(pieces) - 1

    enum_pieces = np.full((len(kernel.E_TABLES), 256), kernel.NULL, dtype=np.int64)
    enums = (EventKind, Reason, Side, OrderType, TimeInForce, OrderStatus, PairStatus)
    for row, enum_type in enumerate(enums):
        for member in enum_type:
            enum_pieces[row, int(member)] = piece(f'"{member.name}"')
    enum_pieces[kernel.E_OTHER_SIDE, int(Side.BUY)] = piece('"SELL"')
    enum_pieces[kernel.E_OTHER_SIDE, int(Side.SELL)] = piece('"BUY"')
    units = registry_units(registry).by_id
    pair_pieces = np.array([piece(f'"{pair.pair.name}"') for pair in units], dtype=np.int64)
    prices = scale_columns([pair.price for pair in units])
    quantities = scale_columns([pair.quantity for pair in units])
    spans, text = pack_pieces(pieces)
    scales = [pair.price for pair in units] + [pair.quantity for pair in units]
    # quotes, sign, point and a leading zero around the widest exact product
    decimal = max((len(str(2**63 * scale.multiplier)) + scale.places + 4 for scale in scales),
                  default=4)
    longest_piece = max(len(literal) for literal in pieces)
    bound = (text.shape[0] + _NUMBER_FIELDS * max(decimal, _INT64_DIGITS)
             + _ENUM_FIELDS * longest_piece + longest_piece)
    return _Tables(text, spans, enum_pieces, pair_pieces, *prices, *quantities, bound)


_TABLES: "weakref.WeakKeyDictionary[PairRegistry, _Tables]" = weakref.WeakKeyDictionary()


def _tables(registry: PairRegistry) -> _Tables:
    tables = _TABLES.get(registry)
    if tables is None:
        tables = _TABLES[registry] = _build_tables(registry)
    return tables


def _records(events: np.ndarray) -> np.ndarray:
    """A contiguous read-only view: one array type, so one compiled (and cached) kernel
    whether the caller's array is writable or a read-only ring view."""
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        raise TypeError("expected EVENT_DTYPE records")
    records = np.ascontiguousarray(events.reshape(-1)).view()
    records.flags.writeable = False
    return records


def _run(encode, events: np.ndarray, registry: PairRegistry) -> tuple[np.ndarray, np.ndarray]:
    tables = _tables(registry)
    count = events.shape[0]
    out = np.empty(count * tables.bound + _SLACK, dtype=np.uint8)
    offsets = np.empty(count + 1, dtype=np.int64)
    scratch = np.empty(8, dtype=np.int64)
    end = encode(events, *tables[:-1], out, offsets, scratch)
    return out[:end], offsets


def encode_events(events: np.ndarray, registry: PairRegistry) -> tuple[np.ndarray, np.ndarray]:
    """Every ``order-events`` message in one ``uint8`` buffer: message ``i`` is
    ``buffer[offsets[i]:offsets[i + 1]]`` (``len(offsets) == len(events) + 1``)."""
    return _run(kernel.encode_events_kernel, _records(events), registry)


def encode_trades(events: np.ndarray, registry: PairRegistry) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`encode_events` for ``trades``; every event must be a TRADE (``ValueError``)."""
    events = _records(events)
    not_trade = events["kind"] != _TRADE
    if not_trade.any():
        seq = events["seq"][np.argmax(not_trade)].item()
        raise ValueError(f"event seq {seq} is not a TRADE")
    return _run(kernel.encode_trades_kernel, events, registry)


def _split(buffer: np.ndarray, offsets: np.ndarray) -> list[bytes]:
    data = buffer.tobytes()
    bounds = offsets.tolist()
    return [data[start:end] for start, end in zip(bounds, bounds[1:])]


def trades_to_json(events: np.ndarray, registry: PairRegistry) -> list[bytes]:
    """One ``trades`` message per event; every event must be a TRADE (``ValueError``)."""
    return _split(*encode_trades(events, registry))


def events_to_json(events: np.ndarray, registry: PairRegistry) -> list[bytes]:
    """One ``order-events`` message per event, in order."""
    return _split(*encode_events(events, registry))


def trade_json(event, registry: PairRegistry) -> bytes:
    """The ``trades`` message of one TRADE event (a record or a one-record array)."""
    return trades_to_json(np.asarray(event).reshape(1), registry)[0]


def event_json(event, registry: PairRegistry) -> bytes:
    """The ``order-events`` message of one event (a record or a one-record array)."""
    return events_to_json(np.asarray(event).reshape(1), registry)[0]
