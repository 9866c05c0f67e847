"""How a planned fix is shown: text (reasoning + unified diff) and the JSON contract of ``fix``.

Redacted by default like the diagnosis (``remediator.views.diagnosis``); ``redacted=False`` for ``--no-redact``."""

from __future__ import annotations

from pydantic import BaseModel

from remediator.edits.plan import FixResult
from remediator.redact import redact, redact_data
from remediator.views.diagnosis import FindingOut, finding_out, next_steps


class EditOut(BaseModel):
    file: str
    action: str
    diff: str
    remedy: str
    reason: str


class RefusedOut(BaseModel):
    category: str
    reason: str
    rule: str


class FixOut(BaseModel):
    app: str | None
    findings: list[FindingOut]
    edits: list[EditOut]
    refused: list[RefusedOut]
    warnings: list[str]
    risk: str | None
    rollback: str | None
    notes: list[str]
    branch: str | None


def to_model(res: FixResult, branch: str | None = None) -> FixOut:
    p = res.proposal
    return FixOut(
        app=res.diagnosis.app,
        findings=[finding_out(f) for f in res.diagnosis.findings],
        edits=[EditOut(file=e.file, action=e.action, diff=e.diff, remedy=e.remedy, reason=e.reason) for e in res.edits],
        refused=[RefusedOut(category=r.category, reason=r.reason, rule=r.rule) for r in res.refused],
        warnings=list(p.warnings) if p else [],
        risk=p.risk if p and res.edits else None,
        rollback=p.rollback if p and res.edits else None,
        notes=res.notes,
        branch=branch,
    )


def to_json(res: FixResult, branch: str | None = None, redacted: bool = True) -> str:
    m = to_model(res, branch)
    if redacted:
        m = FixOut.model_validate(redact_data(m.model_dump()))
    return m.model_dump_json(indent=2)


def to_text(res: FixResult, branch: str | None = None, redacted: bool = True) -> str:
    text = _text(res, branch)
    return redact(text) if redacted else text


def _text(res: FixResult, branch: str | None = None) -> str:
    out: list[str] = []
    f = res.finding
    if f is None:
        return "No finding: nothing to fix.\n"
    out.append(f"Root cause: [{f.category.value}] {f.culprit}: {f.summary}")
    for i, step in enumerate(f.chain, 1):
        out.append(f"  {i}. {step}")
    p = res.proposal
    if res.edits and p is not None:
        out.append(f"\nRemedy: {p.remedy}\n  {p.reason}")
        out.append(f"Risk: {p.risk}")
        out.append(f"Rollback: {p.rollback}")
        for w in p.warnings:
            out.append(f"WARNING: {w}")
        out.append("\nChecks:")
        out += [f"  - {n}" for n in res.notes]
        out.append("")
        out += [e.diff for e in res.edits]
        if branch:
            out.append(f"Committed on local branch {branch}")
    for r in res.refused:
        out.append(f"\nNo edit ({r.rule}): {r.reason}")
    if not res.edits and not res.refused:
        out.append("\nNo edit: the source already has the change.")
    if not res.edits and res.refused:
        out.append("\nNext steps:")
        out += [f"  {i}. {s.replace('`', '')}" for i, s in enumerate(next_steps(f), 1)]
    return "\n".join(out).rstrip("\n") + "\n"


def to_markdown(res: FixResult, title: str | None = None, redacted: bool = True) -> str:
    """The dry run as a job summary: the findings, then what the bot would change (or why not)."""
    text = _markdown(res, title)
    return redact(text) if redacted else text


def _markdown(res: FixResult, title: str | None = None) -> str:
    out = [f"## remediator dry run{': ' + title if title else ''}", ""]
    d = res.diagnosis
    out.append(f"App **{d.app or '?'}**: health {d.health or 'unknown'}, sync {d.sync or 'unknown'}.")
    if d.findings:
        out += ["", "| # | category | culprit | confidence | summary |", "|---|---|---|---|---|"]
        for n, f in enumerate(d.findings[:10], 1):
            out.append(
                f"| {n} | {f.category.value} | `{f.culprit}` | {f.confidence:.0%} | {f.summary.replace('|', '/')} |"
            )
    p = res.proposal
    if res.edits and p is not None:
        out += ["", f"**Would change** ({p.remedy}): {p.reason}", "", "```diff"]
        out += [e.diff.rstrip("\n") for e in res.edits]
        out += ["```", "", f"Risk: {p.risk}"]
        out += [f"\n> [!WARNING]\n> {w}" for w in p.warnings]
    for r in res.refused:
        out.append(f"\n**No edit** (`{r.rule}`): {r.reason}")
    return "\n".join(out) + "\n"
