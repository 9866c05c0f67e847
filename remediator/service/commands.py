"""Commands on the bot's pull requests (``POST /v1/hooks/github``): the GitHub webhook signature,
the payloads (only the fields used), the command parser, who may give a command and the reply
rate limit. Pure: no I/O here (the runner reads and writes GitHub, the route the journal).

A command counts only on its own line, at the start of the line (``/remediator explain``); a
quote (``> /remediator close``) or a mention mid-sentence is not a command. Only people with
write access (admin, maintain, write) may give one, only on the bot's own open pull requests
(``publish.base.owned``), never from a bot account or on a fork."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from remediator.publish.base import PullRequest
from remediator.publish.body import code, inline, quote_block

COMMANDS = {
    "rediagnose": "collect the evidence again and update this pull request",
    "explain": "post the full diagnosis as a comment",
    "close": "close this pull request and do not propose the same change again",
}
WRITE = frozenset({"admin", "maintain", "write"})
_LINE = re.compile(r"^/remediator(?:[ \t]+(\S+))?[ \t]*$", re.M)
EVENTS = frozenset({"issue_comment", "pull_request", "ping"})


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``, compared in constant time."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.strip().encode(), want.encode())


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub sends for ``body`` (tests, and anyone wiring a relay)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- payloads: only the fields used -----------------------------------------------------------


class _M(BaseModel):
    model_config = ConfigDict(extra="ignore")


class User(_M):
    login: str = Field(min_length=1, max_length=100)
    type: str = "User"


class Repo(_M):
    full_name: str = Field(min_length=3, max_length=200)
    html_url: str = ""
    fork: bool = False


class Comment(_M):
    id: int
    body: str = Field(default="", max_length=65536)
    user: User


class Issue(_M):
    number: int = Field(gt=0)
    pull_request: dict[str, object] | None = None  # present only when the issue is a pull request
    user: User | None = None


class IssueCommentEvent(_M):
    action: str
    issue: Issue
    comment: Comment
    repository: Repo
    sender: User


class Ref(_M):
    ref: str
    repo: Repo | None = None  # None when the fork was deleted


class Pull(_M):
    number: int = Field(gt=0)
    html_url: str
    state: str
    title: str = ""
    body: str | None = None
    merged: bool = False
    user: User
    head: Ref
    base: Ref

    def record(self) -> PullRequest:
        return PullRequest(
            number=self.number,
            url=self.html_url,
            branch=self.head.ref,
            base=self.base.ref,
            title=self.title,
            body=self.body or "",
            state="open" if self.state == "open" else "closed",
            merged=self.merged,
            author=self.user.login,
            head_repo=self.head.repo.full_name if self.head.repo else "",
            base_repo=self.base.repo.full_name if self.base.repo else "",
        )


class PullRequestEvent(_M):
    action: str
    number: int
    pull_request: Pull
    repository: Repo


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    name: str  # one of COMMANDS, or what was written (unknown)
    known: bool


def parse(body: str) -> Command | None:
    """The first ``/remediator <command>`` standing alone on a line of ``body``, else None."""
    m = _LINE.search(body.replace("\r\n", "\n"))
    if m is None:
        return None
    name = (m.group(1) or "").lower()
    return Command(name, name in COMMANDS)


Refusal = Literal["bot", "fork", "not-owned", "not-open", "no-permission"]


def refusal(sender: User, pr: PullRequest, owned: bool, permission: str | None) -> Refusal | None:
    """Why a command is ignored, or None when it is carried out. ``permission``: the sender's on the
    repository (GitHub's collaborator permission; None: not looked up yet)."""
    if sender.type.lower() == "bot" or sender.login.lower().endswith("[bot]"):
        return "bot"
    if not pr.head_repo or pr.head_repo.lower() != pr.base_repo.lower():
        return "fork"
    if not owned:
        return "not-owned"
    if pr.state != "open":
        return "not-open"
    if permission is not None and permission not in WRITE:
        return "no-permission"
    return None


def help_text(unknown: str) -> str:
    """The short reply to an unknown command: the commands there are."""
    lines = [f"Unknown command {code('/remediator ' + unknown) if unknown else code('/remediator')}. Commands:"]
    lines += [f"- {code('/remediator ' + k)}: {v}" for k, v in COMMANDS.items()]
    return "\n".join(lines)


def explanation(app: str, diagnosis_text: str) -> str:
    """The full diagnosis as an inert comment: ``diagnosis_text`` (already redacted) in a fence."""
    return (
        f"Diagnosis of {code(app)}, collected now:\n\n"
        + quote_block(diagnosis_text.splitlines(), "text")
        + "\n"
        + inline("Commands: " + ", ".join("/remediator " + k for k in COMMANDS))
    )


class ReplyLimit:
    """At most ``per_window`` replies per pull request in ``window`` seconds (a comment storm on
    one PR must not make the bot flood it, nor spend the API budget)."""

    def __init__(self, per_window: int = 5, window: float = 600.0) -> None:
        self.per_window = per_window
        self.window = window
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, pr_key: str, now: float | None = None) -> bool:
        t = time.monotonic() if now is None else now
        with self._lock:
            q = self._sent.setdefault(pr_key, deque())
            while q and q[0] <= t - self.window:
                q.popleft()
            if len(q) >= self.per_window:
                return False
            q.append(t)
            return True
