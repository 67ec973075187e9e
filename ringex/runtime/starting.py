"""The gateway's address while ``ringex serve`` starts: every request gets a 503 and the reason.

Before the gateway process exists (the supervisor compiles the kernels first,
:mod:`ringex.runtime.kernels`), a client of the README's quick start would otherwise get
"connection refused" and no hint of what is going on. :class:`StartingResponder` listens on
``gateway.bind`` in a thread of the supervisor and answers any request at once with ``503``,
``Retry-After`` and a problem+json body whose ``detail`` says what the exchange is doing
(``engine starting: compiling kernels (matcher 1/4)``). It closes its socket before the
gateway starts, which then binds the same address.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["StartingResponder"]


class _Handler(BaseHTTPRequestHandler):
    server_version = "ringex-starting"

    def _answer(self) -> None:
        detail = self.server.detail  # type: ignore[attr-defined]
        body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                           "detail": detail}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

    def log_message(self, *args) -> None:  # the supervisor's log is not a request log
        pass


class _ReusingServer(ThreadingHTTPServer):
    # the gateway binds the same address right after this server closes
    allow_reuse_address = True


class StartingResponder:
    """503 with ``detail`` on ``bind`` (``host:port``) until :meth:`close`."""

    def __init__(self, bind: str, detail: str = "engine starting"):
        host, _, port = bind.rpartition(":")
        self._server = _ReusingServer((host.strip("[]") or "0.0.0.0", int(port)), _Handler)
        self._server.daemon_threads = True
        self._server.detail = detail  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="ringex-starting", daemon=True)
        self._thread.start()

    def set_detail(self, detail: str) -> None:
        self._server.detail = detail  # type: ignore[attr-defined]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
