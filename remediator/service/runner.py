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

from remediator.diagnose import Diagnosis
from remediator.evidence.store import Evidence, Obj
from remediator.flow import CredentialsCheck, GitToken, NoRepository, PullRequestTarget, Refusal, repository, run
from remediator.policy import Policy
from remediator.publish.base import Provider
from remediator.publish.propose import ReviewNotes, cause_key
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
        token: GitToken = None,
        max_prs_per_cause: int = 3,
        repo_url_override: Callable[[str], str | None] | None = None,
        review_notes: ReviewNotes | None = None,
        report_only: bool = False,
        credentials: CredentialsCheck | None = None,
    ) -> None:
        """``credentials``: whether the provider accepts its credentials (part of :meth:`ready`)."""
        self.load = load
        self.list_apps = list_apps
        self.policy = policy
        self.provider_for = provider_for
        self.cache = cache
        self.journal = journal
        self.token = token
        self.max_prs = max_prs_per_cause
        self.repo_url_override = repo_url_override
        self.review_notes = review_notes
        self.report_only = report_only  # diagnose and journal; the PR target runs dry (no PR, no push)
        self.credentials = credentials
        self._credentials: tuple[float, str | None] = (-1e9, None)
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
        """The journal answers, the evidence source lists Applications (cached for 30 s) and the
        provider accepts its credentials (cached for 60 s)."""
        if not self.journal.ping():
            return "journal unavailable"
        try:
            self.applications()
        except Exception as e:  # the cluster or Argo CD does not answer
            return f"cannot list applications: {str(e)[:200]}"
        if self.credentials is not None:
            if time.monotonic() - self._credentials[0] > 60:
                self._credentials = (time.monotonic(), self.credentials())
            return self._credentials[1]
        return None

    def run(self, app: str, payload: dict[str, Any], stage: Callable[[str], None]) -> RunResult:
        """The shared incident flow, with this service's attempt cap per cause and lock per clone."""
        cause = ""
        target = PullRequestTarget(
            self.provider_for,
            self.cache,
            self.token,
            repo_url=self.repo_url_override(app) if self.repo_url_override else None,
            review_notes=self.review_notes,
            dry_run=self.report_only,
        )

        def gate(ev: Evidence, d: Diagnosis) -> Refusal | None:
            """The attempt cap per cause, then a repository to clone; before anything is cloned."""
            nonlocal cause
            f = d.top
            cause = cause_key(app, f) if f is not None else ""
            if f is not None and cause and self.journal.prs_for(app, cause) >= self.max_prs:
                return Refusal(
                    "capped",
                    f"{self.max_prs} pull requests were already opened for this cause of {app}; not opening another "
                    "(the app stays Degraded after the bot's fixes: a person should look)",
                )
            try:
                repository(ev, target)
            except NoRepository:
                return Refusal("no-repo", f"{app}: the Application names no repoURL")
            return None

        res = run(lambda: self.load(app), self.policy, target, app, stage, gate, self.repository)
        if res.refusal is not None:
            return RunResult("refused", res.refusal.outcome, res.refusal.message, cause=cause, durations=res.durations)
        out = res.outcome
        assert out is not None
        if self.report_only:
            top = res.assessment.diagnosis.top
            found = f"[{top.category}] {top.summary}" if top is not None else "no finding"
            would = f"; would {out.action}: {out.message}"
            return RunResult("done", "report-only", found + would, "", cause, res.durations)
        if out.action == "opened":
            self.journal.count_pr(app, cause)
        return RunResult("done", out.action, out.message, out.pr.url if out.pr else "", cause, res.durations)
