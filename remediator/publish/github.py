"""GitHub (github.com and GitHub Enterprise) through PyGithub, with bounded retries on 5xx,
secondary rate limits (``Retry-After`` honoured up to a cap) and connection resets.

Credentials: a token (PAT, or an installation token that expires in an hour), or a GitHub App
(:class:`GitHubApp`: App ID + private key); PyGithub's ``Auth.AppAuth`` / ``GithubIntegration`` /
``Auth.AppInstallationAuth`` sign the JWT and exchange it for installation tokens, refreshed before
they expire and again after a 401."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from github import Auth, Github, GithubException, GithubIntegration, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait, RateLimitExceededException
from github.PullRequest import PullRequest as GHPull
from github.Repository import Repository
from urllib3.response import BaseHTTPResponse

from remediator.errors import ForbiddenError, InputError, NotFoundError, RemediatorError, TemporaryError
from remediator.publish.base import Comment, PullRequest, parse_marker

_SLUG = re.compile(r"(?:github[^/:]*[/:])(?P<owner>[^/]+)/(?P<name>[^/]+?)(?:\.git)?/?$")


def repo_slug(url: str) -> str | None:
    """owner/name from https://github.com/owner/name(.git) or git@github.com:owner/name.git."""
    m = _SLUG.search(url)
    return f"{m.group('owner')}/{m.group('name')}" if m else None


class WaitTooLong(TemporaryError):
    """GitHub asked for a longer wait than the policy allows: requeue instead of sleeping."""


class CappedRetry(GithubRetry):
    """PyGithub's retry, except that a ``Retry-After`` (403, 429, 503) or a rate-limit reset longer
    than ``max_wait`` seconds raises ``WaitTooLong`` (with ``retry_after``) instead of sleeping."""

    def __init__(self, max_wait: float = 60.0, **kwargs: Any) -> None:
        self.max_wait = max_wait
        kwargs.setdefault("max_rate_limit_wait", max_wait)
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> CappedRetry:
        kw["max_wait"] = self.max_wait
        return super().new(**kw)

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        asked = self.get_retry_after(response)
        if asked is not None and asked > self.max_wait:
            raise WaitTooLong(
                f"GitHub asked to wait {asked:.0f}s before retrying (Retry-After, status {response.status}); "
                f"more than pull_requests.max_retry_wait_seconds ({self.max_wait:g}s): try again later",
                retry_after=asked,
            )
        return super().sleep_for_retry(response)


class _InstallationAuth(Auth.AppInstallationAuth):
    """PyGithub's installation auth (refreshed before it expires), which can also be told that
    GitHub rejected its token (:meth:`expire`: the next request gets a new one)."""

    def __init__(self, app_auth: Auth.AppAuth, installation_id: int) -> None:
        super().__init__(app_auth, installation_id)
        self._stale = False
        self._lock = threading.Lock()
        self.last: str | None = None  # the token handed out last (for redaction)

    def expire(self) -> None:
        self._stale = True

    @property
    def _is_expired(self) -> bool:
        return self._stale or bool(super()._is_expired)

    @property
    def token(self) -> str:
        with self._lock:
            token = str(super().token)
            self._stale = False
            self.last = token
            return token


def _redacting(e: Exception, secrets: list[str]) -> str:
    text = str(e)
    for s in secrets:
        text = text.replace(s, "***")
    return text


