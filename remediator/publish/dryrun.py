"""The provider side of ``--dry-run``: reads go through, every write is recorded instead of made
(the checkout's side is ``Checkout.dry_run``); ``propose(..., dry_run=True)`` wraps both."""

from __future__ import annotations

from typing import Literal

from remediator.publish.base import Comment, Provider, PullRequest


class DryRun:
    """A provider that reads through and records every write instead of making it."""

    name = "dry-run"

    def __init__(self, inner: Provider, would: list[str]) -> None:
        self.inner = inner
        self.would = would

    def check_access(self) -> None:
        self.inner.check_access()

    def login(self, configured: str | None) -> str | None:
        return self.inner.login(configured)

    def pulls(self, state: Literal["open", "closed"]) -> list[PullRequest]:
        return self.inner.pulls(state)

    def find(self, branch: str) -> PullRequest | None:
        return self.inner.find(branch)

    def comments(self, pr: PullRequest) -> list[Comment]:
        return [] if pr.number == 0 else self.inner.comments(pr)

    def create(self, branch: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        self.would.append(f"open a {'draft ' if draft else ''}pull request {branch} -> {base}: {title}")
        return PullRequest(0, "(dry run: not opened)", branch, base, title, body, "open")

    def update(self, pr: PullRequest, title: str, body: str) -> None:
        self.would.append(f"update PR #{pr.number}: {title}")

    def comment(self, pr: PullRequest, body: str) -> None:
        self.would.append(f"comment on PR #{pr.number}")

    def decorate(self, pr: PullRequest, labels: list[str], reviewers: list[str], assignees: list[str]) -> list[str]:
        for what, items in (("labels", labels), ("reviewers", reviewers), ("assignees", assignees)):
            if items:
                self.would.append(f"set {what} {', '.join(items)}")
        return []

    def close(self, pr: PullRequest) -> None:
        self.would.append(f"close PR #{pr.number}")
