"""The local provider: the branch lives in the (local) remote repository; each PR is a JSON record
and a Markdown body in a folder. For the embedded example and for anyone without a code host.

Every record and comment carries its author; the bot's are those written under its own identity,
so a record written by hand (no author, or another) is never taken for the bot's."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from remediator.errors import InputError
from remediator.publish.base import Comment, PullRequest, parse_marker
from remediator.publish.checkout import BOT_NAME

LOCAL_REPO = "local"  # head and base repository of every local record: there are no forks here


class LocalProvider:
    name = "local"

    def __init__(self, folder: Path, author: str = BOT_NAME) -> None:
        self.folder = folder
        self.author = author

    def login(self, configured: str | None) -> str | None:
        """Always the provider's own author: ``pull_requests.bot_login`` names a code-host account."""
        return self.author

    def check_access(self) -> None:
        """Writable, or creatable (the folder is made on the first write: a dry run leaves no trace)."""
        existing = next((p for p in (self.folder, *self.folder.parents) if p.exists()), None)
        if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise InputError(f"{self.folder}: cannot write pull requests here")

    def _records(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted(self.folder.glob("pr-*.json")):
            try:
                rec = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(rec, dict) and type(rec.get("number")) is int and isinstance(rec.get("branch"), str):
                out.append(rec)  # anything else in the folder is not a record
        return out

    def _save(self, rec: dict[str, Any]) -> None:
        n = rec["number"]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{self.folder}: cannot write pull requests here: {e.strerror}") from e
        for path, text in (
            (self.folder / f"pr-{n}.md", f"# {rec['title']}\n\n{rec['body']}\n"),
            (self.folder / f"pr-{n}.json", json.dumps(rec, indent=2) + "\n"),
        ):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)

    def _pr(self, rec: dict[str, Any]) -> PullRequest:
        return PullRequest(
            number=int(rec["number"]),
            url=str(self.folder / f"pr-{rec['number']}.md"),
            branch=str(rec["branch"]),
            base=str(rec["base"]),
            title=str(rec["title"]),
            body=str(rec["body"]),
            state="open" if rec.get("state") == "open" else "closed",
            merged=bool(rec.get("merged")),
            author=str(rec.get("author") or ""),
            head_repo=LOCAL_REPO,
            base_repo=LOCAL_REPO,
        )

    def pulls(self, state: Literal["open", "closed"]) -> list[PullRequest]:
        return [
            self._pr(r) for r in self._records() if r.get("state") == state and parse_marker(str(r.get("body") or ""))
        ]

    def find(self, branch: str) -> PullRequest | None:
        return next(
            (self._pr(r) for r in self._records() if r.get("state") == "open" and r.get("branch") == branch), None
        )

    def create(self, branch: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        recs = self._records()
        for r in recs:
            if r.get("state") == "open" and r.get("branch") == branch:
                return self._pr(r)
        rec = {
            "number": max((int(r["number"]) for r in recs), default=0) + 1,
            "author": self.author,
            "branch": branch,
            "base": base,
            "title": title,
            "body": body,
            "state": "open",
            "merged": False,
            "draft": draft,
            "comments": [],
            "labels": [],
            "reviewers": [],
            "assignees": [],
        }
        self._save(rec)
        return self._pr(rec)

    def _rec(self, pr: PullRequest) -> dict[str, Any]:
        for r in self._records():
            if int(r["number"]) == pr.number:
                return r
        raise InputError(f"{self.folder}: pull request {pr.number} is gone")

    def update(self, pr: PullRequest, title: str, body: str) -> None:
        rec = self._rec(pr)
        rec.update(title=title, body=body)
        self._save(rec)

    def comment(self, pr: PullRequest, body: str) -> None:
        rec = self._rec(pr)
        rec.setdefault("comments", []).append({"author": self.author, "body": body})
        self._save(rec)

    def comments(self, pr: PullRequest) -> list[Comment]:
        out = []
        for c in self._rec(pr).get("comments", []):
            if isinstance(c, dict):
                out.append(Comment(str(c.get("author") or ""), str(c.get("body") or "")))
            else:  # a record written by hand or by an older version: nobody's
                out.append(Comment("", str(c)))
        return out

    def decorate(self, pr: PullRequest, labels: list[str], reviewers: list[str], assignees: list[str]) -> list[str]:
        rec = self._rec(pr)
        rec["labels"] = sorted(set(rec["labels"]) | set(labels))
        rec["reviewers"] = sorted(set(rec["reviewers"]) | set(reviewers))
        rec["assignees"] = sorted(set(rec["assignees"]) | set(assignees))
        self._save(rec)
        return []

    def close(self, pr: PullRequest) -> None:
        rec = self._rec(pr)
        rec["state"] = "closed"
        self._save(rec)
