"""One incident's run: evidence -> diagnosis -> pull request, with the attempt cap per cause."""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from remediator.assist.hook import assisted
from remediator.diagnose import diagnose
from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence, Obj
from remediator.policy import Policy
from remediator.publish.base import Provider
from remediator.publish.checkout import Checkout
from remediator.publish.propose import cause_key, propose
from remediator.service.journal import Journal


@dataclass
class RunResult:
    state: str  # done | failed | refused
    outcome: str
    message: str
    pr_url: str = ""
    cause: str = ""
    durations: dict[str, float] = field(default_factory=dict)


class Runner(Protocol):
    def applications(self) -> list[Obj]: ...

    def run(self, app: str, payload: dict[str, Any], stage: Callable[[str], None]) -> RunResult: ...

    def ready(self) -> str | None:
        """None when the dependencies answer, else what is wrong."""


EvidenceLoader = Callable[[str], Evidence]


def snapshot_loader(root: Path) -> EvidenceLoader:
    """Evidence from ``root/<app>/`` snapshot folders (offline demos, tests, benchmarks)."""
    from remediator.evidence.sources.snapshot import SnapshotSource

    def load(app: str) -> Evidence:
        return SnapshotSource(root / app).load(app)

    return load


def snapshot_applications(root: Path) -> Callable[[], list[Obj]]:
    """The Applications of every ``root/<app>/`` snapshot folder."""
    from remediator.evidence.sources.snapshot import SnapshotSource

    def apps() -> list[Obj]:
        out: list[Obj] = []
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            out += SnapshotSource(d).load(None).all("Application")
        return out

    return apps


class FlowRunner:
    def __init__(
        self,
        load: EvidenceLoader,
        list_apps: Callable[[], list[Obj]],
        policy: Policy,
        provider_for: Callable[[str], Provider],
        cache: Path,
        journal: Journal,
        token: str | None = None,
        max_prs_per_cause: int = 3,
        repo_url_override: Callable[[str], str | None] | None = None,
    ) -> None:
        self.load = load
        self.list_apps = list_apps
        self.policy = policy
        self.provider_for = provider_for
        self.cache = cache
        self.journal = journal
        self.token = token
        self.max_prs = max_prs_per_cause
        self.repo_url_override = repo_url_override
        self._apps: tuple[float, list[Obj]] = (0.0, [])
        self._repo_locks: dict[Path, threading.Lock] = {}
        self._repo_locks_guard = threading.Lock()

    @contextmanager
    def repository(self, path: Path) -> Iterator[None]:
        """One run at a time per clone: the apps of a monorepo share one working tree (sync, branch,
        edit, commit, push must not interleave). A thread lock for this process's workers, and an
        ``flock`` on ``<clone>.lock`` for other processes sharing the cache (a CLI ``fix``, a second
        replica)."""
        with self._repo_locks_guard:
            lock = self._repo_locks.setdefault(path, threading.Lock())
        with lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path.with_name(path.name + ".lock"), "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def applications(self) -> list[Obj]:
        if time.time() - self._apps[0] > 30:
            self._apps = (time.time(), self.list_apps())
        return self._apps[1]

    def ready(self) -> str | None:
        """The journal answers and the evidence source lists Applications (cached for 30 s)."""
        if not self.journal.ping():
            return "journal unavailable"
        try:
            self.applications()
        except Exception as e:  # the cluster or Argo CD does not answer
            return f"cannot list applications: {str(e)[:200]}"
        return None

    def run(self, app: str, payload: dict[str, Any], stage: Callable[[str], None]) -> RunResult:
        durations: dict[str, float] = {}
        t = time.perf_counter()
        stage("evidence")
        ev = self.load(app)
        durations["evidence"] = time.perf_counter() - t
        t = time.perf_counter()
        stage("diagnose")
        d, expl, _ = assisted(ev, diagnose(ev, app), self.policy)
        durations["diagnose"] = time.perf_counter() - t
        f = d.top
        cause = cause_key(app, f) if f is not None else ""
        if f is not None and cause and self.journal.prs_for(app, cause) >= self.max_prs:
            return RunResult(
                "refused", "capped",
                f"{self.max_prs} pull requests were already opened for this cause of {app}; not opening another "
                "(the app stays Degraded after the bot's fixes: a person should look)", cause=cause, durations=durations,
            )  # fmt: skip
        src: dict[str, Any] = (
            dig(ev.app, "spec", "source") or next(iter(dig(ev.app, "spec", "sources") or []), {}) or {}
        )
        url = (self.repo_url_override(app) if self.repo_url_override else None) or str(src.get("repoURL") or "")
        if not url:
            return RunResult(
                "refused", "no-repo", f"{app}: the Application names no repoURL", cause=cause, durations=durations
            )
        t = time.perf_counter()
        stage("propose")
        why = (expl.text, expl.source) if expl is not None else None
        checkout = Checkout(url, self.cache, self.token)
        with self.repository(checkout.path):
            out = propose(
                d,
                ev,
                self.policy,
                self.provider_for(url),
                checkout,
                src.get("targetRevision"),
                why,
            )
        durations["propose"] = time.perf_counter() - t
        if out.action == "opened":
            self.journal.count_pr(app, cause)
        return RunResult("done", out.action, out.message, out.pr.url if out.pr else "", cause, durations)