class GitHubApp:
    """A GitHub App: its ID and private key (PEM), the installation (``installation_id``, else the
    one installed on each repository, ``GET /repos/{owner}/{repo}/installation``). One instance is
    shared by every provider, so each installation token is fetched once and refreshed."""

    def __init__(
        self,
        app_id: str,
        private_key: str,
        installation_id: int | None = None,
        base_url: str = "https://api.github.com",
        timeout: float = 15.0,
    ) -> None:
        self.app_id = app_id
        self.installation_id = installation_id
        self.base_url = base_url.rstrip("/")
        self.timeout = int(timeout)
        try:
            self._auth = Auth.AppAuth(app_id, private_key)
            self._auth.create_jwt()  # a key PyJWT cannot sign with fails now, not at the first incident
        except Exception as e:
            raise InputError(
                f"the GitHub App private key cannot sign a JWT ({type(e).__name__}): give the App's PEM private key"
            ) from None
        self._installs: dict[str, int] = {}
        self._auths: dict[int, _InstallationAuth] = {}
        self._slug: str | None = None
        self._lock = threading.Lock()

    def _integration(self) -> GithubIntegration:
        return GithubIntegration(auth=self._auth, base_url=self.base_url, timeout=self.timeout)

    def _fail(self, e: Exception, what: str) -> RemediatorError:
        if isinstance(e, RemediatorError):
            return e
        if isinstance(e, GithubException):
            msg = (e.data or {}).get("message") if isinstance(e.data, dict) else None
            text = f"GitHub App {self.app_id}: {what}: {e.status} {msg or ''}".rstrip()
            if e.status in (401, 403):
                return ForbiddenError(f"{text} (check the App ID and private key)")
            if e.status == 404:
                return NotFoundError(f"{text} (is the App installed on it?)")
            if e.status >= 500:
                return TemporaryError(text)
            return InputError(text)
        return TemporaryError(f"GitHub App {self.app_id}: {what}: {type(e).__name__}: {str(e)[:200]}")

    def installation(self, slug: str) -> _InstallationAuth:
        """The (cached, refreshing) installation auth for ``owner/name``."""
        with self._lock:
            iid = self.installation_id or self._installs.get(slug)
            if iid is None:
                owner, _, name = slug.partition("/")
                try:
                    iid = int(self._integration().get_repo_installation(owner, name).id)
                except Exception as e:
                    raise self._fail(e, f"find the installation on {slug}") from e
                self._installs[slug] = iid
            auth = self._auths.get(iid)
            if auth is None:
                auth = self._auths[iid] = _InstallationAuth(self._auth, iid)
                Github(auth=auth, base_url=self.base_url, timeout=self.timeout)  # gives it its requester
            return auth

    def token(self, slug: str) -> str:
        """A valid installation token for ``owner/name`` (for git over HTTPS)."""
        try:
            return self.installation(slug).token
        except Exception as e:
            raise self._fail(e, f"get an installation token for {slug}") from e

    def slug(self) -> str:
        """The App's slug (``GET /app``); its pull requests are authored by ``<slug>[bot]``."""
        if self._slug is None:
            try:
                self._slug = str(self._integration().get_app().slug)
            except Exception as e:
                raise self._fail(e, "GET /app") from e
        return self._slug


def check_credentials(
    token: str | None, app: GitHubApp | None, base_url: str = "https://api.github.com", timeout: float = 10.0
) -> str | None:
    """None when GitHub accepts the credentials (``GET /app`` for an App, ``GET /user`` for a token;
    a 403 there is an installation token that authenticated), else what is wrong."""
    if app is not None:
        try:
            app.slug()
        except RemediatorError as e:
            return str(e)
        return None
    if not token:
        return (
            "GitHub credentials missing: set GITHUB_TOKEN, or REMEDIATOR_GITHUB_APP_ID and "
            "REMEDIATOR_GITHUB_APP_PRIVATE_KEY (or REMEDIATOR_GITHUB_APP_PRIVATE_KEY_FILE)"
        )
    gh = Github(auth=Auth.Token(token), base_url=base_url.rstrip("/"), timeout=int(timeout), retry=None)
    try:
        gh.get_user().login  # noqa: B018 - the request is the check
    except GithubException as e:
        if e.status == 401:
            return "GitHub rejected GITHUB_TOKEN (401 Bad credentials)"
        if e.status == 403:
            return None
        return f"GitHub GET /user: {e.status}"
    except Exception as e:
        return f"cannot reach GitHub at {base_url}: {type(e).__name__}: {_redacting(e, [token])[:200]}"
    return None


# What the App needs on a repository: push a branch, open and comment on pull requests.
APP_PERMISSIONS = {"contents": "write", "pull_requests": "write", "metadata": "read"}
_LEVEL = {"read": 1, "write": 2, "admin": 3}


