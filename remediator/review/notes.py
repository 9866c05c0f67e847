"""The bot's own review of the files a fix edits, as notes for its pull request body.

The faces hand :func:`review_notes` to the flow, which passes it to ``publish.propose``: publishing
shows the notes, it does not run the review."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from remediator.policy import Policy
from remediator.publish.propose import ReviewNotes
from remediator.review.run import run_review


def review_notes(policy: Policy) -> ReviewNotes:
    """Review the edited files of a clone with ``policy``: one line per issue."""

    def notes(root: Path, files: Iterable[str]) -> list[str]:
        rv = run_review(root, policy, {f: set() for f in files})
        return [f"{i.severity.name} {i.rule} `{i.file}:{i.line}`: {i.message}" for i in rv.issues]

    return notes
