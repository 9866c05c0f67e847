"""The HTTP server around the service app: uvicorn with a per-request deadline (slow-loris), and
JSON log lines (redacted) for the service's own records and uvicorn's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from remediator.redact import redact
from remediator.service.app import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the app and incident id when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in ("app", "incident"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["error"] = redact(self.formatException(record.exc_info).splitlines()[-1])
        return json.dumps(out)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("remediator")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    with contextlib.suppress(Exception):
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).handlers[:] = [handler]


# --- the HTTP server: a deadline for each request (slow-loris) ------------------------------------


_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 29\r\n\r\nrequest not complete in time\n"
)


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline uvicorn lacks: a connection must deliver a complete
    request (head and body) within ``request_timeout`` seconds of opening, or of its previous
    response, else it gets a 408 (when nothing was answered yet) and is closed. ``timeout_keep_alive``
    only covers idle connections after a response and is reset by every byte received, so a client
    trickling a request line, or sending nothing at all, would otherwise hold its connection forever.
    Past ``max_connections`` open connections, the oldest connection still owing its request is
    closed to make room (a flood of slow connections cannot lock out a client that speaks promptly)."""

    request_timeout = 10.0
    max_connections = 2048
    _deadline: asyncio.TimerHandle | None = None
    _opened = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._opened = time.monotonic()
        if len(self.connections) > self.max_connections:
            waiting = [c for c in self.connections if isinstance(c, DeadlineH11Protocol) and c._deadline is not None]
            victim = min(waiting, key=lambda c: c._opened, default=None)
            if victim is not None:
                victim._expired()
            else:  # every connection is busy with a complete request: refuse the new one
                transport.close()
                return
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        """Start the deadline while a request is awaited or arriving; stop it once it has arrived."""
        if self.transport.is_closing() or self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()
        elif self._deadline is None:
            self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if self.conn.our_state is h11.IDLE and self.conn.their_state is h11.IDLE:  # no request head yet
            self.transport.write(_TIMED_OUT)
        self.transport.close()


def server_config(app: FastAPI, host: str, port: int, settings: Settings, **extra: Any) -> uvicorn.Config:
    """The uvicorn configuration ``remediator serve`` runs with (and the tests use)."""
    protocol = type(
        "RemediatorHTTP",
        (DeadlineH11Protocol,),
        {"request_timeout": settings.request_timeout, "max_connections": settings.max_connections},
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_config=None,
        access_log=False,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers
        **extra,
    )
