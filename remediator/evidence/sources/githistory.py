"""The Git side's past as evidence: earlier versions of an object in the history of the file that
declares it (GitPython). An image rollback reads the images a container ran before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import git

from remediator.errors import InputError
from remediator.evidence.relations import dig
from remediator.evidence.store import Obj
from remediator.model import ObjectRef
from remediator.yamlload import load_all

MAX_COMMITS = 50

History = Callable[[ObjectRef], list[Obj]]


def object_history(repo: Path, desired: list[Obj]) -> History:
    """For an object of ``desired`` (found by kind and name, its file in ``_source``): the object as
    each earlier commit of that file declared it, newest first. Read on first call; nothing for an
    object Git does not declare or a folder that is not the top of a checkout."""

    def history(ref: ObjectRef) -> list[Obj]:
        src = next(
            (
                str(o.get("_source"))
                for o in desired
                if o.get("kind") == ref.kind and dig(o, "metadata", "name") == ref.name
            ),
            None,
        )
        if src is None:
            return []
        try:
            r = git.Repo(repo)  # the checkout itself, never a repository that merely contains it
            rel = (repo / src).resolve().relative_to(Path(r.working_dir).resolve()).as_posix()
            out: list[Obj] = []
            for c in list(r.iter_commits(paths=rel, max_count=MAX_COMMITS))[1:]:
                try:
                    text = (c.tree / rel).data_stream.read().decode("utf-8", "replace")
                    for d in load_all(text, rel, as_json=False):
                        if isinstance(d, dict) and d.get("kind") == ref.kind and dig(d, "metadata", "name") == ref.name:
                            out.append(d)
                except (KeyError, ValueError, InputError):
                    continue
            return out
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError, git.GitCommandError):
            return []  # not the top of a checkout, or outside it: no earlier versions

    return history
