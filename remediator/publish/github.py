"""GitHub (github.com and GitHub Enterprise) through PyGithub, with bounded retries on 5xx,
secondary rate limits (``Retry-After`` honoured up to a cap) and connection resets."""

from __future__ import annotations

import re
from typing import Any, Literal

from github import Auth, Github, GithubException, GithubRetry
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
    ) -> None:
        """The pauses between requests are PyGithub's defaults, which follow GitHub's advice for
        integrations (serial requests, a second between writes); tests against a local fake set 0.
        ``max_retry_wait``: policy ``pull_requests.max_retry_wait_seconds``; a longer wait asked by
        GitHub raises ``TemporaryError(retry_after=...)`` instead of blocking the worker."""
        if not token:
            raise InputError(
                "GITHUB_TOKEN is not set: a GitHub token (or App installation token) is needed to open pull requests"
            )
        self.slug = slug
        self.token = token
        retry = CappedRetry(max_retry_wait, total=retries, backoff_factor=backoff, secondary_rate_wait=60)
        self.gh = Github(
            auth=Auth.Token(token),
            base_url=base_url.rstrip("/"),
            retry=retry,
            timeout=int(timeout),
            per_page=100,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
        )
        self._repo: Repository | None = None
        self._login: str | None = None

    def _fail(self, e: Exception, what: str) -> Exception:
        if isinstance(e, RemediatorError):
            return e
        text = str(e).replace(self.token, "***")
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
            msg = str(msg or text).replace(self.token, "***")
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

    def check_access(self) -> None:
        perms = self.repo.permissions
        if perms is not None and not (perms.push or perms.admin or perms.maintain):
            raise ForbiddenError(f"GitHub {self.slug}: the token cannot push to this repository (no push permission)")

    def login(self, configured: str | None) -> str | None:
        """``configured`` (policy ``bot_login``), else the token's user (``GET /user``); None when
        neither is known (an App installation token answers 403 there: set ``bot_login``)."""
        if configured:
            return configured
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

    def pulls(self, state: Literal["open", "closed"]) -> list[PullRequest]:
        try:
            return [self._pr(p) for p in self.repo.get_pulls(state=state) if parse_marker(p.body)]
        except Exception as e:
            raise self._fail(e, "list pull requests") from e

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

    def update(self, pr: PullRequest, title: str, body: str) -> None:
        try:
            self._get(pr).edit(title=title, body=body)
        except Exception as e:
            raise self._fail(e, f"update pull request {pr.number}") from e

    def comment(self, pr: PullRequest, body: str) -> None:
        try:
            self._get(pr).create_issue_comment(body)
        except Exception as e:
            raise self._fail(e, f"comment on pull request {pr.number}") from e

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

    def review_comments(self, number: int) -> list[tuple[int, str]]:
        """(id, body) of the review comments on a pull request."""
        try:
            return [(c.id, c.body or "") for c in self.repo.get_pull(number).get_review_comments()]
        except Exception as e:
            raise self._fail(e, f"list review comments of pull request {number}") from e

    def edit_review_comment(self, number: int, comment_id: int, body: str) -> None:
        try:
            self.repo.get_pull(number).get_review_comment(comment_id).edit(body)
        except Exception as e:
            raise self._fail(e, f"edit review comment {comment_id}") from e

    def create_review(self, number: int, sha: str, body: str, comments: list[dict[str, object]]) -> None:
        try:
            pr = self.repo.get_pull(number)
            pr.create_review(commit=self.repo.get_commit(sha), body=body, event="COMMENT", comments=comments)  # type: ignore[arg-type]
        except Exception as e:
            raise self._fail(e, f"create a review on pull request {number}") from e

    def close(self, pr: PullRequest) -> None:
        try:
            self._get(pr).edit(state="closed")
        except Exception as e:
            raise self._fail(e, f"close pull request {pr.number}") from e
