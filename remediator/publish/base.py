"""The provider interface, the PR record, the machine-readable marker in every PR body, and the
rules that decide which pull requests are the bot's own.

The marker is trusted only as the LAST thing in a body (trailing whitespace allowed), and a pull
request is the bot's only when its author is the bot's identity, its head is a branch of the same
repository (not a fork) under the bot's branch prefix for the marker's app. Anyone can compute a
cause key and paste a marker; nobody else can open a PR as the bot from the bot's own branch."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from remediator.publish.checkout import check_ref_name, safe_component

MARKER = re.compile(r"<!--\s*remediator:\s*(\{.*?\})\s*-->", re.S)


@dataclass
class PullRequest:
    number: int
    url: str
    branch: str
    base: str
    title: str
    body: str
    state: Literal["open", "closed"]
    merged: bool = False
    author: str = ""  # the login (GitHub) or recorded author (local) that opened it
    head_repo: str = ""  # owner/name of the head branch's repository ("" when unknown, e.g. a deleted fork)
    base_repo: str = ""

    @property
    def marker(self) -> dict[str, str]:
        return parse_marker(self.body)


@dataclass(frozen=True)
class Comment:
    author: str
    body: str


def marker(**fields: str) -> str:
    """``<`` and ``>`` are JSON-escaped, so no value (an app name, say) can end or start a comment."""
    data = json.dumps(fields, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e")
    return "<!-- remediator: " + data + " -->"


def trailing_marker(text: str | None) -> str | None:
    """The JSON of the marker that ends ``text`` (only whitespace after it), else None."""
    text = (text or "").rstrip()
    start = text.rfind("<!--")
    if start < 0:
        return None
    m = MARKER.fullmatch(text, start)
    return m.group(1) if m else None


def parse_marker(body: str | None) -> dict[str, str]:
    """The fields of the body's own marker: the last one, and only when it ends the body."""
    raw = trailing_marker(body)
    if raw is None:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def ends_with(text: str | None, tag: str) -> bool:
    """``tag`` (a marker) is the last thing in ``text``: the only place the bot puts its own tags."""
    return (text or "").rstrip().endswith(tag)


def branch_stem(prefix: str, app: str) -> str:
    """``<prefix><app>/``: every branch the bot names for an app starts so."""
    return f"{prefix}{safe_component(app)}/"


def branch_name(prefix: str, app: str, category: str, fingerprint: str) -> str:
    return f"{branch_stem(prefix, app)}{safe_component(category)}-{safe_component(fingerprint)}"


def owned(pr: PullRequest, login: str | None, prefix: str) -> bool:
    """The bot's own PR: opened by ``login``, from the repository itself (not a fork), on a branch
    the bot names (under ``prefix`` and the marker's app), with the marker ending its body."""
    if not login or pr.author.lower() != login.lower():
        return False
    if not pr.head_repo or pr.head_repo.lower() != pr.base_repo.lower():
        return False
    app = pr.marker.get("app")
    if not app or check_ref_name(pr.branch) is not None:
        return False
    return pr.branch.startswith(branch_stem(prefix, app))


class Provider(Protocol):
    """What the bot needs from a code host. Every method raises our error hierarchy
    (``ForbiddenError``, ``TemporaryError``, ``InputError``) with secrets redacted."""

    name: str

    def check_access(self) -> None:
        """Fail (one line) before anything is pushed when the token is missing or cannot push."""

    def login(self, configured: str | None) -> str | None:
        """The identity whose PRs and comments are the bot's: ``configured`` (policy
        ``pull_requests.bot_login``) when the host honours it, else the token's own; None: unknown."""

    def pulls(self, state: Literal["open", "closed"]) -> list[PullRequest]:
        """PRs in that state whose body ends with a marker; the caller checks ``owned``."""

    def find(self, branch: str) -> PullRequest | None:
        """The open PR whose head is ``branch`` of this repository, if any (raises when it cannot tell)."""

    def create(self, branch: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        """Open a PR; "a pull request already exists" returns the existing one."""

    def update(self, pr: PullRequest, title: str, body: str) -> None: ...

    def comment(self, pr: PullRequest, body: str) -> None: ...

    def comments(self, pr: PullRequest) -> list[Comment]: ...

    def decorate(self, pr: PullRequest, labels: list[str], reviewers: list[str], assignees: list[str]) -> list[str]:
        """Labels, reviewers, assignees: best effort; returns what could not be set."""

    def close(self, pr: PullRequest) -> None: ...


@runtime_checkable
class CommandHost(Protocol):
    """A provider that can answer the commands on the bot's pull requests (GitHub)."""

    def pull(self, number: int) -> PullRequest | None:
        """The pull request ``number`` of this repository, None when there is none."""

    def permission(self, login: str) -> str:
        """``login``'s permission on this repository: admin, maintain, write, triage, read or none."""
