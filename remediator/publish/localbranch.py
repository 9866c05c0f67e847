"""``remediator fix`` without a code host: commit the planned edits on a new branch of the local
checkout. The branch is named and the commit message written as for a pull request
(:func:`remediator.publish.base.branch_name`, :func:`remediator.publish.body.commit_message`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import git

from remediator.edits.plan import FixResult, apply_edits
from remediator.errors import InputError
from remediator.policy import Policy
from remediator.publish.base import branch_name
from remediator.publish.body import commit_message


def local_branch(res: FixResult, policy: Policy) -> str:
    """The branch the fix is committed on: the name its pull request would have."""
    f = res.finding
    assert f is not None
    return branch_name(policy.git.branch_prefix, res.diagnosis.app or "app", f.category.value, res.fingerprint)


def commit(repo: Path, res: FixResult, policy: Policy) -> str:
    """Commit the edits on a new local branch (from HEAD) through a temporary worktree, so the
    user's checkout and index are untouched. Returns the branch name."""
    try:
        r = git.Repo(repo, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
        raise InputError(f"{repo}: not a git repository; use --dry-run") from e
    top = Path(r.working_dir).resolve()
    prefix = repo.resolve().relative_to(top)
    branch = local_branch(res, policy)
    if branch in [h.name for h in r.heads]:
        return branch  # the same fix (same fingerprint) was committed before
    with tempfile.TemporaryDirectory(prefix="remediator-wt-") as tmp:
        wt = Path(tmp) / "wt"
        r.git.worktree("add", "-q", "-b", branch, str(wt), "HEAD")
        try:
            apply_edits(wt / prefix, res.edits)
            w = git.Repo(wt)
            w.git.add("-A", "--", *[str(prefix / e.file) for e in res.edits])
            assert res.proposal is not None
            actor = git.Actor(policy.git.name, policy.git.email)
            msg = commit_message(res, res.diagnosis.app or "app", res.fingerprint)
            w.index.commit(msg, author=actor, committer=actor)
        except Exception:
            r.git.worktree("remove", "--force", str(wt))
            r.git.branch("-D", branch)
            raise
        r.git.worktree("remove", "--force", str(wt))
    return branch
