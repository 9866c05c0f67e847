"""One incident, from evidence to its fix: the flow every face runs (``remediator diagnose``/``fix``,
the webhook service and its watcher).

Pure orchestration: no option parsing, no printing. Given the evidence (or a loader), the policy and
where the fix goes - a local branch of a checkout (:class:`LocalBranch`) or a pull request
(:class:`PullRequestTarget`) - :func:`run` diagnoses, lets the model assist when the policy enables
it, then plans and commits the fix locally or proposes it as a pull request, and returns a typed
:class:`FlowResult` the faces render. ``dry_run`` on either target is the one switch that stops
every write: no branch, no commit, no push, no pull request, no comment.

The wiring both faces share lives here too, once: the token (:func:`github_token`) or GitHub App
(:func:`github_app`), the clone cache
(:func:`default_cache`), the provider for a repository (:func:`provider_factory`) and the clone with
the policy's branch rules (:func:`checkout_for`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from remediator.assist.hook import assisted
from remediator.assist.investigate import Investigation
from remediator.assist.phrase import Explanation
from remediator.diagnose import Diagnosis, diagnose
from remediator.edits.index import SourceIndex
from remediator.edits.plan import FixResult, plan_fix
from remediator.errors import InputError, RemediatorError
from remediator.evidence.appsource import app_source
from remediator.evidence.store import Evidence
from remediator.policy import Policy
from remediator.publish.base import Provider
from remediator.publish.checkout import Checkout
from remediator.publish.localbranch import commit
from remediator.publish.propose import Outcome, Rejected, ReviewNotes, propose

if TYPE_CHECKING:
    from remediator.publish.github import GitHubApp

ProviderFactory = Callable[[str], Provider]  # repository URL -> where its pull requests go
Lock = Callable[[Path], AbstractContextManager[None]]  # one run at a time per clone (the service's)
Stage = Callable[[str], None]  # told "evidence", "diagnose", "propose" as the run gets there
GitToken = str | Callable[[str], str | None] | None  # the clone's token, or one per repository URL, asked per run
CredentialsCheck = Callable[[], str | None]  # None when the provider accepts the credentials, else why not


class ProviderKind(StrEnum):
    """Where pull requests go."""

    github = "github"
    local = "local"


class UsageError(InputError):
    """The options cannot work together, or one the run needs is missing."""


class NoRepository(UsageError):
    """No repository to clone: no override was given and the Application names no repoURL."""


# --- the wiring both faces share ------------------------------------------------------------


def github_token() -> str | None:
    """The GitHub token from the environment (``$GITHUB_TOKEN``, else ``$GH_TOKEN``)."""
    return os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")


def github_app(
    app_id: str | None = None,
    private_key_file: Path | None = None,
    installation_id: int | None = None,
    github_url: str = "https://api.github.com",
) -> GitHubApp | None:
    """The GitHub App to authenticate as, when an App ID is given (else ``$REMEDIATOR_GITHUB_APP_ID``):
    its private key from ``private_key_file``, else ``$REMEDIATOR_GITHUB_APP_PRIVATE_KEY`` (PEM text),
    else ``$REMEDIATOR_GITHUB_APP_PRIVATE_KEY_FILE``; the installation from ``installation_id``, else
    ``$REMEDIATOR_GITHUB_APP_INSTALLATION_ID``, else the one installed on each repository. None when
    no App ID is set (a token is used then)."""
    env = os.environ
    app_id = app_id or env.get("REMEDIATOR_GITHUB_APP_ID") or None
    if not app_id:
        return None
    key = None if private_key_file is not None else env.get("REMEDIATOR_GITHUB_APP_PRIVATE_KEY")
    key_file = private_key_file or (
        Path(env["REMEDIATOR_GITHUB_APP_PRIVATE_KEY_FILE"])
        if env.get("REMEDIATOR_GITHUB_APP_PRIVATE_KEY_FILE")
        else None
    )
    if not key and key_file is not None:
        try:
            key = key_file.read_text()
        except OSError as e:
            raise UsageError(f"cannot read the GitHub App private key {key_file}: {e.strerror or e}") from None
    if not key:
        raise UsageError(
            "REMEDIATOR_GITHUB_APP_ID is set but no private key: set REMEDIATOR_GITHUB_APP_PRIVATE_KEY (PEM) "
            "or REMEDIATOR_GITHUB_APP_PRIVATE_KEY_FILE"
        )
    raw = installation_id if installation_id is not None else env.get("REMEDIATOR_GITHUB_APP_INSTALLATION_ID")
    try:
        iid = int(raw) if raw not in (None, "") else None
    except ValueError:
        raise UsageError(f"REMEDIATOR_GITHUB_APP_INSTALLATION_ID must be a number, not {raw!r}") from None
    from remediator.publish.github import GitHubApp

    return GitHubApp(app_id, key, iid, github_url)


def credentials_check(
    kind: ProviderKind, token: str | None, app: GitHubApp | None, github_url: str = "https://api.github.com"
) -> CredentialsCheck:
    """Whether the provider can authenticate (GitHub: ``GET /app`` for an App, ``GET /user`` for a
    token; the local provider always can)."""

    def check() -> str | None:
        if kind is ProviderKind.local:
            return None
        from remediator.publish.github import check_credentials

        return check_credentials(token, app, github_url)

    return check


def default_cache() -> Path:
    """Where clones are kept: ``$XDG_CACHE_HOME/remediator/repos`` (``~/.cache`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "remediator" / "repos"


def provider_factory(
    kind: ProviderKind,
    policy: Policy,
    cache: Path,
    token: str | None = None,
    github_url: str = "https://api.github.com",
    github_repo: str | None = None,
    pr_dir: Path | None = None,
    app: GitHubApp | None = None,
) -> ProviderFactory:
    """GitHub (``github_repo``, else the slug of the repository URL; the policy's cap on
    Retry-After waits; as the ``app`` when given, else with ``token``) or the local provider
    (``pr_dir``, else ``cache/pull-requests``)."""

    def provider_for(url: str) -> Provider:
        if kind is ProviderKind.local:
            from remediator.publish.local import LocalProvider

            return LocalProvider(pr_dir or cache / "pull-requests")
        from remediator.publish.github import GitHubProvider, repo_slug

        slug = github_repo or repo_slug(url)
        if not slug:
            raise UsageError(f"cannot tell the GitHub repository from {url!r}: give --github-repo OWNER/NAME")
        return GitHubProvider(
            slug, token, github_url, max_retry_wait=policy.pull_requests.max_retry_wait_seconds, app=app
        )

    return provider_for


def checkout_for(url: str, cache: Path, token: str | None, policy: Policy) -> Checkout:
    """The cached clone of ``url``, held to the policy's branch rules (prefix, protected branches)."""
    return Checkout(url, cache, token, branch_prefix=policy.git.branch_prefix, protected=policy.git.protected_branches)


# --- where the fix goes ---------------------------------------------------------------------


@dataclass(frozen=True)
class LocalBranch:
    """Commit the fix on a new local branch of the checkout at ``repo`` (its work tree untouched);
    ``dry_run``: plan only."""

    repo: Path
    dry_run: bool = False


@dataclass(frozen=True)
class PullRequestTarget:
    """Propose the fix as a pull request. ``repo_url``/``revision`` override the Application's;
    ``token`` authenticates the clone (GitHub only; a callable is asked for the repository URL at
    each run, so a GitHub App's installation token is fresh); ``check``: whether the provider
    accepts the credentials (the service's readiness); ``review_notes``: the bot's review of the
    edited files for the PR body, given by the face (publish does not run the review)."""

    provider_for: ProviderFactory
    cache: Path
    token: GitToken = None
    repo_url: str | None = None
    revision: str | None = None
    dry_run: bool = False
    review_notes: ReviewNotes | None = None
    check: CredentialsCheck | None = None
    rejected: Rejected | None = None  # (app, fingerprint) -> a rejected PR that proposed that change


def pull_request_target(
    kind: ProviderKind,
    policy: Policy,
    cache: Path | None = None,
    github_url: str = "https://api.github.com",
    github_repo: str | None = None,
    pr_dir: Path | None = None,
    repo_url: str | None = None,
    revision: str | None = None,
    dry_run: bool = False,
    review_notes: ReviewNotes | None = None,
    app: GitHubApp | None = None,
) -> PullRequestTarget:
    """The target as the CLI and the service configure it: the GitHub App (``app``, else from the
    environment, :func:`github_app`) or the token from the environment (sent to the clone only for
    GitHub), the default cache, the provider for each repository."""
    token = github_token()
    cache = cache or default_cache()
    if kind is ProviderKind.github and app is None:
        app = github_app(github_url=github_url)
    git_token: GitToken = token if kind is ProviderKind.github else None
    if kind is ProviderKind.github and app is not None:
        the_app = app

        def git_token(url: str) -> str | None:
            from remediator.publish.github import repo_slug

            slug = github_repo or repo_slug(url)
            return the_app.token(slug) if slug else None

    return PullRequestTarget(
        provider_factory(kind, policy, cache, token, github_url, github_repo, pr_dir, app),
        cache,
        git_token,
        repo_url,
        revision,
        dry_run,
        review_notes,
        credentials_check(kind, token, app, github_url),
    )


# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """The diagnosis after model assist, with the narrative and the investigation (None without a model)."""

    diagnosis: Diagnosis
    explanation: Explanation | None = None
    investigation: Investigation | None = None

    @property
    def why(self) -> tuple[str, str] | None:
        """(narrative, its source) for the PR body."""
        return (self.explanation.text, self.explanation.source) if self.explanation is not None else None


@dataclass(frozen=True)
class Refusal:
    """A face's gate stopped the run before anything was published (e.g. the service's attempt cap)."""

    outcome: str
    message: str


@dataclass
class FlowResult:
    evidence: Evidence
    assessment: Assessment
    durations: dict[str, float] = field(default_factory=dict)  # seconds per stage
    fix: FixResult | None = None  # LocalBranch: the planned fix
    branch: str | None = None  # LocalBranch: the branch committed (None on a dry run or without edits)
    outcome: Outcome | None = None  # PullRequestTarget: what happened to the pull request
    checkout: Checkout | None = None  # PullRequestTarget: the clone used (its ``url``, ``redact``)
    refusal: Refusal | None = None

    @property
    def diagnosis(self) -> Diagnosis:
        return self.assessment.diagnosis


def assess(ev: Evidence, policy: Policy, app: str | None = None) -> Assessment:
    """Diagnose, then model assist when the policy enables it."""
    return Assessment(*assisted(ev, diagnose(ev, app), policy))


def repository(ev: Evidence, target: PullRequestTarget) -> tuple[str, str | None]:
    """The repository URL to clone and the revision to check out: the target's overrides, else the
    Application's source. Raises :class:`NoRepository` when there is none."""
    src = app_source(ev.app)
    url = target.repo_url or src.repo_url
    if not url:
        raise NoRepository("no repository to clone: give --repo-url (the Application has no repoURL)")
    return url, target.revision or src.target_revision or None


def run(
    evidence: Evidence | Callable[[], Evidence],
    policy: Policy,
    target: LocalBranch | PullRequestTarget,
    app: str | None = None,
    stage: Stage | None = None,
    gate: Callable[[Evidence, Diagnosis], Refusal | None] | None = None,
    lock: Lock | None = None,
) -> FlowResult:
    """One incident: evidence -> diagnosis (+ model assist) -> the fix on ``target``.

    ``gate`` may stop the run after the diagnosis (nothing is cloned or written then); ``lock``
    serialises runs on one clone. Errors are raised (:class:`remediator.errors.RemediatorError`)."""
    tell = stage or (lambda _: None)
    durations: dict[str, float] = {}
    t = time.perf_counter()
    tell("evidence")
    ev = evidence() if callable(evidence) else evidence
    checkout: Checkout | None = None
    provider = None
    if isinstance(target, PullRequestTarget):
        try:
            url, revision = repository(ev, target)
        except NoRepository:
            url = ""
        if url:
            provider = target.provider_for(url)
            provider.check_access()  # a missing or read-only token fails before anything is cloned
            token = target.token(url) if callable(target.token) else target.token
            checkout = checkout_for(url, target.cache, token, policy)
    with lock(checkout.path) if lock is not None and checkout is not None else nullcontext():
        if checkout is not None and not ev.desired:
            _declared(ev, checkout, revision)
        durations["evidence"] = time.perf_counter() - t
        t = time.perf_counter()
        tell("diagnose")
        a = assess(ev, policy, app)
        durations["diagnose"] = time.perf_counter() - t
        result = FlowResult(ev, a, durations, refusal=gate(ev, a.diagnosis) if gate is not None else None)
        if result.refusal is not None:
            return result
        if isinstance(target, LocalBranch):
            result.fix = plan_fix(a.diagnosis, ev, target.repo, policy)
            if not target.dry_run and result.fix.edits:
                result.branch = commit(target.repo, result.fix, policy)
            return result
        url, revision = repository(ev, target)  # raises NoRepository
        assert checkout is not None
        t = time.perf_counter()
        tell("propose")
        provider = provider or target.provider_for(url)
        result.checkout = checkout
        result.outcome = propose(
            a.diagnosis,
            ev,
            policy,
            provider,
            checkout,
            revision,
            a.why,
            dry_run=target.dry_run,
            review_notes=target.review_notes,
            rejected=target.rejected,
        )
        durations["propose"] = time.perf_counter() - t
    return result


def _declared(ev: Evidence, checkout: Checkout, revision: str | None) -> None:
    """What the app's Git source declares (``Evidence.desired``, e.g. for not-deployed), read from
    the base branch of the clone through the one source index. A clone that fails is an evidence
    error: the diagnosis goes on without it (the propose step reports the failure)."""
    try:
        base = checkout.sync(revision)
        checkout.start_branch("remediator/work", base)  # a local work tree at the base; nothing pushed
        ev.desired = SourceIndex(checkout.path).desired(ev.app, ev.errors)
    except RemediatorError as e:
        ev.errors.append(f"Git source: {e}")
