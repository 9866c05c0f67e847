"""The part every FAKE server shares: a threaded HTTP server on 127.0.0.1 at a free port, started
and stopped as a context manager. Subclasses build the request handler and say their URL."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Threading(ThreadingHTTPServer):
    request_queue_size = 256  # the listen backlog (socketserver's default is 5): concurrent clients
    daemon_threads = True  # a client that hangs up mid-request does not hold the server's shutdown


class LoopbackServer:
    prefix = ""  # path prefix of the API (e.g. "/v1")

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server: ThreadingHTTPServer = _Threading(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
