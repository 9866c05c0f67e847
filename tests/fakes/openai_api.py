"""A FAKE OpenAI-compatible server on 127.0.0.1 that scripts conversations: ``/v1/models`` and
``/v1/chat/completions`` (non-streaming and SSE streaming), tool calls, a 429 with Retry-After, a
500, an answer slower than the client's timeout, a 400 for models without tool support. Every
request body is recorded (to check what left the process)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer

Step = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


def say(text: str) -> dict[str, Any]:
    return {"content": text}


def call(tool: str, /, **args: Any) -> dict[str, Any]:
    return {"tool_calls": [(tool, args)]}


def fail(status: int, headers: dict[str, str] | None = None, message: str = "injected") -> dict[str, Any]:
    return {"status": status, "headers": headers or {}, "message": message}


def slow(seconds: float, then: dict[str, Any]) -> dict[str, Any]:
    return {"sleep": seconds, "then": then}


class FakeOpenAI(LoopbackServer):
    prefix = "/v1"

    def __init__(self, script: list[Step] | None = None, model: str = "qwen3:4b", tools: bool = True) -> None:
        self.script = list(script or [])
        self.model = model
        self.tools = tools
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._serve(self._handler())

    def sent_text(self) -> str:
        return json.dumps(self.requests)

    def _next(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            step = self.script.pop(0) if self.script else say("I cannot tell.")
        return step(req) if callable(step) else step

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/v1/models"):
                    self._json(
                        200, {"object": "list", "data": [{"id": fake.model, "object": "model", "owned_by": "fake"}]}
                    )
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append(req)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": "not found"}})
                if req.get("tools") and not fake.tools:
                    return self._json(
                        400,
                        {"error": {"message": "this model does not support tools", "type": "invalid_request_error"}},
                    )
                step = fake._next(req)
                if "sleep" in step:
                    time.sleep(step["sleep"])
                    step = step["then"]
                if "status" in step:
                    return self._json(
                        step["status"], {"error": {"message": step["message"], "type": "server_error"}}, step["headers"]
                    )
                message: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
                if step.get("tool_calls"):
                    message["tool_calls"] = [
                        {
                            "id": f"call_{len(fake.requests)}_{i}",
                            "type": "function",
                            "function": {"name": n, "arguments": json.dumps(a)},
                        }
                        for i, (n, a) in enumerate(step["tool_calls"])
                    ]
                prompt = sum(len(str(m.get("content") or "")) for m in req.get("messages", [])) // 4 + 1
                completion = len(json.dumps(message)) // 4 + 1
                usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
                finish = "tool_calls" if message.get("tool_calls") else "stop"
                if req.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for piece in (message.get("content") or "").split(" "):
                        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": fake.model,
                                 "choices": [{"index": 0, "delta": {"content": piece + " "}, "finish_reason": None}]}  # fmt: skip
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    end = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": fake.model,
                           "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}  # fmt: skip
                    self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                    self.close_connection = True
                    return None
                return self._json(
                    200,
                    {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": fake.model,
                     "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage},
                )  # fmt: skip

        return Handler
