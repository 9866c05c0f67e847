"""A cached clone of an app's repository (GitPython), and the branch/commit/push steps of a fix.

The token never touches disk or argv: it reaches git as an ``http.extraHeader`` through the
``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` environment of each command, and
every error message is scrubbed of it (and of its base64 form) before it is raised.

``push`` and ``delete_remote_branch`` are the only writes to a remote, and they hold the write
invariants: a valid branch name under the bot's prefix, never the base or default branch nor a
protected one, and only to the repository this checkout was made for (``origin`` as git resolves it
for a push, rewrites included, must still be the URL it was constructed with).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git

from remediator.errors import ForbiddenError, InputError, PermanentError, TemporaryError
from remediator.policy import GitIdentity
from remediator.redact import redact as scrub

BOT_NAME = "remediator"
BOT_EMAIL = "remediator@users.noreply.github.com"
_GIT_DEFAULTS = GitIdentity()
_REF_CHARS = re.compile(r"[A-Za-z0-9._/-]+")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_GIT_PROGRESS = ("Cloning into", "remote: Enumerating", "remote: Counting", "remote: Compressing", "remote: Total")
GIT_ERROR_MAX = 2048  # characters of git's own message kept in an error


class UnsafePush(PermanentError):
    """A push or delete that would break the write invariants; nothing was pushed."""


def check_ref_name(name: str) -> str | None:
    """Why ``name`` is not a branch name the bot would use (``git check-ref-format`` rules, on a
    conservative character set), or None when it is fine."""
    if not name or len(name) > 200:
        return "empty or longer than 200 characters"
    if not _REF_CHARS.fullmatch(name):
        return "characters outside A-Z a-z 0-9 . _ / -"
    if name.startswith(("/", "-", "refs/")) or name.endswith(("/", ".", ".lock")) or name == "HEAD":
        return "a leading '/', '-' or 'refs/', a trailing '/', '.' or '.lock', or HEAD"
    if ".." in name or "//" in name or "@{" in name:
        return "'..', '//' or '@{'"
    for part in name.split("/"):
        if part.startswith((".", "-")) or part.endswith(".lock"):
            return f"component {part!r} starts with '.' or '-' or ends with '.lock'"
    return None


def safe_component(text: str, limit: int = 63) -> str:
    """One branch-name component from any text (an app name, a category): lowercase DNS-1123-ish
    characters; when the text had to change, a short hash of the original keeps names distinct."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    if s and s == text:
        return s
    tail = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{s[: limit - 7]}-{tail}".strip("-") if s else f"x-{tail}"


class PushRejected(TemporaryError):
    """The remote refused a push as non-fast-forward (the base moved)."""


@dataclass(frozen=True)
class Identity:
    name: str = BOT_NAME
    email: str = BOT_EMAIL


