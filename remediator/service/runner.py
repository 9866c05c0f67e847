"""One incident's run: evidence -> diagnosis -> pull request, with the attempt cap per cause."""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from remediator.diagnose import Diagnosis
from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence, Obj
from remediator.flow import (
    CredentialsCheck,
    FlowResult,
    GitToken,
    NoRepository,
    PullRequestTarget,
    Refusal,
    repository,
    run,
)
from remediator.notify import Notifier
from remediator.notify import message as note
from remediator.policy import Policy
from remediator.publish.base import Provider, PullRequest
from remediator.publish.propose import ReviewNotes, alert_resolved, cause_key
from remediator.service.journal import Journal
from remediator.views.diagnosis import next_steps


@dataclass
class RunResult:
    state: str  # done | failed | refused
    outcome: str
    message: str
    pr_url: str = ""
    cause: str = ""
    durations: dict[str, float] = field(default_factory=dict)
    category: str = ""  # of the top finding (journaled, shown by `remediator incidents`)
    culprit: str = ""


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
        notifier: Notifier | None = None,
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
        # chat/webhook/email notifications of the policy (best effort, never fails a run)
        self.notifier = notifier or (Notifier(policy.notifications) if policy.notifications.channels else None)
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

    def alert_resolved(self, app: str, pr_url: str, text: str, key: str) -> bool:
        """Say on the app's open PR ``pr_url`` that its alert resolved (never in report-only mode)."""
        if self.report_only or not pr_url:
            return False
        url = self.repo_url_override(app) if self.repo_url_override else None
        if not url:
            a = next((a for a in self.applications() if dig(a, "metadata", "name") == app), None)
            url = str(dig(a, "spec", "source", "repoURL") or dig(a, "spec", "sources", 0, "repoURL") or "")
        if not url:
            return False
        return alert_resolved(self.provider_for(url), self.policy, app, pr_url, text, key)

    def run(self, app: str, payload: dict[str, Any], stage: Callable[[str], None]) -> RunResult:
        """The shared incident flow, with this service's attempt cap per cause and lock per clone."""
        cause = ""
        found_top = {"category": "", "culprit": ""}
        target = PullRequestTarget(
            self.provider_for,
            self.cache,
            self.token,
            repo_url=self.repo_url_override(app) if self.repo_url_override else None,
            review_notes=self.review_notes,
            dry_run=self.report_only,
            rejected=self.journal.rejected,
        )

        def gate(ev: Evidence, d: Diagnosis) -> Refusal | None:
            """The attempt cap per cause, then a repository to clone; before anything is cloned."""
            nonlocal cause
            f = d.top
            cause = cause_key(app, f) if f is not None else ""
            if f is not None:
                found_top.update(category=f.category.value, culprit=str(f.culprit))
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
        self.notify(app, cause, res)
        if res.refusal is not None:
            return RunResult(
                "refused", res.refusal.outcome, res.refusal.message, cause=cause, durations=res.durations, **found_top
            )
        out = res.outcome
        assert out is not None
        if self.report_only:
            top = res.assessment.diagnosis.top
            found = f"[{top.category}] {top.summary}" if top is not None else "no finding"
            would = f"; would {out.action}: {out.message}"
            return RunResult("done", "report-only", found + would, "", cause, res.durations, **found_top)
        if out.action == "opened":
            self.journal.count_pr(app, cause)
        return RunResult(
            "done", out.action, out.message, out.pr.url if out.pr else "", cause, res.durations, **found_top
        )

    # --- commands on the bot's pull requests (service/commands, POST /v1/hooks/github) --------

    def command_pull(self, repo: str, repo_url: str, number: int) -> tuple[Provider, PullRequest, bool] | None:
        """The provider of GitHub repository ``repo`` (owner/name), its pull request ``number`` and
        whether it is the bot's own (``publish.base.owned``). None: a repository this bot does not
        publish to, or no such pull request."""
        from remediator.publish.base import CommandHost, owned

        provider = self.provider_for(repo_url or f"https://github.com/{repo}")
        if not isinstance(provider, CommandHost) or str(getattr(provider, "slug", repo)).lower() != repo.lower():
            return None
        pr = provider.pull(number)
        if pr is None:
            return None
        login = provider.login(self.policy.pull_requests.bot_login)
        return provider, pr, owned(pr, login, self.policy.git.branch_prefix)

    def command_permission(self, provider: Provider, login: str) -> str:
        """``login``'s permission on the provider's repository (none when it cannot say)."""
        from remediator.publish.base import CommandHost

        return provider.permission(login) if isinstance(provider, CommandHost) else "none"

    def command_reply(self, provider: Provider, pr: PullRequest, text: str) -> bool:
        """Comment on the bot's PR (never in report-only mode). Returns whether it was posted."""
        if self.report_only:
            return False
        provider.comment(pr, text)
        return True

    def command_explain(self, app: str) -> str:
        """The app's diagnosis from evidence collected now, as redacted text."""
        from remediator.diagnose import diagnose
        from remediator.views.diagnosis import to_text

        return to_text(diagnose(self.load(app), app), redacted=True)

    def command_close(self, provider: Provider, pr: PullRequest, app: str, reason: str) -> None:
        """Close the bot's PR (not in report-only mode) and journal the rejection of its change."""
        if not self.report_only and pr.state == "open":
            provider.close(pr)
        m = pr.marker
        self.journal.pr_closed(app, pr.url, False, m.get("fingerprint", ""), m.get("cause", ""), reason)

    def notify(self, app: str, cause: str, res: FlowResult) -> None:
        """The run's events on the policy's channels (queued; a failing channel never fails the run)."""
        if self.notifier is None:
            return
        try:
            for ev in self._events(app, cause, res):
                self.notifier.notify(ev)
        except Exception as e:  # notifications are best effort
            logging.getLogger("remediator.notify").warning("notifications of %s not built: %s", app, type(e).__name__)

    def _events(self, app: str, cause: str, res: FlowResult) -> list[note.Event]:
        f, argo = res.diagnosis.top, self.policy.pull_requests.argocd_url
        rb = (self.policy.runbooks.get(f.category.value) or self.policy.pull_requests.runbook) if f else None
        evs = [note.diagnosed(app, f, cause, argo, runbook=rb)] if f is not None else []
        steps = next_steps(f) if f is not None else []
        out = res.outcome
        if res.refusal is not None:
            evs.append(note.refused("fix.refused", app, f, cause, res.refusal.message, steps, argo, runbook=rb))
        elif out is None or self.report_only:
            pass
        elif out.action in ("opened", "updated") and out.pr is not None:
            evs.append(
                note.pr_event("pr.opened" if out.action == "opened" else "pr.updated", app, f, cause, out.pr.url)
            )
        elif out.action == "no-edit" and f is not None:
            oob = out.fix is not None and any(r.rule == "out-of-band" for r in out.fix.refused)
            evs.append(
                note.refused(
                    "fix.out_of_band" if oob else "fix.refused", app, f, cause, out.message, steps, argo, runbook=rb
                )
            )
        elif out.action == "fixed-before":
            evs.append(note.after_merge(False, app, cause, out.pr.url if out.pr else "", out.message))
        elif out.action == "healthy":
            last = next((i for i in self.journal.recent(app) if i.pr_url and i.outcome in ("opened", "updated")), None)
            if last is not None:
                evs.append(note.after_merge(True, app, last.cause, last.pr_url))
        return evs
