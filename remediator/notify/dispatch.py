"""Delivery: per-channel filters, dedupe and rate limit, one background sender per channel.

``Notifier.notify(event)`` never raises and never waits for a channel: events are queued and a
daemon thread per channel delivers them in order (so a Slack reply finds its thread's ``ts``). A
channel that fails or hangs (bounded by its timeout) costs only its own thread; every delivery is
counted through ``count(channel, outcome)`` (outcome: sent, failed, rate-limited, deduplicated)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

from remediator.notify.http import send_http
from remediator.notify.message import SEVERITIES, Event
from remediator.notify.smtp import send_email
from remediator.policy import NotificationChannel, Notifications
from remediator.redact import redact

log = logging.getLogger("remediator.notify")
Count = Callable[[str, str], None]


def admits(ch: NotificationChannel, ev: Event) -> bool:
    """The channel's filters: event type, minimum severity, app and namespace globs."""
    if ev.type not in ch.events or SEVERITIES.index(ev.severity) < SEVERITIES.index(ch.min_severity):
        return False
    if not ch.apps.admits(ev.app):
        return False
    return not ev.namespace or ch.namespaces.admits(ev.namespace)


def deliver(ch: NotificationChannel, ev: Event, thread: str | None) -> str | None:
    if ch.type == "email":
        send_email(ch, ev)
        return None
    return send_http(ch, ev, thread)


class _Channel:
    def __init__(self, ch: NotificationChannel, settings: Notifications, count: Callable[[], Count]) -> None:
        self.ch, self.settings, self.count = ch, settings, count
        self.q: queue.Queue[Event] = queue.Queue(maxsize=1000)
        self.sent: deque[float] = deque()  # times of recent sends (rate limit)
        self.seen: dict[str, float] = {}  # dedupe key -> time
        self.threads: dict[str, str] = {}  # incident -> Slack thread ts
        self.lock = threading.Lock()
        self.busy = 0
        threading.Thread(target=self._loop, name=f"notify-{ch.name}", daemon=True).start()

    def offer(self, ev: Event) -> None:
        now = time.monotonic()
        key = f"{ev.incident or ev.app}|{ev.type}|{ev.content_key()}"
        with self.lock:
            for k in [k for k, t in self.seen.items() if now - t > self.settings.dedupe_seconds]:
                del self.seen[k]
            if key in self.seen:
                self.count()(self.ch.name, "deduplicated")
                return
            while self.sent and now - self.sent[0] > 60:
                self.sent.popleft()
            if len(self.sent) >= self.settings.rate_limit_per_minute:
                self.count()(self.ch.name, "rate-limited")
                log.warning("notification to %s dropped: rate limit", self.ch.name)
                return
            self.seen[key] = now
            self.sent.append(now)
            self.busy += 1
        try:
            self.q.put_nowait(ev)
        except queue.Full:
            with self.lock:
                self.busy -= 1
            self.count()(self.ch.name, "rate-limited")

    def _loop(self) -> None:
        while True:
            ev = self.q.get()
            try:
                ts = deliver(self.ch, ev, self.threads.get(ev.incident) if ev.incident else None)
                if ts and ev.incident:
                    self.threads.setdefault(ev.incident, ts)
                self.count()(self.ch.name, "sent")
            except Exception as e:  # a channel never fails a run
                self.count()(self.ch.name, "failed")
                log.warning("notification to %s failed: %s", self.ch.name, redact(str(e))[:300])
            finally:
                with self.lock:
                    self.busy -= 1

    def idle(self) -> bool:
        with self.lock:
            return self.busy == 0


class Notifier:
    """The channels of a policy's ``notifications`` section. ``count`` may be set later (the service
    points it at ``remediator_notifications_total``)."""

    def __init__(self, settings: Notifications, count: Count | None = None) -> None:
        self.count: Count = count or (lambda channel, outcome: None)
        self.channels = [_Channel(ch, settings, lambda: self.count) for ch in settings.channels]

    def notify(self, ev: Event) -> None:
        """Queue ``ev`` for every channel whose filters admit it; never raises, never blocks."""
        for c in self.channels:
            try:
                if admits(c.ch, ev):
                    c.offer(ev)
            except Exception as e:  # defensive: notifications are best effort
                log.warning("notification to %s not queued: %s", c.ch.name, redact(str(e))[:300])

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered or failed (at most ``timeout`` s); True when done."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(c.idle() for c in self.channels):
                return True
            time.sleep(0.01)
        return all(c.idle() for c in self.channels)
