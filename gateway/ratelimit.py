"""Per-key token buckets: ``rate`` tokens a second, at most ``burst`` saved.

Why it exists: one client must not be able to fill the sequencer. A request costs one token
(a batch too: the body limit and ``max_batch_orders`` bound its size); with no token left the
answer is 429 with ``Retry-After``.

* :class:`LocalTokenBuckets` lives in one worker process (embedded mode: each of the N
  workers allows ``rate``; the documented per-key limit is therefore ``N x rate``).
* :class:`RedisTokenBuckets` keeps the bucket in Redis and updates it with one Lua script
  (Redis ``TIME`` as the clock, so worker clocks do not matter): every worker of every
  gateway host shares one limit per key.

``acquire(key)`` returns 0.0 when the request may go on, else the seconds to wait.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

__all__ = ["RateLimiter", "LocalTokenBuckets", "RedisTokenBuckets", "TOKEN_BUCKET_LUA",
           "retry_after_header"]

_MAX_KEYS = 100_000


class RateLimiter(Protocol):
    def acquire(self, key: str, cost: float = 1.0) -> float:
        """0.0 when the request may go on, else the seconds to wait."""


class LocalTokenBuckets:
    def __init__(self, rate_per_s: float, burst: float, clock=time.monotonic):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}

    def acquire(self, key: str, cost: float = 1.0) -> float:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_KEYS:
                self._buckets.clear()
            bucket = self._buckets[key] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= cost:
            bucket[0] = tokens - cost
            return 0.0
        bucket[0] = tokens
        return (cost - tokens) / self.rate


# KEYS[1] = bucket hash; ARGV = rate per s, burst, cost. Returns {allowed, wait_ms}.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local wait_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait_ms = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait_ms}
"""


class RedisTokenBuckets:
    def __init__(self, redis_client, rate_per_s: float, burst: float, prefix: str = "ringex:"):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.redis = redis_client
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self.prefix = f"{prefix}ratelimit:"
        self._script = redis_client.register_script(TOKEN_BUCKET_LUA)

    def acquire(self, key: str, cost: float = 1.0) -> float:
        allowed, wait_ms = self._script(keys=[self.prefix + key],
                                        args=[self.rate, self.burst, cost])
        if int(allowed):
            return 0.0
        return max(int(wait_ms), 1) / 1000.0


def retry_after_header(wait_s: float) -> str:
    """Whole seconds for ``Retry-After`` (at least 1)."""
    return str(max(1, math.ceil(wait_s)))
