"""A FAKE model server on 127.0.0.1: answers Ollama's ``GET /api/tags`` or the OpenAI-compatible
``GET /v1/models`` with a fixed list, 404 for everything else, and records the paths asked."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer


class FakeModelServer(LoopbackServer):
    def __init__(self, models: list[str], flavour: str = "ollama") -> None:
        self.models = models
        self.flavour = flavour
        self.requests: list[str] = []
        self._serve(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                body: Any
                if fake.flavour == "ollama" and self.path == "/api/tags":
                    body = {"models": [{"name": m, "model": m, "size": 1} for m in fake.models]}
                elif fake.flavour == "openai" and self.path == "/v1/models":
                    body = {"object": "list", "data": [{"id": m, "object": "model"} for m in fake.models]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    self.wfile.write(b"404 page not found")
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
