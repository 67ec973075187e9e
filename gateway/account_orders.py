"""Which order ids each account placed through the gateway, newest last.

Why it exists: ``GET /orders?pair=&status=`` lists an account's orders, and the market-data
stores (``ringex.marketdata``) answer by order id only. Until a store offers a by-account
listing (``account_orders``, see ``docs/api.md``), the gateway records the ids it was given
for each account and looks each one up in the store. Orders that reached the exchange by
another road (Kafka-native producers) are not listed; ids the store has evicted are skipped.

* :class:`FileAccountOrders` (embedded mode): one append-only file of little-endian int64 ids
  per account under ``VarLayout.gateway_orders``. Every worker appends with ``O_APPEND``
  (one ``write`` per request, so records of two workers never interleave).
* :class:`RedisAccountOrders` (distributed mode): one Redis list per account, trimmed to the
  newest ``keep`` ids.
* :class:`MemoryAccountOrders`: for tests.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = ["AccountOrders", "FileAccountOrders", "RedisAccountOrders", "MemoryAccountOrders"]

_ID = np.dtype("<i8")


class AccountOrders(Protocol):
    def record(self, account: int, order_ids: list[int]) -> None:
        """Remember ``order_ids`` as the account's newest."""

    def recent(self, account: int, limit: int) -> list[int]:
        """The account's newest ``limit`` ids, newest last."""

    def close(self) -> None:
        ...


class FileAccountOrders:
    def __init__(self, directory: str | os.PathLike, max_open: int = 256):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_open = max_open
        self._fds: dict[int, int] = {}
        self._lock = threading.Lock()

    def _path(self, account: int) -> Path:
        return self.directory / f"{int(account)}.ids"

    def record(self, account: int, order_ids: list[int]) -> None:
        if not order_ids:
            return
        records = np.asarray(order_ids, dtype=_ID).tobytes()
        with self._lock:
            fd = self._fds.get(account)
            if fd is None:
                if len(self._fds) >= self.max_open:
                    self._close_all()
                fd = self._fds[account] = os.open(self._path(account),
                                                   os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, records)

    def recent(self, account: int, limit: int) -> list[int]:
        """Up to ``limit`` ids, newest first."""
        try:
            with open(self._path(account), "rb") as f:
                size = f.seek(0, os.SEEK_END)
                count = min(limit, size // _ID.itemsize)
                f.seek(size - size % _ID.itemsize - count * _ID.itemsize)
                ids = np.frombuffer(f.read(count * _ID.itemsize), dtype=_ID)
        except FileNotFoundError:
            return []
        return ids[::-1].tolist()

    def _close_all(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def close(self) -> None:
        with self._lock:
            self._close_all()


class RedisAccountOrders:
    def __init__(self, redis_client, prefix: str = "ringex:", keep: int = 10_000):
        self.redis = redis_client
        self.prefix = f"{prefix}gateway:account-orders:"
        self.keep = keep

    def record(self, account: int, order_ids: list[int]) -> None:
        if not order_ids:
            return
        key = f"{self.prefix}{int(account)}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(key, *order_ids)
        pipe.ltrim(key, -self.keep, -1)
        pipe.execute()

    def recent(self, account: int, limit: int) -> list[int]:
        values = self.redis.lrange(f"{self.prefix}{int(account)}", -limit, -1)
        return [int(v) for v in reversed(values)]

    def close(self) -> None:
        pass


class MemoryAccountOrders:
    def __init__(self):
        self.ids: dict[int, list[int]] = {}

    def record(self, account: int, order_ids: list[int]) -> None:
        self.ids.setdefault(account, []).extend(order_ids)

    def recent(self, account: int, limit: int) -> list[int]:
        return self.ids.get(account, [])[-limit:][::-1]

    def close(self) -> None:
        pass
