"""Malformed HTTP, sent byte for byte to the real gunicorn gateway, gets the documented
problem+json answer: never a 500, never an HTML page (docs/api.md, Errors)."""

from __future__ import annotations

import json
import socket

import pytest

WRITES = [("POST", "/order"), ("POST", "/orders"), ("POST", "/orders/batch"),
          ("PATCH", "/orders/1")]


def _exchange(exchange, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request``, half-close, read the whole answer."""
    with socket.create_connection((exchange.host, exchange.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def _problem(exchange, request: bytes, status: int, field: str) -> dict:
    got, headers, body = _exchange(exchange, request)
    assert got == status, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"] and problem["field"] == field
    return problem


def _write(exchange, method: str, path: str, extra: bytes) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {exchange.api_key}\r\n"
            f"Connection: close\r\n").encode() + extra


@pytest.mark.parametrize("method,path", WRITES)
@pytest.mark.parametrize("framing", [
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",   # a chunk size that is no hex
    b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",             # the last chunk never comes
    b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",      # no CRLF after a chunk
    b"Content-Length: 100\r\n\r\n{}",                            # the body ends early
], ids=["bad-size", "no-last-chunk", "no-terminator", "short-body"])
def test_malformed_framing_of_every_write_is_a_400_on_the_body(embedded_exchange, method, path,
                                                               framing):
    problem = _problem(embedded_exchange, _write(embedded_exchange, method, path, framing),
                       400, "body")
    assert problem["title"] == "malformed body framing"


def test_a_long_url_is_a_414_problem(embedded_exchange):
    _problem(embedded_exchange,
             b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             414, "url")


def test_too_large_headers_are_a_431_problem(embedded_exchange):
    _problem(embedded_exchange, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000
             + b"\r\nConnection: close\r\n\r\n", 431, "headers")


def test_a_malformed_request_line_is_a_400_problem(embedded_exchange):
    _problem(embedded_exchange, b"BLAH\r\n\r\n", 400, "request line")


def test_an_unknown_route_is_a_404_problem_naming_the_path(embedded_exchange):
    problem = _problem(embedded_exchange,
                       b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "path")
    assert "/nope" in problem["detail"]


def test_a_method_not_allowed_is_a_405_problem_with_allow(embedded_exchange):
    request = b"PUT /order HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    problem = _problem(embedded_exchange, request, 405, "method")
    assert "POST" in problem["detail"]
    assert "POST" in _exchange(embedded_exchange, request)[1]["allow"]
