"""Run the review: which lines a pull request changes, the checks, and the three outputs (GitHub
review comments, SARIF 2.1.0, Markdown job summary)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remediator import __version__
from remediator.errors import InputError
from remediator.policy import Policy
from remediator.review.checks import RULES
from remediator.review.context import load_context
from remediator.review.model import Issue, Severity

REV = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./@^~{}-]{0,254}")
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
MARK = "<!-- remediator-review: {key} -->"


@dataclass
class ReviewResult:
    issues: list[Issue]
    errors: list[str] = field(default_factory=list)
    changed: dict[str, set[int]] | None = None  # file -> changed lines (None: whole repository)

    def on_changed_lines(self) -> list[Issue]:
        if self.changed is None:
            return []
        return [i for i in self.issues if i.line in self.changed.get(i.file, set())]

    def worst(self) -> Severity | None:
        return max((i.severity for i in self.issues), default=None)


def changed_lines(repo: Path, base: str, head: str) -> dict[str, set[int]]:
    """Lines added or modified by ``base...head`` per file (git diff -U0)."""
    for name, rev in (("base", base), ("head", head)):
        if not REV.fullmatch(rev):  # from a pull_request payload: never an option such as --output=...
            raise InputError(f"--{name} {rev[:80]!r}: not a commit or branch name")
    _check_folder(repo)
    if not (repo / ".git").exists():
        inside = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True, check=False
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            raise InputError(f"{repo}: not a Git repository; a diff needs one (or review every file with --all)")
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "diff", "--no-color", "--no-ext-diff", "-U0", "--diff-filter=AMR", f"{base}...{head}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", "") or str(e)
        raise InputError(
            f"git diff {base}...{head} in {repo}: {err.strip().splitlines()[-1] if err.strip() else 'failed'}"
        ) from e
    files: dict[str, set[int]] = {}
    current: str | None = None
    for line in out.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else None
            if current is not None:
                files.setdefault(current, set())
        elif current is not None and (m := HUNK.match(line)):
            start, count = int(m.group(1)), int(m.group(2) or 1)
            files[current].update(range(start, start + count))
    return files


def _check_folder(repo: Path) -> None:
    if not repo.exists():
        raise InputError(f"{repo}: no such folder")
    if not repo.is_dir():
        raise InputError(f"{repo}: not a folder")


def run_review(repo: Path, policy: Policy, changed: dict[str, set[int]] | None = None) -> ReviewResult:
    """Every check over the repository (``changed``: only those files' lines matter). Raises
    InputError when there is nothing to review: no such folder, or not one manifest in it."""
    _check_folder(repo)
    focus = {f for f in changed if f.endswith((".yaml", ".yml"))} if changed is not None else None
    ctx = load_context(repo, policy, focus)
    issues: list[Issue] = []
    for rule in RULES:
        if rule.id in policy.review.ignore:
            continue
        issues += rule.check(ctx)
    issues.sort(key=lambda i: (i.file, i.line, -int(i.severity), i.rule))
    return ReviewResult(issues, ctx.errors, changed)


def comment_body(i: Issue) -> str:
    rule = next(r for r in RULES if r.id == i.rule)
    return f"**{i.rule} {rule.name}** ({i.severity.name}): {i.message}\n\nFix: {i.hint}\n\n{MARK.format(key=i.key)}"


def to_sarif(res: ReviewResult) -> dict[str, Any]:
    rules = [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.summary},
            "defaultConfiguration": {"level": r.severity.sarif},
            "helpUri": "https://github.com/remediator/remediator#review",
        }
        for r in RULES
    ]
    index = {r.id: n for n, r in enumerate(RULES)}
    results = [
        {
            "ruleId": i.rule,
            "ruleIndex": index[i.rule],
            "level": i.severity.sarif,
            "message": {"text": f"{i.message} Fix: {i.hint}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": i.file, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": i.line},
                    }
                }
            ],
            "partialFingerprints": {"remediatorKey/v1": i.key},
        }
        for i in res.issues
    ]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "remediator",
                        "version": __version__,
                        "informationUri": "https://github.com/remediator/remediator",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
                "results": results,
            }
        ],
    }


def to_markdown(res: ReviewResult) -> str:
    n = len(res.issues)
    out = ["## remediator review", ""]
    if not n:
        out.append("No issues in the changed manifests.")
    else:
        by = {s: sum(1 for i in res.issues if i.severity == s) for s in Severity}
        out.append(
            f"{n} issue(s): {by[Severity.error]} error, {by[Severity.warning]} warning, {by[Severity.note]} note."
        )
        out += ["", "| rule | severity | where | issue | fix |", "|---|---|---|---|---|"]
        for i in res.issues:
            msg = i.message.replace("|", "\\|")
            out.append(
                f"| {i.rule} | {i.severity.name} | `{i.file}:{i.line}` | {msg} | {i.hint.replace('|', chr(92) + '|')} |"
            )
    for e in res.errors[:20]:
        out.append(f"\n> could not read: {e}")
    return "\n".join(out) + "\n"


def post_review(gh: Any, number: int, sha: str, res: ReviewResult) -> tuple[int, int, int]:
    """One review per run with the new comments; earlier bot comments are edited when their text
    changed and left alone when not. Returns (new, updated, unchanged)."""
    existing: dict[str, tuple[int, str]] = {}
    for cid, body in gh.review_comments(number):
        m = re.search(r"<!-- remediator-review: (\w+) -->", body)
        if m:
            existing[m.group(1)] = (cid, body)
    new: list[dict[str, object]] = []
    updated = unchanged = 0
    for i in res.on_changed_lines():
        body = comment_body(i)
        if i.key in existing:
            cid, old = existing[i.key]
            if old.strip() != body.strip():
                gh.edit_review_comment(number, cid, body)
                updated += 1
            else:
                unchanged += 1
            continue
        new.append({"path": i.file, "line": i.line, "side": "RIGHT", "body": body})
    if new:
        worst = max(i.severity for i in res.on_changed_lines())
        gh.create_review(number, sha, f"remediator review: {len(new)} new issue(s), worst: {worst.name}.", new)
    return len(new), updated, unchanged
