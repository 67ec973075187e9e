"""API keys -> accounts.

Why it exists: every order belongs to the account that the request's API key maps to; the
client never chooses its account. Keys come from ``gateway.api_keys`` (``"key:account,..."``)
and, in distributed mode, from the Redis hash ``<redis.prefix>api-keys`` (field = key, value =
account), so operators can add keys without a restart. A key is read from the ``X-API-Key``
header, or from ``Authorization: Bearer <key>``.

Read-only after construction except for the small per-worker cache of Redis answers.
"""

from __future__ import annotations

import time

from ringex.errors import ConfigError

__all__ = ["parse_api_keys", "Accounts", "api_key_of"]

_MAX_ACCOUNT = 2**63 - 1
_CACHE_SECONDS = 5.0
_CACHE_LIMIT = 10_000


def parse_api_keys(text: str) -> dict[str, int]:
    """``"k1:1,k2:2"`` -> ``{"k1": 1, "k2": 2}``; ``ConfigError`` for a malformed entry."""
    keys: dict[str, int] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        key, sep, account = entry.rpartition(":")
        if not sep or not key or not account.isdigit() or not 0 < int(account) <= _MAX_ACCOUNT:
            raise ConfigError(f"gateway.api_keys: {entry[:20]!r}... is not 'key:account' with "
                              "a positive integer account")
        if not key.isascii() or not key.isprintable() or " " in key:
            raise ConfigError("gateway.api_keys: keys must be printable ASCII without spaces")
        if key in keys:
            raise ConfigError("gateway.api_keys: a key appears twice")
        keys[key] = int(account)
    return keys


def api_key_of(headers_get) -> str | None:
    """The API key of a request (``headers_get`` is ``req.get_header``)."""
    key = headers_get("X-API-Key")
    if key:
        return key
    authorization = headers_get("Authorization")
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


class Accounts:
    """``account_of(key)`` -> account id or None. ``redis_client`` is optional."""

    def __init__(self, static: dict[str, int], redis_client=None, redis_key: str = ""):
        self.static = dict(static)
        self.redis = redis_client
        self.redis_key = redis_key
        self._cache: dict[str, tuple[int | None, float]] = {}

    def account_of(self, key: str | None) -> int | None:
        if not key:
            return None
        account = self.static.get(key)
        if account is not None or self.redis is None:
            return account
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        raw = self.redis.hget(self.redis_key, key)
        try:
            account = int(raw) if raw is not None else None
        except ValueError:
            account = None
        if account is not None and not 0 < account <= _MAX_ACCOUNT:
            account = None
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (account, now + _CACHE_SECONDS)
        return account
