"""A query parameter that the route does not document is a 400 that names it.

Why it exists: an ignored parameter silently widens an answer (``GET
/orders?client_order_id=x`` used to list every order of the account). The OpenAPI document
(``gateway.openapi``) is the one list of what each route takes, so the check reads it
instead of keeping a second list.
"""

from __future__ import annotations

import falcon

from gateway.problems import Problem

__all__ = ["KnownQueryParameters"]


class KnownQueryParameters:
    """Falcon middleware over ``openapi_document(...)``."""

    def __init__(self, document: dict):
        self.allowed: dict[tuple[str, str], frozenset[str]] = {}
        for path, item in document["paths"].items():
            shared = [p["name"] for p in item.get("parameters", []) if p["in"] == "query"]
            for method, operation in item.items():
                if method == "parameters":
                    continue
                names = shared + [p["name"] for p in operation.get("parameters", [])
                                  if p["in"] == "query"]
                self.allowed[(path, method.upper())] = frozenset(names)

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource,
                         params) -> None:
        # /book/{pair}/{quote} is /book/{pair} with a slash in the pair (BTC/USDT)
        template = (req.uri_template or "").replace("/{quote}", "")
        allowed = self.allowed.get((template, req.method))
        if allowed is None:  # OPTIONS, HEAD: nothing to check
            return
        unknown = sorted(set(req.params) - allowed)
        if unknown:
            takes = ", ".join(sorted(allowed)) or "none"
            raise Problem(400, "unknown query parameter",
                          f"{', '.join(repr(n[:40]) for n in unknown[:5])} not known here; "
                          f"{req.method} {template} takes: {takes}", field=unknown[0][:40])
