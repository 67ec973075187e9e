"""What the app needs from the outside, in one object that tests fill with fakes.

``create_app(Dependencies(...))`` is the only way in. Under gunicorn,
``gateway.gunicorn_config`` builds the real ones in ``post_fork`` (see
:func:`gateway.wiring.worker_dependencies`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ringex.config import GatewaySettings
from ringex.pairs import PairRegistry

from gateway.account_orders import AccountOrders
from gateway.auth import Accounts
from gateway.market_reader import MarketDataReader
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import RateLimiter
from gateway.sinks import OrderSink

__all__ = ["Dependencies"]


@dataclass
class Dependencies:
    order_sink: OrderSink
    market_data: MarketDataReader
    registry: PairRegistry
    accounts: Accounts
    rate_limiter: RateLimiter | None  # None: no rate limit
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    account_orders: AccountOrders | None = None  # None: a per-app memory index
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    mode: str = "embedded"
