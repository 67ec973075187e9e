"""Every error answer of the gateway as ``application/problem+json`` (RFC 9457).

Why it exists: clients must be able to tell which field was wrong and never see a stack trace.
One exception type (:class:`Problem`, a ``falcon.HTTPError``) carries the status, a title, a
detail and the offending ``field``; the handlers installed by :func:`install` turn every other
exception into one: a ringex ``ValidationError`` into a 400 naming its field, falcon's own
errors (404 route, 405, 415, ...) into the same body shape, and anything unexpected into a
bare 500 problem that names nothing internal (the traceback goes to the log only).
:func:`write_server_error` does the same for the errors gunicorn answers itself, before the
app sees a request (414, 431, a malformed request line or chunk).

Called by ``gateway.app.create_app`` and ``gateway.gunicorn_config`` only.
"""

from __future__ import annotations

import logging

import falcon
import msgspec

from ringex.errors import ValidationError

__all__ = ["PROBLEM_JSON", "Problem", "bad_request", "not_found", "unavailable",
           "problem_body", "install", "write_server_error"]

PROBLEM_JSON = "application/problem+json"
_ENCODE = msgspec.json.Encoder().encode
log = logging.getLogger("ringex.gateway")


class Problem(falcon.HTTPError):
    """An HTTP error with a problem+json body; ``field`` names the offending input."""

    def __init__(self, status: int, title: str, detail: str = "", *, field: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict | None = None):
        super().__init__(falcon.code_to_http_status(status), title=title,
                         description=detail or None, headers=headers)
        self.field = field
        self.extra = extra or {}


def bad_request(field: str, detail: str) -> Problem:
    return Problem(400, "invalid request", detail, field=field)


def not_found(field: str, detail: str) -> Problem:
    return Problem(404, "not found", detail, field=field)


def unavailable(detail: str) -> Problem:
    return Problem(503, "sequencer unavailable", detail, field="sequencer",
                   headers={"Retry-After": "1"},
                   extra={"retry": "safe with the same client_order_id"})


def problem_body(status: int, title: str, detail: str | None, field: str | None,
                 extra: dict | None = None) -> dict:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if field is not None:
        body["field"] = field
    if extra:
        body.update(extra)
    return body


def _serialize(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    status = exc.status_code
    title = exc.title or "error"
    field = getattr(exc, "field", None)
    resp.data = _ENCODE(problem_body(status, title, exc.description, field,
                                     getattr(exc, "extra", None)))
    resp.content_type = PROBLEM_JSON
    resp.append_header("Vary", "Accept")


def _on_validation_error(req, resp, exc: ValidationError, params) -> None:
    raise bad_request(exc.field, exc.message)


def _on_route_not_found(req, resp, exc, params) -> None:
    raise Problem(404, "not found", f"no route {req.path[:80]!r}; GET /openapi.json lists "
                  "them", field="path")


def _on_method_not_allowed(req, resp, exc: falcon.HTTPMethodNotAllowed, params) -> None:
    allowed = (exc.headers or {}).get("Allow", "")
    raise Problem(405, "method not allowed", f"{req.method} is not allowed on "
                  f"{req.path[:80]!r}; allowed: {allowed}", field="method",
                  headers={"Allow": allowed} if allowed else None)


def _on_unexpected(req, resp, exc: Exception, params) -> None:
    if isinstance(exc, falcon.HTTPError):
        raise exc
    log.exception("unhandled error on %s %s", req.method, req.path)
    raise Problem(500, "internal error", "the request could not be processed")


def install(app: falcon.App) -> None:
    app.add_error_handler(Exception, _on_unexpected)
    app.add_error_handler(ValidationError, _on_validation_error)
    app.add_error_handler(falcon.HTTPRouteNotFound, _on_route_not_found)
    app.add_error_handler(falcon.HTTPMethodNotAllowed, _on_method_not_allowed)
    app.set_error_serializer(_serialize)


def _server_error_field(status: int, message: str) -> str:
    if status == 414:
        return "url"
    if status == 431:
        return "headers"
    lowered = message.lower()
    if "chunk" in lowered or "transfer" in lowered or "content-length" in lowered:
        return "body"
    if "header" in lowered:
        return "headers"
    return "request line"


def write_server_error(sock, status: int, reason: str, message: str) -> None:
    """gunicorn's ``util.write_error`` with a problem+json body instead of an HTML page."""
    body = _ENCODE(problem_body(status, reason.lower(), message[:200] or None,
                                _server_error_field(status, message)))
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n\r\n")
    from gunicorn.util import write_nonblock

    write_nonblock(sock, head.encode("latin-1") + body)
