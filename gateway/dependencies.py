"""What the app needs from the outside, in one object that tests fill with fakes.

``create_app(Dependencies(...))`` is the only way in. Under gunicorn,
``gateway.gunicorn.conf.py`` builds the real ones in ``post_fork`` (see
:func:`gateway.wiring.worker_dependencies`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ringex.config import GatewaySettings
from ringex.pairs import PairRegistry

from gateway.auth import Accounts
from gateway.metrics import GatewayMetrics

__all__ = ["Dependencies"]


@dataclass
class Dependencies:
    order_sink: object  # gateway.sinks.OrderSink
    market_data: object  # ringex.marketdata.interface.MarketDataStore (readers)
    registry: PairRegistry
    accounts: Accounts
    rate_limiter: object  # gateway.ratelimit: acquire(key) -> seconds to wait
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    account_orders: object = None  # gateway.account_orders.*; None: a per-app memory index
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    mode: str = "embedded"
