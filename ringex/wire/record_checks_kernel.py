"""The stateless edge checks of :mod:`ringex.wire.record_checks`, compiled.

:data:`ringex.wire.record_checks.CHECKS` is the specification; this kernel evaluates the same
checks, in the same order, one record at a time, and stops at the first that fails. Why it
exists: the vectorized checks cost about 100 µs per call whatever the frame's size (some 150
NumPy operations on short columns), which was most of a bridge's cost per frame for the small
frames of a low-latency sender (17 records: 130 µs per frame, 7.6 µs per record). The kernel
costs about 1 µs per call plus a few ns per record.

``tests/wire/test_record_checks_kernel.py`` compares it with the vectorized checks on random
records (every byte field over its whole range, ids and prices around their limits).

Membership tables: ``members[t, v]`` is 1 when value ``v`` belongs to enum ``t`` in the order of
:data:`MEMBER_TABLES`, built from the enums themselves, so a new enum member needs no edit here.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit
from ringex.records import (ALL_PAIRS, CommandKind, OrderFlag, OrderType, PairStatus, Side,
                            StpMode, TimeInForce)

__all__ = ["MEMBER_TABLES", "member_tables", "first_failed_checks"]

#: The enums whose membership the checks test, in the row order of :func:`member_tables`.
MEMBER_TABLES = (CommandKind, Side, OrderType, TimeInForce, StpMode, PairStatus)
_KINDS, _SIDES, _TYPES, _TIFS, _STPS, _STATUSES = range(len(MEMBER_TABLES))

_NEW = int(CommandKind.NEW)
_CANCEL = int(CommandKind.CANCEL)
_AMEND = int(CommandKind.AMEND)
_CANCEL_ALL = int(CommandKind.CANCEL_ALL)
_SET_STATUS = int(CommandKind.SET_STATUS)
_LIMIT = int(OrderType.LIMIT)
_MARKET = int(OrderType.MARKET)
_GTC = int(TimeInForce.GTC)
_POST_ONLY = int(OrderFlag.POST_ONLY)
_OTHER_FLAGS = 0xFF & ~_POST_ONLY
_ALL_PAIRS = int(ALL_PAIRS)


def member_tables() -> np.ndarray:
    """``uint8[len(MEMBER_TABLES), 256]``: 1 where the byte value is a member of the enum."""
    tables = np.zeros((len(MEMBER_TABLES), 256), dtype=np.uint8)
    for row, codes in enumerate(MEMBER_TABLES):
        tables[row, [int(code) for code in codes]] = 1
    return tables


@njit
def _first_failed(r, members, pair_count, band_lo, band_hi, min_qty, max_qty):
    """1 + the position in CHECKS of the first check record ``r`` fails; 0 if none."""
    kind = r.kind
    new = kind == _NEW
    pair_id = r.pair_id
    pair_known = pair_id >= 0 and pair_id < pair_count
    if members[_KINDS, kind] == 0:
        return 1
    if r._reserved != 0:
        return 2
    if not pair_known and not (kind == _CANCEL_ALL and pair_id == _ALL_PAIRS):
        return 3
    if new and r.order_id <= 0:
        return 4
    if (kind == _CANCEL or kind == _AMEND) and (
            r.order_id < 0 or (r.order_id == 0 and r.client_order_id <= 0)):
        return 5
    if (new or kind == _CANCEL or kind == _AMEND or kind == _CANCEL_ALL) and r.account <= 0:
        return 6
    if r.client_order_id < 0:
        return 7
    order_type = r.order_type
    tif = r.tif
    if new and members[_SIDES, r.side] == 0:
        return 8
    if new and members[_TYPES, order_type] == 0:
        return 9
    if new and (members[_TIFS, tif] == 0 or (order_type == _MARKET and tif == _GTC)):
        return 10
    flags = r.flags
    if new and ((flags & _OTHER_FLAGS) != 0 or (
            (flags & _POST_ONLY) != 0 and (order_type != _LIMIT or tif != _GTC))):
        return 11
    if new and members[_STPS, r.stp] == 0:
        return 12
    priced = (new and order_type == _LIMIT) or kind == _AMEND
    price = r.price
    if (priced and price <= 0) or (new and order_type == _MARKET and price != 0):
        return 13
    row = min(max(pair_id, 0), pair_count - 1)
    if priced and (price < band_lo[row] or price > band_hi[row]):
        return 14
    if (new or kind == _AMEND) and (r.quantity < min_qty[row] or r.quantity > max_qty[row]):
        return 15
    if kind == _SET_STATUS and members[_STATUSES, r.status] == 0:
        return 16
    return 0


@njit
def first_failed_checks(commands, members, band_lo, band_hi, min_qty, max_qty, out):
    """``out[i]`` = 1 + the position in CHECKS of record ``i``'s first failing check, or 0.
    Returns how many records fail. ``out`` has one ``intp`` per record (the caller's: the
    kernel allocates nothing)."""
    pair_count = band_lo.shape[0]
    failing = 0
    for i in range(commands.shape[0]):
        out[i] = _first_failed(commands[i], members, pair_count, band_lo, band_hi, min_qty,
                               max_qty)
        if out[i] != 0:
            failing += 1
    return failing