def repo_access(
    slug: str, token: str | None, app: GitHubApp | None, base_url: str = "https://api.github.com", timeout: float = 10.0
) -> str:
    """What the credentials may do on ``owner/name``, read from the API without pushing: a token's
    ``permissions.push`` (``GET /repos/{owner}/{repo}``), an App's installation on the repository
    (``GET /repos/{owner}/{repo}/installation``) and its permissions. Returns a one-line summary when
    it can read the repository and push a branch, else raises ForbiddenError / NotFoundError / ..."""
    owner, _, name = slug.partition("/")
    if not owner or not name or "/" in name:
        raise InputError(f"--repo {slug!r}: give the repository as owner/name")
    if app is not None:
        try:
            inst = app._integration().get_repo_installation(owner, name)
            iid, perms = int(inst.id), dict(inst.permissions or {})
        except Exception as e:
            raise app._fail(e, f"find the installation on {slug}") from e
        if app.installation_id is not None and app.installation_id != iid:
            raise InputError(
                f"GitHub App {app.app_id} is installed on {slug} as installation {iid}, "
                f"not the configured {app.installation_id} (REMEDIATOR_GITHUB_APP_INSTALLATION_ID)"
            )
        missing = [f"{k}: {v}" for k, v in APP_PERMISSIONS.items() if _LEVEL.get(str(perms.get(k)), 0) < _LEVEL[v]]
        if missing:
            raise ForbiddenError(f"GitHub App {app.app_id} on {slug} (installation {iid}) lacks {', '.join(missing)}")
        return f"App {app.app_id} installed (installation {iid}): contents: write, pull_requests: write"
    if not token:
        raise InputError("no GitHub credentials (GITHUB_TOKEN, or REMEDIATOR_GITHUB_APP_ID and its private key)")
    gh = Github(auth=Auth.Token(token), base_url=base_url.rstrip("/"), timeout=int(timeout), retry=None)
    try:
        repo = gh.get_repo(slug)
        can = repo.permissions
    except GithubException as e:
        if e.status == 401:
            raise ForbiddenError("GitHub rejected GITHUB_TOKEN (401 Bad credentials)") from None
        if e.status in (403, 404):
            raise NotFoundError(f"GitHub {slug}: not found, or the token cannot read it ({e.status})") from None
        raise TemporaryError(f"GitHub GET /repos/{slug}: {e.status}") from None
    except Exception as e:
        raise TemporaryError(
            f"cannot reach GitHub at {base_url}: {type(e).__name__}: {_redacting(e, [token])[:200]}"
        ) from None
    if can is None:
        return "readable (GitHub did not report the token's permissions)"
    if not (can.push or can.maintain or can.admin):
        raise ForbiddenError(f"GitHub {slug}: the token can read but not push (permissions.push is false)")
    return "the token can read and push"


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _refreshing(method: Callable[Concatenate[GitHubProvider, _P], _T]) -> Callable[Concatenate[GitHubProvider, _P], _T]:
    """With an App, a 401 (its installation token was revoked or expired early) gets a new token
    and one more try."""

    def wrapper(self: GitHubProvider, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(self, *args, **kwargs)
        except ForbiddenError as e:
            cause = e.__cause__
            if self._installation is None or not (isinstance(cause, GithubException) and cause.status == 401):
                raise
            self._installation.expire()
            return method(self, *args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class GitHubProvider:
    name = "github"

    def __init__(
        self,
        slug: str,
        token: str | None,
        base_url: str = "https://api.github.com",
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 15.0,
        seconds_between_requests: float = 0.25,
        seconds_between_writes: float = 1.0,
        max_retry_wait: float = 60.0,
        app: GitHubApp | None = None,
    ) -> None:
        """``app``: authenticate as that GitHub App's installation on ``slug`` (``token`` is then
        ignored). The pauses between requests are PyGithub's defaults, which follow GitHub's advice for
        integrations (serial requests, a second between writes); tests against a local fake set 0.
        ``max_retry_wait``: policy ``pull_requests.max_retry_wait_seconds``; a longer wait asked by
        GitHub raises ``TemporaryError(retry_after=...)`` instead of blocking the worker."""
        if not token and app is None:
            raise InputError(
                "GITHUB_TOKEN is not set: a GitHub token (or REMEDIATOR_GITHUB_APP_ID and "
                "REMEDIATOR_GITHUB_APP_PRIVATE_KEY for a GitHub App) is needed to open pull requests"
            )
        self.slug = slug
        self.app = app
        self._installation = app.installation(slug) if app is not None else None
        self._token = token or ""
        auth: Auth.Auth = self._installation if self._installation is not None else Auth.Token(self._token)
        retry = CappedRetry(max_retry_wait, total=retries, backoff_factor=backoff, secondary_rate_wait=60)
        self.gh = Github(
            auth=auth,
            base_url=base_url.rstrip("/"),
            retry=retry,
            timeout=int(timeout),
            per_page=100,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
        )
        self._repo: Repository | None = None
        self._login: str | None = None

    @property
    def token(self) -> str:
        """The token requests are sent with now (an App's installation token is refreshed first)."""
        return self._installation.token if self._installation is not None else self._token

    def _secrets(self) -> list[str]:
        last = self._installation.last if self._installation is not None else self._token
        return [last] if last else []

    def _fail(self, e: Exception, what: str) -> Exception:
        if isinstance(e, RemediatorError):
            return e
        text = _redacting(e, self._secrets())
        if isinstance(e, RateLimitExceededExceedsMaxWait):
            return TemporaryError(
                f"GitHub {what} {self.slug}: rate limited for {e.wait or 0:.0f}s, more than "
                "pull_requests.max_retry_wait_seconds: try again later",
                retry_after=e.wait,
            )
        if isinstance(e, RateLimitExceededException) or (isinstance(e, GithubException) and e.status == 429):
            return TemporaryError(f"GitHub {what} {self.slug}: rate limited ({e.status}): try again later")
        if isinstance(e, GithubException):
            msg = (e.data or {}).get("message") if isinstance(e.data, dict) else None
            msg = _redacting(Exception(msg or text), self._secrets())
            if e.status in (401, 403):
                return ForbiddenError(f"GitHub {what} {self.slug}: {e.status} {msg}")
            if e.status == 404:
                return NotFoundError(f"GitHub {what} {self.slug}: not found (or the token cannot see it)")
            if e.status >= 500:
                return TemporaryError(f"GitHub {what} {self.slug}: {e.status} {msg}")
            return InputError(f"GitHub {what} {self.slug}: {e.status} {msg}")
        return TemporaryError(f"GitHub {what} {self.slug}: {type(e).__name__}: {text[:200]}")

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            try:
                self._repo = self.gh.get_repo(self.slug)
            except Exception as e:
                raise self._fail(e, "get repository") from e
        return self._repo

    @_refreshing
    def check_access(self) -> None:
        perms = self.repo.permissions
        if perms is not None and not (perms.push or perms.admin or perms.maintain):
            raise ForbiddenError(f"GitHub {self.slug}: the token cannot push to this repository (no push permission)")

    def login(self, configured: str | None) -> str | None:
        """``configured`` (policy ``bot_login``), else ``<app-slug>[bot]`` for an App (``GET /app``),
        else the token's user (``GET /user``); None when none is known (an installation token given
        as GITHUB_TOKEN answers 403 there: set ``bot_login``)."""
        if configured:
            return configured
        if self._login is None and self.app is not None:
            try:
                self._login = f"{self.app.slug()}[bot]"
            except RemediatorError:
                return None
        if self._login is None:
            try:
                self._login = str(self.gh.get_user().login)
            except Exception:  # the caller trusts no PR and says so
                return None
        return self._login

    def _pr(self, p: GHPull) -> PullRequest:
        head_repo, base_repo = p.head.repo, p.base.repo  # head.repo is None for a deleted fork
        return PullRequest(
            number=p.number,
            url=p.html_url,
            branch=p.head.ref,
            base=p.base.ref,
            title=p.title,
            body=p.body or "",
            state="open" if p.state == "open" else "closed",
            merged=bool(p.merged_at),
            author=p.user.login if p.user is not None else "",
            head_repo=head_repo.full_name if head_repo is not None else "",
            base_repo=base_repo.full_name if base_repo is not None else self.slug,
        )

    @_refreshing
    def pulls(self, state: Literal["open", "closed"]) -> list[PullRequest]:
        try:
            return [self._pr(p) for p in self.repo.get_pulls(state=state) if parse_marker(p.body)]
        except Exception as e:
            raise self._fail(e, "list pull requests") from e

    @_refreshing
    def find(self, branch: str) -> PullRequest | None:
        owner = self.slug.split("/")[0]
        try:
            for p in self.repo.get_pulls(state="open", head=f"{owner}:{branch}"):
                pr = self._pr(p)
                if pr.branch == branch and pr.head_repo.lower() == pr.base_repo.lower():
                    return pr
            return None
        except Exception as e:
            raise self._fail(e, f"look up the pull request of branch {branch}") from e

    def _get(self, pr: PullRequest) -> GHPull:
        try:
            return self.repo.get_pull(pr.number)
        except Exception as e:
            raise self._fail(e, f"get pull request {pr.number}") from e

    @_refreshing
    def create(self, branch: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        try:
            return self._pr(self.repo.create_pull(base=base, head=branch, title=title, body=body, draft=draft))
        except GithubException as e:
            errors = (e.data or {}).get("errors") if isinstance(e.data, dict) else None
            if e.status == 422 and "already exists" in str(errors or e.data):
                found = self.find(branch)
                if found is not None:
                    return found
            raise self._fail(e, "create pull request") from e
        except Exception as e:
            raise self._fail(e, "create pull request") from e

    @_refreshing
    def update(self, pr: PullRequest, title: str, body: str) -> None:
        try:
            self._get(pr).edit(title=title, body=body)
        except Exception as e:
            raise self._fail(e, f"update pull request {pr.number}") from e

    @_refreshing
    def comment(self, pr: PullRequest, body: str) -> None:
        try:
            self._get(pr).create_issue_comment(body)
        except Exception as e:
            raise self._fail(e, f"comment on pull request {pr.number}") from e

    @_refreshing
    def comments(self, pr: PullRequest) -> list[Comment]:
        try:
            return [
                Comment(c.user.login if c.user is not None else "", c.body or "")
                for c in self._get(pr).get_issue_comments()
            ]
        except Exception as e:
            raise self._fail(e, f"read comments of pull request {pr.number}") from e

    def decorate(self, pr: PullRequest, labels: list[str], reviewers: list[str], assignees: list[str]) -> list[str]:
        problems: list[str] = []
        try:
            p = self._get(pr)
        except Exception as e:
            return [str(e)]
        for what, items in (("labels", labels), ("reviewers", reviewers), ("assignees", assignees)):
            if not items:
                continue
            try:
                if what == "labels":
                    p.add_to_labels(*items)
                elif what == "reviewers":
                    p.create_review_request(reviewers=items)
                else:
                    p.add_to_assignees(*items)
            except Exception as e:  # best effort: never fails the run
                problems.append(f"could not set {what} {', '.join(items)}: {self._fail(e, 'decorate')!s}")
        return problems

    # --- review comments (remediator review) ---------------------------------------------

    @_refreshing
    def review_comments(self, number: int) -> list[tuple[int, str]]:
        """(id, body) of the review comments on a pull request."""
        try:
            return [(c.id, c.body or "") for c in self.repo.get_pull(number).get_review_comments()]
        except Exception as e:
            raise self._fail(e, f"list review comments of pull request {number}") from e

    @_refreshing
    def edit_review_comment(self, number: int, comment_id: int, body: str) -> None:
        try:
            self.repo.get_pull(number).get_review_comment(comment_id).edit(body)
        except Exception as e:
            raise self._fail(e, f"edit review comment {comment_id}") from e

    @_refreshing
    def create_review(self, number: int, sha: str, body: str, comments: list[dict[str, object]]) -> None:
        try:
            pr = self.repo.get_pull(number)
            pr.create_review(commit=self.repo.get_commit(sha), body=body, event="COMMENT", comments=comments)  # type: ignore[arg-type]
        except Exception as e:
            raise self._fail(e, f"create a review on pull request {number}") from e

    @_refreshing
    def close(self, pr: PullRequest) -> None:
        try:
            self._get(pr).edit(state="closed")
        except Exception as e:
            raise self._fail(e, f"close pull request {pr.number}") from e

    # --- commands on the bot's pull requests (service/commands) -----------------------------

    @_refreshing
    def pull(self, number: int) -> PullRequest | None:
        """The pull request ``number``, None when GitHub has none (a 404, or an issue)."""
        try:
            return self._pr(self.repo.get_pull(number))
        except GithubException as e:
            if e.status == 404:
                return None
            raise self._fail(e, f"get pull request {number}") from e
        except Exception as e:
            raise self._fail(e, f"get pull request {number}") from e

    @_refreshing
    def permission(self, login: str) -> str:
        """``GET /repos/{owner}/{repo}/collaborators/{login}/permission``: admin, maintain, write,
        triage, read or none (a 404: not a collaborator)."""
        try:
            return str(self.repo.get_collaborator_permission(login))
        except GithubException as e:
            if e.status == 404:
                return "none"
            raise self._fail(e, f"read the permission of {login} on") from e
        except Exception as e:
            raise self._fail(e, f"read the permission of {login} on") from e
