"""A FAKE container registry on 127.0.0.1 (Docker Registry HTTP API v2): ``GET /v2/<repo>/tags/list``
answers 401 with a ``WWW-Authenticate: Bearer`` challenge until it gets the anonymous token that
``GET /token?service=...&scope=repository:<repo>:pull`` hands out, pages with ``n``/``last`` and a
``Link`` header, and 404 ``NAME_UNKNOWN`` for repositories it does not have. Records every request."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackServer


class FakeRegistry(LoopbackServer):
    def __init__(self, repos: dict[str, list[str]], page: int = 0, auth: bool = True) -> None:
        self.repos = repos
        self.page = page
        self.auth = auth
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._serve(self._handler())

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/token":
                    scope = q.get("scope", "")
                    self._send(200, {"token": f"anon|{scope}", "expires_in": 300})
                    return
                if not (parts.path.startswith("/v2/") and parts.path.endswith("/tags/list")):
                    self._send(404, {"errors": [{"code": "NOT_FOUND"}]})
                    return
                repo = parts.path[len("/v2/") : -len("/tags/list")]
                scope = f"repository:{repo}:pull"
                if fake.auth and self.headers.get("Authorization") != f"Bearer anon|{scope}":
                    challenge = f'Bearer realm="http://{fake.host}/token",service="fake-registry",scope="{scope}"'
                    self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge})
                    return
                if repo not in fake.repos:
                    self._send(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]})
                    return
                tags = sorted(fake.repos[repo])
                if "last" in q:
                    tags = [t for t in tags if t > q["last"]]
                n = int(q.get("n") or fake.page or len(tags) or 1)
                headers = {}
                if len(tags) > n:
                    headers["Link"] = f'</v2/{repo}/tags/list?n={n}&last={tags[n - 1]}>; rel="next"'
                self._send(200, {"name": repo, "tags": tags[:n]}, headers)

        return Handler
