"""The embedded examples as real git remotes, so the whole pull-request flow runs without a code host."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import git

from remediator.errors import InputError


def example_remote(repo: Path | None, remote: Path) -> Path:
    """A bare repository at ``remote`` whose ``main`` holds the example's files (created once)."""
    if repo is None or not repo.is_dir():
        raise InputError("this example has no repository")
    if (remote / "HEAD").is_file():
        return remote
    remote.parent.mkdir(parents=True, exist_ok=True)
    git.Repo.init(remote, bare=True, initial_branch="main")
    with tempfile.TemporaryDirectory(prefix="remediator-example-") as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(repo, work)
        r = git.Repo.init(work, initial_branch="main")
        r.git.add("-A")
        actor = git.Actor("example", "example@example.org")
        r.index.commit("The example's manifests", author=actor, committer=actor)
        r.git.push(str(remote), "main:main")
    return remote
