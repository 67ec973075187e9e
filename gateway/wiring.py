"""The real dependencies of one gunicorn worker, built after the fork.

``gateway.gunicorn_config``'s ``post_fork`` calls :func:`build_worker_dependencies`; the
worker then imports the app (``get_app``), which takes them from :func:`worker_dependencies`.
Nothing here may run in the gunicorn master: the ring producer slot, the Kafka producer and
the Redis connections belong to the worker process that opens them.

Settings reach the worker through :func:`ringex.config.settings_of_process`: the file that
``ringex.runtime.gateway_process`` wrote, else the usual environment.
"""

from __future__ import annotations

from ringex.config import Settings, settings_of_process
from ringex.runtime.topology import open_store, read_ring_names
from ringex.var_layout import VarLayout

from gateway.account_orders import FileAccountOrders, RedisAccountOrders
from gateway.auth import Accounts, parse_api_keys
from gateway.dependencies import Dependencies
from gateway.market_reader import MarketDataReader, SingleStoreReader
from gateway.ratelimit import LocalTokenBuckets, RedisTokenBuckets
from gateway.sinks import EmbeddedSink, KafkaSink

__all__ = ["build_worker_dependencies", "worker_dependencies", "close_worker_dependencies"]

_WORKER: Dependencies | None = None


def _api_keys(settings: Settings) -> dict[str, int]:
    keys = parse_api_keys(settings.gateway.api_keys)
    if not keys and settings.embedded:
        path = VarLayout(settings.runtime.var_dir).demo_key
        if path.exists():
            keys = parse_api_keys(path.read_text().strip() + f":{settings.runtime.default_account}")
    return keys


def _market_data(settings: Settings, client, registry, store_class) -> MarketDataReader:
    """The stores the gateway reads: ``redis.prefix`` alone, or with ``gateway.instances`` one
    store per engine instance behind a :class:`gateway.routing.RoutedMarketData`."""
    if not settings.gateway.instances:
        return SingleStoreReader(store_class(client, registry, prefix=settings.redis.prefix))
    from ringex.config import parse_gateway_instances

    from gateway.routing import RoutedMarketData

    partitions = settings.kafka.partitions
    instances = [(owned, store_class(client, registry, prefix=prefix), prefix)
                 for owned, prefix in parse_gateway_instances(settings.gateway.instances,
                                                              partitions)]
    return RoutedMarketData(instances, registry, partitions)


def build_worker_dependencies(settings: Settings) -> Dependencies:
    """Open the sink, the market-data store and the limiter of this worker process."""
    global _WORKER
    registry = settings.registry()
    gateway = settings.gateway
    keys = _api_keys(settings)
    if settings.embedded:
        names = read_ring_names(settings.runtime.var_dir)
        store = SingleStoreReader(open_store(settings, names, registry))
        sink = EmbeddedSink(settings.runtime.var_dir, gateway.sequencer_timeout_ms / 1000.0)
        accounts = Accounts(keys)
        limiter = LocalTokenBuckets(gateway.rate_limit_per_s, gateway.rate_limit_burst)
        account_orders = FileAccountOrders(VarLayout(settings.runtime.var_dir).gateway_orders)
        mode = "embedded"
    else:
        import redis

        from ringex.marketdata.redis_store import RedisMarketData

        client = redis.Redis.from_url(settings.redis.url, socket_timeout=2.0,
                                      socket_connect_timeout=2.0)
        store = _market_data(settings, client, registry, RedisMarketData)
        sink = KafkaSink(settings, registry)
        # The gateway's own state (API keys, rate-limit buckets, the per-account order index)
        # stays under redis.prefix with one instance or several (docs/deployment.md).
        accounts = Accounts(keys, client, f"{settings.redis.prefix}api-keys")
        limiter = RedisTokenBuckets(client, gateway.rate_limit_per_s, gateway.rate_limit_burst,
                                    settings.redis.prefix)
        account_orders = RedisAccountOrders(client, settings.redis.prefix)
        mode = "distributed"
    _WORKER = Dependencies(order_sink=sink, market_data=store, registry=registry,
                           accounts=accounts, rate_limiter=limiter, settings=gateway,
                           account_orders=account_orders, mode=mode)
    return _WORKER


def worker_dependencies() -> Dependencies:
    if _WORKER is None:
        return build_worker_dependencies(settings_of_process())
    return _WORKER


def close_worker_dependencies() -> None:
    global _WORKER
    dependencies, _WORKER = _WORKER, None
    if dependencies is None:
        return
    for part in (dependencies.order_sink, dependencies.account_orders,
                 dependencies.market_data):
        try:
            part.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
