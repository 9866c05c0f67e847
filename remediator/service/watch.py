"""``remediator watch``: for clusters without argocd-notifications, watch Application objects through
the Kubernetes API and start the flow when an app becomes Degraded (and when it recovers, so open
PRs hear about it). List, then watch from the list's ``resourceVersion``; bookmarks move it on; a
``410 Gone`` (expired version) re-lists; other errors back off exponentially."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from remediator.evidence.sources.live import LiveSource, WatchExpired

log = logging.getLogger("remediator.service.watch")

OnChange = Callable[[str, str | None, str], None]  # app, old health, new health


def _health(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("health") or {}).get("status") or "Unknown")


class ApplicationWatcher:
    def __init__(
        self,
        source: LiveSource,
        on_change: OnChange,
        timeout_seconds: int = 300,
        max_backoff: float = 30.0,
    ) -> None:
        self.source = source
        self.on_change = on_change
        self.timeout_seconds = timeout_seconds
        self.max_backoff = max_backoff
        self.health: dict[str, str] = {}
        self.degraded: set[str] = set()  # apps seen Degraded and not yet Healthy again
        self.resource_version: str | None = None
        self.relists = 0
        self.errors = 0

    def _relist(self) -> None:
        items, self.resource_version = self.source.list_applications()
        self.relists += 1
        seen = set()
        for app in items:
            self._observe(app)
            seen.add(str((app.get("metadata") or {}).get("name")))
        for gone in set(self.health) - seen:
            del self.health[gone]

    def _observe(self, app: dict[str, Any]) -> None:
        name = str((app.get("metadata") or {}).get("name") or "")
        if not name:
            return
        new, old = _health(app), self.health.get(name)
        self.health[name] = new
        fire = False
        if new == "Degraded" and name not in self.degraded:
            self.degraded.add(name)
            fire = True
        elif new == "Healthy" and name in self.degraded:  # recovered, through Progressing or not
            self.degraded.discard(name)
            fire = True
        if fire:
            log.info("application health %s -> %s", old or "(first seen)", new, extra={"app": name})
            self.on_change(name, old, new)

    def _watch_once(self, stop: threading.Event) -> None:
        for kind, obj in self.source.watch_applications(self.resource_version, self.timeout_seconds):
            if stop.is_set():
                return
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv:
                self.resource_version = str(rv)
            if kind in ("ADDED", "MODIFIED"):
                self._observe(obj)
            elif kind == "DELETED":
                self.health.pop(str((obj.get("metadata") or {}).get("name")), None)

    def run(self, stop: threading.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            try:
                if self.resource_version is None:
                    self._relist()
                self._watch_once(stop)
                backoff = 1.0
            except WatchExpired:
                log.info("watch: resourceVersion %s expired; listing again", self.resource_version)
                self.resource_version = None
            except Exception as e:  # network, 5xx, 403: back off and go on
                self.errors += 1
                log.warning("watch failed (%s: %s); retrying in %.0fs", type(e).__name__, str(e)[:200], backoff)
                if stop.wait(backoff):
                    return
                backoff = min(backoff * 2, self.max_backoff)
