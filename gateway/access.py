"""Who is asking, and may they: API key -> account, rate limit, owner checks.

:class:`AccessMiddleware` runs first on every request: it resolves the API key to an account
(``req.context.account``, None when the key is missing or unknown) and charges one token to
the key's bucket, or to the client address's bucket for anonymous requests, answering 429
with ``Retry-After`` when it is empty. ``/health``, ``/metrics`` and ``/openapi.json`` are
never throttled. Resources call :func:`require_account` for anything account-bound (401).

:class:`RecentOrders` remembers, per worker, the orders this worker just sequenced, so the
owner of an order can cancel or amend it before market data has caught up with it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import falcon

from gateway.auth import api_key_of
from gateway.problems import Problem
from gateway.ratelimit import retry_after_header

__all__ = ["AccessMiddleware", "require_account", "RecentOrders"]

_UNTHROTTLED = frozenset({"/health", "/metrics", "/openapi.json"})


def require_account(req: falcon.Request) -> int:
    account = req.context.account
    if account is None:
        detail = ("missing API key: send it in the X-API-Key header"
                  if req.context.api_key is None else "unknown API key")
        raise Problem(401, "unauthorized", detail, field="X-API-Key",
                      headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'})
    return account


class AccessMiddleware:
    def __init__(self, dependencies):
        self.accounts = dependencies.accounts
        self.limiter = dependencies.rate_limiter
        self.metrics = dependencies.metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        key = api_key_of(req.get_header)
        req.context.api_key = key
        try:
            account = self.accounts.account_of(key)
        except Exception:  # noqa: BLE001 - a key store outage is a 503, not a 500
            raise Problem(503, "key store unavailable", "cannot check the API key now",
                          field="X-API-Key", headers={"Retry-After": "1"}) from None
        req.context.account = account
        if req.path in _UNTHROTTLED or self.limiter is None:
            return
        bucket = f"k:{key}" if account is not None else f"a:{req.remote_addr}"
        try:
            wait_s = self.limiter.acquire(bucket)
        except Exception:  # noqa: BLE001
            raise Problem(503, "rate limiter unavailable", "try again shortly",
                          field="X-API-Key", headers={"Retry-After": "1"}) from None
        if wait_s > 0:
            self.metrics.rejected.labels("rate_limited").inc()
            raise Problem(429, "too many requests",
                          f"rate limit reached; retry in {wait_s:.3f}s",
                          field="X-API-Key", headers={"Retry-After": retry_after_header(wait_s)})

    def process_response(self, req, resp, resource, req_succeeded) -> None:
        route = req.uri_template or "unmatched"
        self.metrics.requests.labels(route, req.method, resp.status_code).inc()
        started = getattr(req.context, "started", None)
        if started is not None:
            self.metrics.latency.labels(route, req.method).observe(
                time.perf_counter() - started)


class RecentOrders:
    """order id -> (account, pair id) of the newest ``capacity`` orders this worker placed."""

    def __init__(self, capacity: int = 65_536):
        self.capacity = capacity
        self._orders: OrderedDict[int, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, order_id: int, account: int, pair_id: int) -> None:
        with self._lock:
            self._orders[order_id] = (account, pair_id)
            if len(self._orders) > self.capacity:
                self._orders.popitem(last=False)

    def get(self, order_id: int) -> tuple[int, int] | None:
        return self._orders.get(order_id)