class Checkout:
    """One clone per repository URL under ``cache_root``; fetched, not re-cloned, on later runs."""

    def __init__(
        self,
        url: str,
        cache_root: Path,
        token: str | None = None,
        depth: int | None = 50,
        branch_prefix: str = _GIT_DEFAULTS.branch_prefix,
        protected: Sequence[str] = tuple(_GIT_DEFAULTS.protected_branches),
    ) -> None:
        self.url = url
        self.token = token
        self.depth = depth
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        name = safe_component(url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "repo", 40)
        self.path = cache_root / f"{name}-{key}"
        self._repo: git.Repo | None = None
        self.branch_prefix = branch_prefix
        self.protected: tuple[str, ...] = tuple(protected)
        self.base: str | None = None  # the base branch sync() resolved
        self.default_branch: str | None = None  # the remote's HEAD
        self.dry_run = False  # pushes and deletes are recorded in ``would``, not made
        self.would: list[str] = []

    def restrict(self, branch_prefix: str, protected: Sequence[str]) -> None:
        """Apply the policy's branch rules (``git.branch_prefix``, ``git.protected_branches``)."""
        self.branch_prefix = branch_prefix
        self.protected = tuple(protected)

    # --- secrets ------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "echo"}
        if self.token and self.url.startswith("https://"):
            basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
            env.update(
                GIT_CONFIG_COUNT="1",
                GIT_CONFIG_KEY_0="http.extraHeader",
                GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
            )
        return env

    def redact(self, text: str) -> str:
        text = _USERINFO.sub("***@", text)  # credentials written into a URL
        if self.token:
            text = text.replace(self.token, "***")
            text = text.replace(base64.b64encode(f"x-access-token:{self.token}".encode()).decode(), "***")
        return text

    def git_error(self, e: git.GitCommandError) -> str:
        """What git printed, whole (every line, joined into one), redacted and bounded: the reason
        is often on the first line ("fatal: ...") and the hint on the last."""
        raw = e.stderr if e.stderr else str(e)
        lines = [ln.strip() for ln in self.redact(scrub(str(raw))).strip().splitlines() if ln.strip()]
        lines = [ln.removeprefix("stderr: ").strip("'").strip() for ln in lines]
        lines = [ln for ln in lines if not ln.startswith(_GIT_PROGRESS)]
        text = " / ".join(ln for ln in lines if ln) or "failed"
        return text if len(text) <= GIT_ERROR_MAX else text[: GIT_ERROR_MAX - 1] + "…"

    @contextmanager
    def _git(self, what: str) -> Iterator[git.Git]:
        repo = self.repo
        try:
            with repo.git.custom_environment(**self._env()):
                yield repo.git
        except git.GitCommandError as e:
            whole = self.git_error(e)
            low = whole.lower()
            if "non-fast-forward" in low or "fetch first" in low or ("rejected" in low and "stale info" in low):
                raise PushRejected(whole) from e
            if "403" in low or "permission" in low or "authentication" in low or "could not read username" in low:
                raise ForbiddenError(f"git {what} {self.redact(self.url)}: {whole}") from e
            raise TemporaryError(f"git {what} {self.redact(self.url)}: {whole}") from e

    @property
    def repo(self) -> git.Repo:
        if self._repo is None:
            self._repo = git.Repo(self.path)
        return self._repo

    # --- clone / fetch ---------------------------------------------------------------

    def sync(self, revision: str | None) -> str:
        """Clone once (shallow where the transport allows), else fetch; returns the base branch:
        ``revision`` when it names a branch of the remote, else the remote's default branch."""
        fresh = not (self.path / ".git").is_dir()
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            args = [self._transport_url(), str(tmp), "--no-checkout"]
            if self.depth and "://" in self._transport_url():
                args += ["--depth", str(self.depth), "--no-single-branch"]
            try:
                g = git.Git()
                with g.custom_environment(**self._env()):
                    g.clone(*args)
            except git.GitCommandError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                raise TemporaryError(f"git clone {self.redact(self.url)}: {self.git_error(e)}") from e
            tmp.rename(self.path)
        else:
            self._check_origin("fetch")  # the token goes only where the clone came from
            with self._git("fetch") as g:
                g.fetch("origin", "--prune", "--force")
        heads = self.remote_branches()
        with self._git("remote show") as g:
            out = str(g.ls_remote("--symref", "origin", "HEAD"))
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/"):
                self.default_branch = line.split("refs/heads/", 1)[1].split()[0]
                break
        if revision and revision not in ("HEAD", "") and revision in heads:
            self.base = revision
        elif self.default_branch:
            self.base = self.default_branch
        elif "main" in heads:
            self.base = "main"
        elif heads:
            self.base = sorted(heads)[0]
        else:
            raise InputError(f"{self.redact(self.url)}: the repository has no branches")
        return self.base

    def _transport_url(self) -> str:
        u = self.url
        if "://" not in u and not u.startswith("git@") and Path(u).exists():
            return Path(u).resolve().as_uri()  # file:// so that --depth works for local remotes too
        return u

    def remote_branches(self) -> dict[str, str]:
        with self._git("ls-remote") as g:
            out = str(g.ls_remote("--heads", "origin"))
        heads = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                heads[ref.removeprefix("refs/heads/")] = sha
        return heads

    # --- branch, commit, push ----------------------------------------------------------

    def start_branch(self, branch: str, base: str) -> None:
        """A clean work tree on ``branch`` at the tip of ``origin/base``."""
        with self._git("fetch") as g:
            g.fetch("origin", f"+refs/heads/{base}:refs/remotes/origin/{base}")
            g.checkout("-q", "-B", branch, f"origin/{base}")
            g.reset("-q", "--hard", f"origin/{base}")
            g.clean("-q", "-fdx")

    def commit(self, files: dict[str, str], message: str, who: Identity) -> str | None:
        """Write ``files`` (repo-relative path -> text) and commit them; None when nothing changed."""
        for rel, text in files.items():
            path = self.path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.remediator-tmp")
            tmp.write_text(text, encoding="utf-8", newline="")
            os.replace(tmp, path)
        with self._git("add") as g:
            g.add("-A", "--", *files)
            if not str(g.status("--porcelain", "--", *files)).strip():
                return None
        actor = git.Actor(who.name, who.email)
        c = self.repo.index.commit(message, author=actor, committer=actor)
        return c.hexsha

    def _guard(self, branch: str, what: str) -> None:
        """The write invariants; raises ``UnsafePush`` (nothing pushed) when one does not hold."""
        where = self.redact(self.url)
        problem = check_ref_name(branch)
        if problem is not None:
            raise UnsafePush(f"git {what} {where}: refusing branch {branch!r}: {problem}")
        if not branch.startswith(self.branch_prefix):
            raise UnsafePush(
                f"git {what} {where}: refusing branch {branch!r}: the bot writes only branches under "
                f"{self.branch_prefix!r} (git.branch_prefix)"
            )
        for name, why in ((self.base, "the base branch"), (self.default_branch, "the default branch")):
            if name is not None and branch == name:
                raise UnsafePush(f"git {what} {where}: refusing branch {branch!r}: it is {why}")
        hit = next((g for g in self.protected if fnmatch.fnmatchcase(branch.lower(), g.lower())), None)
        if hit is not None:
            raise UnsafePush(
                f"git {what} {where}: refusing branch {branch!r}: protected by {hit!r} (git.protected_branches)"
            )
        self._check_origin(what)

    def _check_origin(self, what: str) -> None:
        """``origin``, as git resolves it (``insteadOf`` rewrites included), is still our URL."""
        for args in (("get-url", "origin"), ("get-url", "--push", "origin")):
            with self._git("remote get-url") as g:
                target = str(g.remote(*args)).strip()
            if target != self._transport_url():
                raise UnsafePush(
                    f"git {what}: refusing: origin of the clone points at {self.redact(target)!r}, "
                    f"not at {self.redact(self.url)}, the repository it was made for"
                )

    def push(self, branch: str, force: bool = False, expect: str | None = None) -> None:
        """Push ``branch``; a forced push only replaces what we last saw there (``expect``)."""
        self._guard(branch, "push")
        if self.dry_run:
            self.would.append(f"{'force-push' if force else 'push'} branch {branch}")
            return
        args = ["origin", f"refs/heads/{branch}:refs/heads/{branch}"]
        if force:
            args.insert(0, f"--force-with-lease=refs/heads/{branch}:{expect or ''}")
        with self._git("push") as g:
            g.push(*args)

    def delete_remote_branch(self, branch: str) -> None:
        self._guard(branch, "push --delete")
        if self.dry_run:
            self.would.append(f"delete branch {branch}")
            return
        with self._git("push --delete") as g:
            g.push("origin", "--delete", f"refs/heads/{branch}")

    def tree_of(self, ref: str) -> str:
        with self._git("rev-parse") as g:
            return str(g.rev_parse(f"{ref}^{{tree}}"))

    def fetch_branch(self, branch: str) -> None:
        problem = check_ref_name(branch)
        if problem is not None:
            raise UnsafePush(f"git fetch {self.redact(self.url)}: refusing branch {branch!r}: {problem}")
        with self._git("fetch") as g:
            g.fetch("origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")

    def authors_since(self, branch: str, base: str) -> set[str]:
        """E-mail addresses of the committers on ``origin/branch`` that are not on ``origin/base``."""
        with self._git("log") as g:
            out = str(g.log("--format=%ce", f"origin/{base}..origin/{branch}"))
        return {line.strip() for line in out.splitlines() if line.strip()}
