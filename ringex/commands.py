"""Readable builders of ``COMMAND_DTYPE`` records, for tests, scenarios and demos.

Each builder returns a one-element array; :func:`pack` joins them into one batch. Fields a
command does not use stay 0. Nothing here validates: building invalid commands on purpose is
how the tests reach the matcher's rejections.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ringex.records import (
    ALL_PAIRS,
    COMMAND_DTYPE,
    CommandKind,
    OrderFlag,
    OrderType,
    StpMode,
    TimeInForce,
)

__all__ = ["command", "new", "cancel", "amend", "cancel_all", "set_status", "pack"]


def command(**fields: int) -> np.ndarray:
    """One command with the given fields (by ``COMMAND_DTYPE`` name) and zeros elsewhere."""
    record = np.zeros(1, dtype=COMMAND_DTYPE)
    for name, value in fields.items():
        if name not in COMMAND_DTYPE.names:
            raise KeyError(f"COMMAND_DTYPE has no field {name!r}")
        record[name] = value
    return record


def new(order_id: int, account: int, side: int, price: int, qty: int, *, pair: int = 0,
        type: int = OrderType.LIMIT, tif: int = TimeInForce.GTC, post_only: bool = False,
        stp: int = StpMode.NONE, client_order_id: int = 0, ts: int = 0,
        flags: int | None = None) -> np.ndarray:
    """A NEW order. ``flags`` overrides ``post_only`` (to build invalid flag bits)."""
    if flags is None:
        flags = OrderFlag.POST_ONLY if post_only else OrderFlag.NONE
    return command(kind=CommandKind.NEW, pair_id=pair, order_id=order_id, account=account,
                   side=side, order_type=type, tif=tif, flags=flags, stp=stp, price=price,
                   quantity=qty, client_order_id=client_order_id, timestamp_ns=ts)


def cancel(order_id: int, account: int, *, pair: int = 0, ts: int = 0,
           client_order_id: int = 0) -> np.ndarray:
    """Cancel ``order_id``; with ``order_id=0``, the live ``(account, client_order_id)``."""
    return command(kind=CommandKind.CANCEL, pair_id=pair, order_id=order_id, account=account,
                   client_order_id=client_order_id, timestamp_ns=ts)


def amend(order_id: int, account: int, price: int, qty: int, *, pair: int = 0,
          ts: int = 0, client_order_id: int = 0) -> np.ndarray:
    """Move ``order_id`` (with ``order_id=0``, the live ``(account, client_order_id)``) to
    ``price`` with new total quantity ``qty`` (filled included)."""
    return command(kind=CommandKind.AMEND, pair_id=pair, order_id=order_id, account=account,
                   price=price, quantity=qty, client_order_id=client_order_id,
                   timestamp_ns=ts)


def cancel_all(account: int, *, pair: int = ALL_PAIRS, ts: int = 0) -> np.ndarray:
    return command(kind=CommandKind.CANCEL_ALL, pair_id=pair, account=account, timestamp_ns=ts)


def set_status(pair: int, status: int, *, ts: int = 0) -> np.ndarray:
    return command(kind=CommandKind.SET_STATUS, pair_id=pair, status=status, timestamp_ns=ts)


def pack(rows: Iterable[np.ndarray]) -> np.ndarray:
    """Join one-element (or longer) command arrays into one batch, in order."""
    rows = list(rows)
    if not rows:
        return np.zeros(0, dtype=COMMAND_DTYPE)
    return np.concatenate(rows)
