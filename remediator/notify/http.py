"""Channel adapters over HTTP (httpx): Slack Web API / incoming webhook, Discord, Teams, generic webhook.

Each ``send`` returns the Slack thread id it learned (or None) and raises on any failure; the
dispatcher catches, logs and counts. Timeouts are the channel's ``timeout_seconds``."""

from __future__ import annotations

import os
from typing import Any

import httpx

from remediator.errors import TemporaryError
from remediator.notify.message import (
    Event,
    discord_payload,
    slack_payload,
    teams_payload,
    webhook_payload,
)
from remediator.policy import NotificationChannel


class ChannelError(TemporaryError):
    """A channel did not take a message (HTTP status, Slack ``ok: false``, missing configuration)."""


def _env(name: str | None) -> str:
    value = os.environ.get(name or "", "")
    if not value:
        raise ChannelError(f"environment variable {name} is not set")
    return value


def _post(url: str, body: dict[str, Any], timeout: float, headers: dict[str, str] | None = None) -> httpx.Response:
    try:
        r = httpx.post(url, json=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as e:
        raise ChannelError(f"{type(e).__name__}") from e  # never the URL: webhook URLs are secrets
    if r.status_code >= 300:
        raise ChannelError(f"HTTP {r.status_code}")
    return r


def send_http(ch: NotificationChannel, ev: Event, thread: str | None) -> str | None:
    """Deliver ``ev`` on ``ch``; for Slack's Web API ``thread`` is the ``ts`` of the incident's first
    message (the reply goes to that thread) and the ``ts`` of a new thread is returned."""
    t = ch.timeout_seconds
    if ch.type == "slack":
        body = slack_payload(ev)
        if ch.token_env and ch.channel:
            body["channel"] = ch.channel
            if thread:
                body["thread_ts"] = thread
            r = _post(
                ch.api_url.rstrip("/") + "/chat.postMessage",
                body,
                t,
                {"Authorization": f"Bearer {_env(ch.token_env)}", "Content-Type": "application/json; charset=utf-8"},
            )
            try:
                data = r.json()
            except ValueError as e:
                raise ChannelError("Slack answered no JSON") from e
            if not isinstance(data, dict) or not data.get("ok"):
                err = data.get("error") if isinstance(data, dict) else None
                raise ChannelError(f"Slack: {str(err or 'not ok')[:100]}")
            return thread or str(data.get("ts") or "") or None
        _post(_env(ch.url_env), body, t)
        return None
    if ch.type == "discord":
        _post(_env(ch.url_env), discord_payload(ev), t)
    elif ch.type == "teams":
        _post(_env(ch.url_env), teams_payload(ev), t)
    elif ch.type == "webhook":
        _post(_env(ch.url_env), webhook_payload(ev), t, {"User-Agent": "remediator"})
    else:
        raise ChannelError(f"not an HTTP channel: {ch.type}")
    return None
