"""Small request/response helpers shared by the resources: bodies, JSON out, query values,
pair names in paths.

Bodies are read up to ``max_body_bytes + 1`` so an oversized chunked body is refused (413)
without being read whole. JSON goes out through one ``msgspec`` encoder.
"""

from __future__ import annotations

import falcon
import msgspec

from ringex.errors import UnknownPairError
from ringex.pairs import Pair, PairRegistry

from gateway.problems import Problem, bad_request, not_found

__all__ = ["read_body", "send_json", "query_int", "path_pair", "path_order_id"]

_ENCODE = msgspec.json.Encoder().encode
_INT64_MAX = 2**63 - 1


def read_body(req: falcon.Request, limit: int) -> bytes:
    length = req.content_length
    if length is not None and length > limit:
        raise Problem(413, "body too large", f"{length} bytes; the limit is {limit}",
                      field="body")
    try:
        if length is None and req.env.get("wsgi.input_terminated"):
            body = req.stream.read(limit + 1)  # chunked: the server ends the stream
        else:
            body = req.bounded_stream.read(limit + 1)
    except Exception as exc:  # noqa: BLE001 - the server's framing errors have no common base
        # gunicorn raises its parser's errors (InvalidChunkSize, ChunkMissingTerminator,
        # NoMoreData, ...) from the body stream; each is the client's malformed framing.
        raise Problem(400, "malformed body framing", f"{type(exc).__name__}: {exc}"[:200],
                      field="body") from None
    if len(body) > limit:
        raise Problem(413, "body too large", f"more than {limit} bytes", field="body")
    if length is not None and len(body) < length:
        raise Problem(400, "malformed body framing", f"the body ended after {len(body)} of "
                      f"the {length} bytes its Content-Length announced", field="body")
    if not body:
        raise bad_request("body", "missing: expected a JSON object")
    return body


def send_json(resp: falcon.Response, value, status: int = 200) -> None:
    resp.status = falcon.code_to_http_status(status)
    resp.data = _ENCODE(value)
    resp.content_type = falcon.MEDIA_JSON


def query_int(req: falcon.Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = req.get_param(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and (raw.isdigit() or (raw[0] == "-" and raw[1:].isdigit()))) \
            or len(raw) > 20:
        raise bad_request(name, f"expected an integer, got {raw[:40]!r}")
    value = int(raw)
    if not lo <= value <= hi:
        raise bad_request(name, f"must be in {lo} .. {hi}, not {value}")
    return value


def path_pair(registry: PairRegistry, params: dict) -> Pair:
    """``{pair}`` (``BTC-USDT``) or ``{pair}/{quote}`` (``BTC%2FUSDT`` decoded by the server)."""
    name = params.get("pair", "")
    if "quote" in params:
        name = f"{name}/{params['quote']}"
    try:
        return registry.get(name)
    except UnknownPairError:
        raise not_found("pair", f"unknown pair {name[:40]!r}") from None


def path_order_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or raw[0] == "0":
        raise bad_request("order_id", f"expected an order id (1 .. 2**63 - 1), got {raw[:40]!r}")
    value = int(raw)
    if value > _INT64_MAX:
        raise bad_request("order_id", "expected an order id (1 .. 2**63 - 1)")
    return value
