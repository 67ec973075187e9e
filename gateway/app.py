"""The Falcon application: ``create_app(dependencies)`` for tests, ``get_app()`` for gunicorn.

::

    request ─► AccessMiddleware (API key -> account, token bucket, metrics)
            ─► KnownQueryParameters (only the query parameters gateway.openapi documents)
            ─► resource (orders | marketdata | pairs | service)
                 orders ─► gateway.requests (exact decoding via ringex.wire) ─► OrderSink
                 reads  ─► market-data store
            ─► JSON (msgspec) or application/problem+json (gateway.problems)

Routes are listed once, in :data:`ROUTES`; ``gateway.openapi`` documents each of them and a
test checks that the two agree.
"""

from __future__ import annotations

import falcon

from gateway import problems
from gateway.access import AccessMiddleware
from gateway.account_orders import MemoryAccountOrders
from gateway.dependencies import Dependencies
from gateway.openapi import openapi_document
from gateway.query_check import KnownQueryParameters
from gateway.resources.marketdata import BookResource, CandlesResource, TradesResource
from gateway.resources.orders import (BatchResource, OrderDesk, OrderResource, OrdersResource,
                                      EnvelopeOrderResource)
from gateway.resources.pairs import PairsResource
from gateway.resources.service import HealthResource, MetricsResource, OpenApiResource

__all__ = ["create_app", "get_app", "ROUTES", "Dependencies"]

#: (path template, resource name) in registration order.
ROUTES = (
    ("/order", "envelope_order"),
    ("/orders", "orders"),
    ("/orders/batch", "batch"),
    ("/orders/{order_id}", "order"),
    ("/book/{pair}", "book"),
    ("/book/{pair}/{quote}", "book"),
    ("/candles/{pair}", "candles"),
    ("/candles/{pair}/{quote}", "candles"),
    ("/trades/{pair}", "trades"),
    ("/trades/{pair}/{quote}", "trades"),
    ("/pairs", "pairs"),
    ("/health", "health"),
    ("/metrics", "metrics"),
    ("/openapi.json", "openapi"),
)


def create_app(dependencies: Dependencies) -> falcon.App:
    if dependencies.account_orders is None:
        dependencies.account_orders = MemoryAccountOrders()
    app = falcon.App(middleware=[AccessMiddleware(dependencies),
                                 KnownQueryParameters(openapi_document(dependencies))],
                     cors_enable=False)
    app.req_options.strip_url_path_trailing_slash = True
    problems.install(app)
    desk = OrderDesk(dependencies)
    resources = {
        "envelope_order": EnvelopeOrderResource(desk),
        "orders": OrdersResource(desk),
        "batch": BatchResource(desk),
        "order": OrderResource(desk),
        "book": BookResource(dependencies),
        "candles": CandlesResource(dependencies),
        "trades": TradesResource(dependencies),
        "pairs": PairsResource(dependencies),
        "health": HealthResource(dependencies),
        "metrics": MetricsResource(dependencies),
        "openapi": OpenApiResource(dependencies),
    }
    for path, name in ROUTES:
        app.add_route(path, resources[name])
    return app


def get_app() -> falcon.App:
    """The app of one gunicorn worker, over the sink and store built in ``post_fork``."""
    from gateway import wiring

    return create_app(wiring.worker_dependencies())
