"""FAKE chat receivers on 127.0.0.1 that check each service's documented payload shape and record
every accepted request: Slack Web API ``chat.postMessage`` (bot token, Block Kit ``blocks``, answers
``ok``/``ts``), Discord execute-webhook (``embeds``, ``allowed_mentions``), Teams incoming webhook
(a message with one Adaptive Card attachment), a generic JSON webhook, and a receiver that answers
500 or hangs. A malformed payload gets 400 (Slack: ``ok: false``) and is recorded in ``errors``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from tests.fakes.loopback import LoopbackServer

Kind = Literal["slack", "slack-webhook", "discord", "teams", "webhook", "fail", "hang"]


def _problems(kind: str, path: str, headers: dict[str, str], body: Any) -> list[str]:
    out: list[str] = []
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    if kind == "slack":
        # https://api.slack.com/methods/chat.postMessage
        if path != "/api/chat.postMessage":
            out.append(f"path {path}")
        if headers.get("authorization") != "Bearer xoxb-test-token":
            out.append("no bot token")
        if not isinstance(body.get("channel"), str):
            out.append("no channel")
        blocks = body.get("blocks")
        if not isinstance(blocks, list) or not blocks or len(blocks) > 50:
            out.append("blocks")
        for b in blocks or []:
            if b.get("type") not in ("section", "context", "header", "divider", "actions"):
                out.append(f"block type {b.get('type')}")
            if b.get("type") == "section" and not (b.get("text") or b.get("fields")):
                out.append("section without text or fields")
        if "thread_ts" in body and not isinstance(body["thread_ts"], str):
            out.append("thread_ts")
    elif kind == "slack-webhook":
        # https://api.slack.com/messaging/webhooks: text and/or blocks; no channel, no threads
        if not isinstance(body.get("text"), str) or not isinstance(body.get("blocks"), list) or "thread_ts" in body:
            out.append("incoming webhook body")
    elif kind == "discord":
        # https://discord.com/developers/docs/resources/webhook#execute-webhook
        embeds = body.get("embeds")
        if not isinstance(embeds, list) or not 1 <= len(embeds) <= 10:
            out.append("embeds")
        for e in embeds or []:
            if len(e.get("title", "")) > 256 or len(e.get("description", "")) > 4096:
                out.append("embed limits")
            if len(e.get("fields", [])) > 25:
                out.append("too many fields")
        if body.get("allowed_mentions") != {"parse": []}:
            out.append("allowed_mentions")
    elif kind == "teams":
        att = body.get("attachments")
        if body.get("type") != "message" or not isinstance(att, list) or not att:
            out.append("not a message with attachments")
        else:
            a = att[0]
            if a.get("contentType") != "application/vnd.microsoft.card.adaptive":
                out.append("contentType")
            card = a.get("content") or {}
            if card.get("type") != "AdaptiveCard" or not isinstance(card.get("body"), list) or not card.get("version"):
                out.append("AdaptiveCard")
    elif kind == "webhook":
        if body.get("schema") != "remediator.notification/v1":
            out.append("schema")
        for k in ("event", "severity", "app", "title", "summary", "fields", "steps", "links", "time"):
            if k not in body:
                out.append(f"missing {k}")
    return out


class ChatReceiver(LoopbackServer):
    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.received: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.release = threading.Event()  # "hang": answers once set
        self._serve(self._handler())

    @property
    def webhook_url(self) -> str:
        return self.url + "/hook/T000/B000/XXXX"

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        super().__exit__(*exc)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fake.kind == "hang":
                    fake.release.wait(30)
                    return
                if fake.kind == "fail":
                    return self._send(500, {"error": "boom"})
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                problems = _problems(fake.kind, self.path, headers, body)
                if problems:
                    fake.errors += problems
                    return self._send(200 if fake.kind == "slack" else 400, {"ok": False, "error": problems[0]})
                fake.received.append(body)
                if fake.kind == "slack":
                    return self._send(
                        200, {"ok": True, "channel": body["channel"], "ts": f"1700000000.{len(fake.received):06d}"}
                    )
                if fake.kind == "discord":  # execute-webhook without ?wait=true: 204, no body
                    self.send_response(204)
                    self.end_headers()
                    return
                self._send(200, {})

        return Handler
