"""The provider interface, the PR record, and the machine-readable marker in every PR body."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal, Protocol

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

    @property
    def marker(self) -> dict[str, str]:
        return parse_marker(self.body)


def marker(**fields: str) -> str:
    return "<!-- remediator: " + json.dumps(fields, sort_keys=True) + " -->"


def parse_marker(body: str | None) -> dict[str, str]:
    m = MARKER.search(body or "")
    if not m:
        return {}
    try:
        data = json.loads(m.group(1))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


class Provider(Protocol):
    """What the bot needs from a code host. Every method raises our error hierarchy
    (``ForbiddenError``, ``TemporaryError``, ``InputError``) with secrets redacted."""

    name: str

    def check_access(self) -> None:
        """Fail (one line) before anything is pushed when the token is missing or cannot push."""

    def pulls(self, state: Literal["open", "closed"]) -> list[PullRequest]:
        """The bot's pull requests (those whose body carries the marker) in that state."""

    def create(self, branch: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        """Open a PR; "a pull request already exists" returns the existing one."""

    def update(self, pr: PullRequest, title: str, body: str) -> None: ...

    def comment(self, pr: PullRequest, body: str) -> None: ...

    def comments(self, pr: PullRequest) -> list[str]: ...

    def decorate(self, pr: PullRequest, labels: list[str], reviewers: list[str], assignees: list[str]) -> list[str]:
        """Labels, reviewers, assignees: best effort; returns what could not be set."""

    def close(self, pr: PullRequest) -> None: ...
