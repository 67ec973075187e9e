"""While ``ringex serve`` compiles its kernels, the gateway's address answers 503 with why."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from ringex.runtime.starting import StartingResponder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(method: str, url: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    error = raised.value
    return error.code, dict(error.headers), json.loads(error.read())


def test_every_request_gets_503_with_the_stage_until_closed_then_the_port_is_free():
    port = _free_port()
    responder = StartingResponder(f"127.0.0.1:{port}", "engine starting: compiling kernels")
    try:
        status, headers, body = _request("GET", f"http://127.0.0.1:{port}/health")
        assert status == 503 and headers["Content-Type"] == "application/problem+json"
        assert headers["Retry-After"] == "1"
        assert body["detail"] == "engine starting: compiling kernels" and body["status"] == 503
        responder.set_detail("engine starting: compiling kernels (matcher 1/4)")
        status, _, body = _request("POST", f"http://127.0.0.1:{port}/order")
        assert status == 503 and body["detail"].endswith("(matcher 1/4)")
    finally:
        responder.close()
    with socket.socket() as s:  # the gateway binds the same address next
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
