"""The pull request a reviewer can approve in a minute: title, body sections, comments."""

from __future__ import annotations

from dataclasses import dataclass

from remediator.fix import FixResult
from remediator.model import Category, Finding
from remediator.pr.base import marker
from remediator.redact import redact
from remediator.remedies.base import CreateObjects, Proposal, SetField
from remediator.source.yamlfile import path_str

DISPROVE = {
    Category.OOM_KILLED: "the container is OOMKilled again at the new limit (then memory grows without bound: a leak, not a sizing problem)",
    Category.RBAC_FORBIDDEN: "the API server still answers 403 for the account after the sync (then the role itself lacks the rule)",
    Category.MODEL_NOT_FOUND: "the server answers 404 for the new model too, or the app needs capabilities only the old model has",
    Category.DNS_RESOLUTION: "the name still does not resolve after the sync (then cluster DNS is at fault), or the address does not answer",
    Category.PVC_PENDING: "the claim stays Pending at the new size (then the provisioner or the class is at fault)",
    Category.IMAGE_PULL: "the old image cannot be pulled either (then the registry or the credentials are at fault)",
    Category.PROBE_FAILURE: "the probe still fails after the longer delay (then the endpoint itself is wrong or the app hangs)",
}


@dataclass(frozen=True)
class Context:
    app: str
    health: str | None
    sync: str | None
    since: str | None = None
    argocd_url: str | None = None
    app_namespace: str = "argocd"
    runbook: str | None = None
    why: str | None = None  # the narrative, by the model (facts checked) or deterministic
    why_source: str = "deterministic"


def field_name(ch: SetField) -> str:
    """A reviewer's name for the field: "env OLLAMA_MODEL", "subject namespace", "limits.memory"."""
    path = ch.path
    if len(path) >= 2 and path[-1] == "value" and isinstance(path[-2], dict) and "name" in path[-2]:
        return f"env {path[-2]['name']}"
    if "subjects" in path:
        return f"subject {path[-1]}"
    keys = [x for x in path if isinstance(x, str)]
    return ".".join(keys[-2:]) if keys else "value"


def change_summary(p: Proposal) -> str:
    for ch in p.changes:
        if isinstance(ch, SetField):
            return f"set {field_name(ch)} of {ch.target.kind} {ch.target.name} to {ch.value}"
        if isinstance(ch, CreateObjects):
            kinds = " + ".join(sorted({str(o.get("kind")) for o in ch.objects}, key=lambda k: k != "Service"))
            name = str((ch.objects[0].get("metadata") or {}).get("name"))
            return f"add {kinds} {name}"
    return p.remedy


def title(res: FixResult, app: str) -> str:
    assert res.finding is not None and res.proposal is not None
    return f"fix({app}): {change_summary(res.proposal)} ({res.finding.category.value})"


def _evidence(f: Finding) -> list[str]:
    lines = [f"{e.source}: {e.text}" for e in f.evidence]
    for sub in f.folded:
        lines += [f"{e.source}: {e.text}" for e in sub.evidence]
    return [redact(x)[:400] for x in lines]


def body(res: FixResult, ctx: Context, keys: dict[str, str], review: list[str] | None = None) -> str:
    f, p = res.finding, res.proposal
    assert f is not None and p is not None
    out: list[str] = []
    link = (
        f" ([Argo CD]({ctx.argocd_url.rstrip('/')}/applications/{ctx.app_namespace}/{ctx.app}))"
        if ctx.argocd_url
        else ""
    )
    out.append("## What is broken")
    out.append(
        f"Application **{ctx.app}**{link} is **{ctx.health or 'unknown'}** (sync: {ctx.sync or 'unknown'})"
        + (f", since {ctx.since}" if ctx.since else "")
        + f". Affected: {', '.join(str(r) for r in sorted(f.affects)) or str(f.culprit)}."
    )
    out.append("\n## Root cause")
    out.append(f"**[{f.category.value}]** `{f.culprit}`: {redact(f.summary)}\n")
    out += [f"{i}. {redact(step)}" for i, step in enumerate(f.chain, 1)]
    if ctx.why:
        out.append(f"\n*Why this happened* ({ctx.why_source}): {redact(ctx.why)}")
    ev = _evidence(f)
    out.append("\n## Evidence")
    out.append(f"<details><summary>{len(ev)} event and log line(s) (secrets redacted)</summary>\n\n```text")
    out += ev or ["(none)"]
    out.append("```\n</details>")
    out.append("\n## The change")
    out.append(redact(p.reason) + "\n")
    out.append("| file | field | old | new |")
    out.append("|---|---|---|---|")
    for ch in p.changes:
        if isinstance(ch, SetField):
            files = ", ".join(f"`{e.file}`" for e in res.edits if e.action == "modify") or "-"
            out.append(
                f"| {files} | `{path_str(ch.path)}` of {ch.target.kind} {ch.target.name} | `{ch.current}` | `{ch.value}` |"
            )
        else:
            files = ", ".join(f"`{e.file}`" for e in res.edits if e.action == "create") or ch.filename
            objs = ", ".join(f"{o.get('kind')} {(o.get('metadata') or {}).get('name')}" for o in ch.objects)
            out.append(f"| {files} | create | - | {objs} |")
    out.append(f"\nAllowed by the policy: remedy `{p.remedy}` is enabled; bounds and scope rules passed.")
    out.append("Checks: " + "; ".join(redact(n) for n in res.notes) + ".")
    for w in p.warnings:
        out.append("\n> [!WARNING]\n> " + redact(w).replace("\n", "\n> "))
    out.append("\n<details><summary>Diff</summary>\n\n```diff")
    out += [redact(e.diff).rstrip("\n") for e in res.edits]
    out.append("```\n</details>")
    if review is not None:
        out.append("\n**remediator review of this change:** " + ("no issues." if not review else ""))
        out += [f"- {redact(x)}" for x in review]
    out.append("\n## Risk and rollback")
    out.append(f"**Risk:** {redact(p.risk)}\n\n**Rollback:** {p.rollback}")
    out.append("\n## Confidence")
    out.append(
        f"{f.confidence:.0%} (detector `{f.detector}`). This diagnosis is wrong if "
        f"{DISPROVE.get(f.category, 'the same failure continues after Argo CD syncs this change')}."
    )
    if ctx.runbook:
        out.append(f"\nRunbook: {ctx.runbook}")
    out.append(
        "\n---\n*Opened by remediator. Merge to apply: Argo CD syncs the change. Close without merging to reject this fix for this cause.*"
    )
    out.append(marker(**keys))
    return "\n".join(out) + "\n"


def incident_comment(f: Finding, when: str | None, changed: bool, held: bool) -> str:
    head = "The failure happened again" + (f" ({when})" if when else "") + "."
    if changed and held:
        head += " The fix below differs from this branch, but someone else pushed to it, so it was not force-pushed:"
    elif changed:
        head += " The proposed change was updated (branch force-pushed)."
    else:
        head += " The proposed change is unchanged."
    ev = _evidence(f)[:10]
    return head + "\n\n<details><summary>New evidence</summary>\n\n```text\n" + "\n".join(ev) + "\n```\n</details>\n"
