"""Text and JSON of ``remediator doctor``: one line per check, a summary, fixes for the failures."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from remediator.redact import redact

Status = Literal["ok", "fail", "warn", "skip"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""  # for a failure (or a warning): what to do
    missing: list[dict[str, str]] = field(default_factory=list)  # kubernetes-rbac: the denied reads
    snippet: str = ""  # kubernetes-rbac: a ClusterRole granting them


def clusterrole_snippet(missing: list[dict[str, str]], name: str = "remediator-read") -> str:
    """A ready-to-apply ClusterRole granting the missing reads, one rule per API group."""
    by_group: dict[str, dict[str, set[str]]] = {}
    for m in missing:
        by_group.setdefault(m["group"], {}).setdefault(m["resource"], set()).add(m["verb"])
    lines = [
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: ClusterRole",
        "metadata:",
        f"  name: {name}",
        "rules:",
    ]
    for group in sorted(by_group):
        verbs_of = by_group[group]
        # one rule per set of verbs, so nothing more than what is missing is granted
        for verbs in sorted({tuple(sorted(v)) for v in verbs_of.values()}):
            resources = sorted(r for r, v in verbs_of.items() if tuple(sorted(v)) == verbs)
            lines += [
                f'  - apiGroups: ["{group}"]',
                f"    resources: [{', '.join(resources)}]",
                f"    verbs: [{', '.join(verbs)}]",
            ]
    return "\n".join(lines) + "\n"


def ok(checks: list[Check]) -> bool:
    return not any(c.status == "fail" for c in checks)


def to_text(checks: list[Check]) -> str:
    width = max((len(c.name) for c in checks), default=0)
    out = []
    for c in checks:
        out.append(f"{c.status.upper():<4}  {c.name:<{width}}  {c.detail}")
        if c.fix and c.status in ("fail", "warn"):
            out.append(f"      {'':<{width}}  fix: {c.fix}")
        if c.snippet:
            out += ["---", *c.snippet.rstrip("\n").split("\n"), "---"]
    counts = {s: sum(1 for c in checks if c.status == s) for s in ("ok", "fail", "warn", "skip")}
    verdict = "ready" if ok(checks) else "NOT ready"
    out.append(
        f"{verdict}: {counts['ok']} ok, {counts['fail']} failed, {counts['warn']} warnings, {counts['skip']} skipped"
    )
    return redact("\n".join(out) + "\n")  # details quote errors, URLs, configuration: never a secret


def to_json(checks: list[Check]) -> str:
    return redact(json.dumps({"ok": ok(checks), "checks": [asdict(c) for c in checks]}, indent=2)) + "\n"
