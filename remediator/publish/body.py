"""The pull request a reviewer can approve in a minute: title, body sections, comments.

Everything from outside the bot (cluster text, logs, events, the repository's values, the model's
narrative) reaches Markdown only through the quoting functions below: ``plain`` (titles, commit
messages), ``inline`` (Markdown prose), ``code`` (an inline code span) and ``quote_block`` (a fenced
block). None of them can produce an HTML comment (so no marker), an @mention, a closing keyword
(``Fixes #12``), a heading, a link or a fence that ends early."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from remediator.edits.plan import FixResult
from remediator.edits.yamlfile import path_str
from remediator.model import Category, Finding
from remediator.publish.base import marker
from remediator.redact import redact
from remediator.remedies.base import CreateObjects, Proposal, RemoveField, SetField

DISPROVE = {
    Category.OOM_KILLED: "the container is OOMKilled again at the new limit (then memory grows without bound: a leak, not a sizing problem)",
    Category.RBAC_FORBIDDEN: "the API server still answers 403 for the account after the sync (then the role itself lacks the rule)",
    Category.MODEL_NOT_FOUND: "the server answers 404 for the new model too, or the app needs capabilities only the old model has",
    Category.DNS_RESOLUTION: "the name still does not resolve after the sync (then cluster DNS is at fault), or the address does not answer",
    Category.PVC_PENDING: "the claim stays Pending at the new size (then the provisioner or the class is at fault)",
    Category.IMAGE_PULL: "the old image cannot be pulled either (then the registry or the credentials are at fault)",
    Category.PROBE_FAILURE: "the probe still fails after the longer delay (then the endpoint itself is wrong or the app hangs)",
}


ZWJ = "\u200d"  # zero-width joiner: invisible, and breaks every pattern GitHub or our parser matches
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_CLOSING = re.compile(
    r"(?i)\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b(?=[\s:]*(?:[\w.-]+/[\w.-]+)?#\d|[\s:]*(?:https?://|gh-\d))"
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")


def neutral(text: str) -> str:
    """No HTML comment (``<!--``/``-->``), no @mention, no closing keyword, no control or
    bidirectional characters; line structure and spacing kept (for fenced blocks)."""
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("<!--", f"<{ZWJ}!--").replace("-->", f"--{ZWJ}>")
    text = _MENTION.sub(f"@{ZWJ}", text)
    return _CLOSING.sub(lambda m: m.group(1)[0] + ZWJ + m.group(1)[1:], text)


def plain(text: object, limit: int | None = None) -> str:
    """One neutral line (titles, commit messages): newlines cannot add sections or trailers."""
    line = " ".join(neutral(str(text)).split())
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"


def inline(text: object) -> str:
    """One neutral line of Markdown prose: no HTML, links, images, emphasis, code or table cells,
    and nothing at its start that a line-start could make a heading, quote or list."""
    return _LINE_START.sub(r"\1\\\2", _MD_SPECIAL.sub(r"\\\1", plain(text)))


def _fence_for(text: str, least: int) -> str:
    runs = [len(r) for r in re.findall(r"`+", text)]
    return "`" * max(least, max(runs, default=0) + 1)


def code(text: object) -> str:
    """An inline code span that holds ``text`` literally (and survives a table cell)."""
    t = " ".join(neutral(str(text)).split()).replace("|", "\\|")
    fence = _fence_for(t, 1)
    pad = " " if t.startswith("`") or t.endswith("`") or not t.strip() else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def quote_block(lines: Iterable[str], lang: str = "text") -> str:
    """A fenced block longer than any backtick run in ``lines``: their text cannot close it."""
    body = "\n".join(neutral(x).rstrip("\n") for x in lines)
    fence = _fence_for(body, 3)
    return f"{fence}{lang}\n{body}\n{fence}"


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
            if isinstance(ch.value, dict | list):  # a new rule, probe or term: named, not printed
                return f"update {field_name(ch)} of {ch.target.kind} {ch.target.name}"
            value = str(ch.value)
            return f"set {field_name(ch)} of {ch.target.kind} {ch.target.name} to {value[:60] + '…' if len(value) > 60 else value}"
        if isinstance(ch, CreateObjects):
            kinds = " + ".join(sorted({str(o.get("kind")) for o in ch.objects}, key=lambda k: k != "Service"))
            name = str((ch.objects[0].get("metadata") or {}).get("name"))
            return f"add {kinds} {name}"
    return p.remedy


def title(res: FixResult, app: str) -> str:
    """One line, at most 200 characters, every part neutralised (GitHub allows 256)."""
    assert res.finding is not None and res.proposal is not None
    return plain(f"fix({app}): {change_summary(res.proposal)} ({res.finding.category.value})", 200)


def commit_message(res: FixResult, app: str, fingerprint: str) -> str:
    """Subject, cause and trailers; cluster text made one neutral line, so it adds no trailer."""
    f, p = res.finding, res.proposal
    assert f is not None and p is not None
    return (
        f"{plain(f'fix({f.category.value}): {change_summary(p)}', 200)}\n\n"
        f"Cause: {plain(redact(f.summary), 1000)}\n\nApp: {plain(app, 200)}\nRemediator-Fingerprint: {fingerprint}\n"
    )


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
        f" ([Argo CD]({ctx.argocd_url.rstrip('/')}/applications/{quote(ctx.app_namespace, safe='')}/{quote(ctx.app, safe='')}))"
        if ctx.argocd_url
        else ""
    )
    out.append("## What is broken")
    out.append(
        f"Application **{inline(ctx.app)}**{link} is **{inline(ctx.health or 'unknown')}** "
        f"(sync: {inline(ctx.sync or 'unknown')})"
        + (f", since {inline(ctx.since)}" if ctx.since else "")
        + f". Affected: {inline(', '.join(str(r) for r in sorted(f.affects)) or str(f.culprit))}."
    )
    out.append("\n## Root cause")
    out.append(f"**[{inline(f.category.value)}]** {code(f.culprit)}: {inline(redact(f.summary))}\n")
    out += [f"{i}. {inline(redact(step))}" for i, step in enumerate(f.chain, 1)]
    if ctx.why:
        out.append(f"\n*Why this happened* ({inline(ctx.why_source)}): {inline(redact(ctx.why))}")
    ev = _evidence(f)
    out.append("\n## Evidence")
    out.append(f"<details><summary>{len(ev)} event and log line(s) (secrets redacted)</summary>\n")
    out.append(quote_block(ev or ["(none)"]))
    out.append("</details>")
    out.append("\n## The change")
    out.append(inline(redact(p.reason)) + "\n")
    out.append("| file | field | old | new |")
    out.append("|---|---|---|---|")
    for ch in p.changes:
        if isinstance(ch, SetField):
            files = ", ".join(code(e.file) for e in res.edits if e.action == "modify") or "-"
            out.append(
                f"| {files} | {code(path_str(ch.path))} of {inline(ch.target.kind)} {inline(ch.target.name)} "
                f"| {code(redact(str(ch.current)))} | {code(redact(str(ch.value)))} |"
            )
        elif isinstance(ch, RemoveField):
            files = ", ".join(code(e.file) for e in res.edits if e.action == "modify") or "-"
            out.append(
                f"| {files} | {code(path_str(ch.path))} of {inline(ch.target.kind)} {inline(ch.target.name)} "
                "| (set) | (removed) |"
            )
        else:
            files = ", ".join(code(e.file) for e in res.edits if e.action == "create") or code(ch.filename)
            objs = ", ".join(f"{o.get('kind')} {(o.get('metadata') or {}).get('name')}" for o in ch.objects)
            out.append(f"| {files} | create | - | {inline(objs)} |")
    out.append(f"\nAllowed by the policy: remedy {code(p.remedy)} is enabled; bounds and scope rules passed.")
    out.append("Checks: " + "; ".join(inline(redact(n)) for n in res.notes) + ".")
    for w in p.warnings:
        out.append("\n> [!WARNING]\n> " + inline(redact(w)))
    out.append("\n<details><summary>Diff</summary>\n")
    out.append(quote_block([redact(e.diff).rstrip("\n") for e in res.edits], "diff"))
    out.append("</details>")
    if review is not None:
        out.append("\n**remediator review of this change:** " + ("no issues." if not review else ""))
        out += [f"- {inline(redact(x))}" for x in review]
    out.append("\n## Risk and rollback")
    out.append(f"**Risk:** {inline(redact(p.risk))}\n\n**Rollback:** {inline(redact(p.rollback))}")
    out.append("\n## Confidence")
    out.append(
        f"{f.confidence:.0%} (detector {code(f.detector)}). This diagnosis is wrong if "
        f"{DISPROVE.get(f.category, 'the same failure continues after Argo CD syncs this change')}."
    )
    if ctx.runbook:
        out.append(f"\nRunbook: {plain(ctx.runbook)}")
    out.append(
        "\n---\n*Opened by remediator. Merge to apply: Argo CD syncs the change. Close without merging to reject this fix for this cause.*"
    )
    out.append(marker(**keys))
    return "\n".join(out) + "\n"


def incident_comment(f: Finding, when: str | None, changed: bool, held: bool) -> str:
    head = "The failure happened again" + (f" ({inline(when)})" if when else "") + "."
    if changed and held:
        head += " The fix below differs from this branch, but someone else pushed to it, so it was not force-pushed:"
    elif changed:
        head += " The proposed change was updated (branch force-pushed)."
    else:
        head += " The proposed change is unchanged."
    ev = _evidence(f)[:10]
    return head + "\n\n<details><summary>New evidence</summary>\n\n" + quote_block(ev) + "\n</details>\n"
