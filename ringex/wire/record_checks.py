"""The stateless edge checks of ``COMMAND_DTYPE`` records, so a bridge can refuse bad records of
a binary frame one by one before they reach the ring.

Why it exists: the matcher rejects every bad command anyway, but garbage should be flagged
(and copied to the dead-letter topic) where it enters. These are the *stateless* checks: each
needs only the record and the pair table. What needs book state stays in the matcher: pair
status, unknown or foreign orders, duplicate ids, post-only crossing, a full book, an amend
below the filled quantity.

:data:`CHECKS` is the specification, in the order the matcher applies its own checks (so the
first failing check gives the reason the matcher would give), written as vectorized NumPy
expressions; :func:`failed_checks_vectorized` runs them as written, and
:func:`failed_checks` runs the compiled equivalent (:mod:`ringex.wire.record_checks_kernel`),
which is what the bridge calls. :func:`check_commands` returns one ``Reason`` code per record
(0 = passes); :func:`command_errors` turns the failures into ``ValidationError`` s naming
``records[i].<field>``. Pure functions over arrays.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ringex.errors import ValidationError
from ringex.pairs import PairRegistry
from ringex.records import (
    ALL_PAIRS,
    COMMAND_DTYPE,
    LAST_REJECTION_REASON,
    CommandKind,
    OrderFlag,
    OrderType,
    PairStatus,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)
from ringex.wire.record_checks_kernel import first_failed_checks, member_tables

__all__ = ["Check", "CHECKS", "check_commands", "command_errors"]


class PairTable(NamedTuple):
    """Per-pair limits as arrays indexed by ``pair_id`` (clipped into range)."""

    count: int
    band_lo: np.ndarray
    band_hi: np.ndarray
    min_qty: np.ndarray
    max_qty: np.ndarray


class Check(NamedTuple):
    field: str
    reason: Reason
    rule: str
    fails: Callable[[np.ndarray, PairTable], np.ndarray]


@lru_cache(maxsize=None)
def _lookup(codes) -> np.ndarray:
    """A 256-entry membership table for ``codes`` (an enum class or a tuple of members):
    indexing it with a uint8 field is the vectorized ``isin`` without ``np.isin``'s per-call
    cost, which dominated small frames."""
    table = np.zeros(256, dtype=bool)
    table[[int(code) for code in codes]] = True
    return table


def _member(values, codes) -> np.ndarray:
    return _lookup(codes)[values]


def _kind(records, *kinds):
    return _member(records["kind"], kinds)


def _pair_ok(records, pairs: PairTable):
    pair_id = records["pair_id"]
    return (pair_id >= 0) & (pair_id < pairs.count)


def _limits(records, pairs: PairTable, name: str):
    return getattr(pairs, name)[np.clip(records["pair_id"], 0, pairs.count - 1)]


_NEW, _CANCEL, _AMEND = CommandKind.NEW, CommandKind.CANCEL, CommandKind.AMEND
_CANCEL_ALL, _SET_STATUS = CommandKind.CANCEL_ALL, CommandKind.SET_STATUS


def _limit(records):
    return _kind(records, _NEW) & (records["order_type"] == OrderType.LIMIT)


def _priced(records):
    return _limit(records) | _kind(records, _AMEND)


def _sized(records):
    return _kind(records, _NEW, _AMEND)


CHECKS: tuple[Check, ...] = (
    Check("kind", Reason.INVALID_COMMAND, "kind is a CommandKind",
          lambda r, p: ~_kind(r, *CommandKind)),
    Check("_reserved", Reason.INVALID_COMMAND, "_reserved is 0",
          lambda r, p: r["_reserved"] != 0),
    Check("pair_id", Reason.UNKNOWN_PAIR, "pair_id is a pair (or ALL_PAIRS for CANCEL_ALL)",
          lambda r, p: ~_pair_ok(r, p) & ~(_kind(r, _CANCEL_ALL) & (r["pair_id"] == ALL_PAIRS))),
    Check("order_id", Reason.INVALID_ORDER_ID, "NEW: order_id > 0",
          lambda r, p: _kind(r, _NEW) & (r["order_id"] <= 0)),
    Check("order_id", Reason.INVALID_ORDER_ID,
          "CANCEL/AMEND: order_id > 0, or order_id == 0 and client_order_id > 0",
          lambda r, p: _kind(r, _CANCEL, _AMEND) & (
              (r["order_id"] < 0) | ((r["order_id"] == 0) & (r["client_order_id"] <= 0)))),
    Check("account", Reason.INVALID_ACCOUNT, "NEW/CANCEL/AMEND/CANCEL_ALL: account > 0",
          lambda r, p: _kind(r, _NEW, _CANCEL, _AMEND, _CANCEL_ALL) & (r["account"] <= 0)),
    Check("client_order_id", Reason.INVALID_COMMAND, "client_order_id >= 0",
          lambda r, p: r["client_order_id"] < 0),
    Check("side", Reason.INVALID_SIDE, "NEW: side is BUY or SELL",
          lambda r, p: _kind(r, _NEW) & ~_member(r["side"], Side)),
    Check("order_type", Reason.INVALID_TYPE, "NEW: order_type is LIMIT or MARKET",
          lambda r, p: _kind(r, _NEW) & ~_member(r["order_type"], OrderType)),
    Check("tif", Reason.INVALID_TIF, "NEW: tif is GTC/IOC/FOK, and not GTC for MARKET",
          lambda r, p: _kind(r, _NEW) & (
              ~_member(r["tif"], TimeInForce)
              | ((r["order_type"] == OrderType.MARKET) & (r["tif"] == TimeInForce.GTC)))),
    Check("flags", Reason.INVALID_FLAGS,
          "NEW: only the POST_ONLY bit, and only on a GTC LIMIT order",
          lambda r, p: _kind(r, _NEW) & (
              ((r["flags"] & ~np.uint8(OrderFlag.POST_ONLY)) != 0)
              | (((r["flags"] & OrderFlag.POST_ONLY) != 0)
                 & ((r["order_type"] != OrderType.LIMIT) | (r["tif"] != TimeInForce.GTC))))),
    Check("stp", Reason.INVALID_STP, "NEW: stp is a StpMode",
          lambda r, p: _kind(r, _NEW) & ~_member(r["stp"], StpMode)),
    Check("price", Reason.INVALID_PRICE, "LIMIT/AMEND: price > 0; MARKET: price == 0",
          lambda r, p: (_priced(r) & (r["price"] <= 0)) | (
              _kind(r, _NEW) & (r["order_type"] == OrderType.MARKET) & (r["price"] != 0))),
    Check("price", Reason.PRICE_OUT_OF_BAND, "LIMIT/AMEND: price inside the pair's band",
          lambda r, p: _priced(r) & ((r["price"] < _limits(r, p, "band_lo"))
                                     | (r["price"] > _limits(r, p, "band_hi")))),
    Check("quantity", Reason.INVALID_QUANTITY, "NEW/AMEND: min_qty <= quantity <= max_qty",
          lambda r, p: _sized(r) & ((r["quantity"] < _limits(r, p, "min_qty"))
                                    | (r["quantity"] > _limits(r, p, "max_qty")))),
    Check("status", Reason.INVALID_STATUS, "SET_STATUS: status is a PairStatus",
          lambda r, p: _kind(r, _SET_STATUS)
          & ~_member(r["status"], PairStatus)),
)

_REASONS = np.array([0] + [int(check.reason) for check in CHECKS], dtype=np.uint8)


_MEMBERS = member_tables()  # the kernel's enum membership tables

_TABLES: "weakref.WeakKeyDictionary[PairRegistry, PairTable]" = weakref.WeakKeyDictionary()


def _table(registry: PairRegistry) -> PairTable:
    table = _TABLES.get(registry)
    if table is None:
        table = _TABLES[registry] = _build_table(registry)
    return table


def _build_table(registry: PairRegistry) -> PairTable:
    pairs = registry.pairs
    return PairTable(
        len(pairs),
        np.array([pair.band_lo_ticks for pair in pairs], dtype=np.int64),
        np.array([pair.band_hi_ticks for pair in pairs], dtype=np.int64),
        np.array([pair.min_qty_lots for pair in pairs], dtype=np.int64),
        np.array([pair.max_qty_lots for pair in pairs], dtype=np.int64),
    )


def failed_checks(commands: np.ndarray, registry: PairRegistry) -> np.ndarray:
    """Per record, 1 + the index in :data:`CHECKS` of the first failing check (0 = passes).

    Compiled (:mod:`ringex.wire.record_checks_kernel`); :func:`failed_checks_vectorized`
    evaluates :data:`CHECKS` themselves and is what the kernel is tested against."""
    if commands.dtype != COMMAND_DTYPE:
        raise TypeError("expected a COMMAND_DTYPE array")
    pairs = _table(registry)
    first = np.empty(len(commands), dtype=np.intp)
    first_failed_checks(commands, _MEMBERS, pairs.band_lo, pairs.band_hi, pairs.min_qty,
                        pairs.max_qty, first)
    return first


def failed_checks_vectorized(commands: np.ndarray, registry: PairRegistry) -> np.ndarray:
    """:func:`failed_checks` by evaluating each of :data:`CHECKS` over the whole array: the
    specification run as written (about 100 µs per call whatever the size)."""
    if commands.dtype != COMMAND_DTYPE:
        raise TypeError("expected a COMMAND_DTYPE array")
    pairs = _table(registry)
    first = np.zeros(len(commands), dtype=np.intp)
    # Later checks first, so an earlier failing check overwrites a later one.
    for position in range(len(CHECKS) - 1, -1, -1):
        first[CHECKS[position].fails(commands, pairs)] = position + 1
    return first


def check_commands(commands: np.ndarray, registry: PairRegistry) -> np.ndarray:
    """One ``Reason`` code (``uint8``) per record: the first failing check's, or 0. A record
    with no valid ``kind`` gets the reason its ``status`` names, as the matcher gives it
    (:func:`ringex.records.rejection_of_invalid_kind`)."""
    first = failed_checks(commands, registry)
    reasons = _REASONS[first]
    invalid_kind = np.flatnonzero(first == 1)
    if invalid_kind.size:
        status = commands["status"][invalid_kind]
        named = (status >= 1) & (status <= LAST_REJECTION_REASON)
        reasons[invalid_kind] = np.where(named, status, Reason.INVALID_COMMAND)
    return reasons


def command_errors(
    commands: np.ndarray, registry: PairRegistry
) -> list[tuple[int, ValidationError]]:
    """``[(index, ValidationError('records[i].<field>', ...)), ...]`` for the failing records."""
    first = failed_checks(commands, registry)
    errors = []
    for index in np.flatnonzero(first).tolist():
        check = CHECKS[first[index] - 1]
        value = commands[check.field][index].item()
        message = f"{check.reason.name}: {value} breaks the rule '{check.rule}'"
        errors.append((index, ValidationError(f"records[{index}].{check.field}", message)))
    return errors
