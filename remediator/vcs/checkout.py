"""A cached clone of an app's repository (GitPython), and the branch/commit/push steps of a fix.

The token never touches disk or argv: it reaches git as an ``http.extraHeader`` through the
``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` environment of each command, and
every error message is scrubbed of it (and of its base64 form) before it is raised.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git

from remediator.errors import ForbiddenError, InputError, TemporaryError

BOT_NAME = "remediator"
BOT_EMAIL = "remediator@users.noreply.github.com"


class PushRejected(Exception):
    """The remote refused a push as non-fast-forward (the base moved)."""


@dataclass(frozen=True)
class Identity:
    name: str = BOT_NAME
    email: str = BOT_EMAIL


class Checkout:
    """One clone per repository URL under ``cache_root``; fetched, not re-cloned, on later runs."""

    def __init__(self, url: str, cache_root: Path, token: str | None = None, depth: int | None = 50) -> None:
        self.url = url
        self.token = token
        self.depth = depth
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "repo"
        self.path = cache_root / f"{name}-{key}"
        self._repo: git.Repo | None = None

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
        if self.token:
            text = text.replace(self.token, "***")
            text = text.replace(base64.b64encode(f"x-access-token:{self.token}".encode()).decode(), "***")
        return text

    @contextmanager
    def _git(self, what: str) -> Iterator[git.Git]:
        repo = self.repo
        try:
            with repo.git.custom_environment(**self._env()):
                yield repo.git
        except git.GitCommandError as e:
            err = self.redact(str(e.stderr or e)).strip().splitlines()
            last = next((ln.strip() for ln in reversed(err) if ln.strip()), "failed")
            low = " ".join(err).lower()
            if "non-fast-forward" in low or "fetch first" in low or ("rejected" in low and "stale info" in low):
                raise PushRejected(last) from None
            if "403" in low or "permission" in low or "authentication" in low or "could not read username" in low:
                raise ForbiddenError(f"git {what} {self.redact(self.url)}: {last.removeprefix('stderr: ')}") from None
            raise TemporaryError(f"git {what} {self.redact(self.url)}: {last.removeprefix('stderr: ')}") from None

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
                err = self.redact(str(e.stderr or e)).strip().splitlines()
                raise TemporaryError(
                    f"git clone {self.redact(self.url)}: {err[-1].strip() if err else 'failed'}"
                ) from None
            tmp.rename(self.path)
        else:
            with self._git("fetch") as g:
                g.fetch("origin", "--prune", "--force")
        heads = self.remote_branches()
        if revision and revision not in ("HEAD", "") and revision in heads:
            return revision
        with self._git("remote show") as g:
            out = str(g.ls_remote("--symref", "origin", "HEAD"))
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/"):
                return line.split("refs/heads/", 1)[1].split()[0]
        if "main" in heads:
            return "main"
        if heads:
            return sorted(heads)[0]
        raise InputError(f"{self.redact(self.url)}: the repository has no branches")

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

    def push(self, branch: str, force: bool = False, expect: str | None = None) -> None:
        """Push ``branch``; a forced push only replaces what we last saw there (``expect``)."""
        args = ["origin", f"refs/heads/{branch}:refs/heads/{branch}"]
        if force:
            args.insert(0, f"--force-with-lease=refs/heads/{branch}:{expect or ''}")
        with self._git("push") as g:
            g.push(*args)

    def delete_remote_branch(self, branch: str) -> None:
        with self._git("push --delete") as g:
            g.push("origin", "--delete", branch)

    def tree_of(self, ref: str) -> str:
        with self._git("rev-parse") as g:
            return str(g.rev_parse(f"{ref}^{{tree}}"))

    def fetch_branch(self, branch: str) -> None:
        with self._git("fetch") as g:
            g.fetch("origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")

    def authors_since(self, branch: str, base: str) -> set[str]:
        """E-mail addresses of the committers on ``origin/branch`` that are not on ``origin/base``."""
        with self._git("log") as g:
            out = str(g.log("--format=%ce", f"origin/{base}..origin/{branch}"))
        return {line.strip() for line in out.splitlines() if line.strip()}
