"""Where model assist plugs into a run: after the deterministic diagnosis, before the fix."""

from __future__ import annotations

from dataclasses import replace

from remediator.assist.investigate import Investigation, investigate, needs_investigation
from remediator.assist.phrase import Explanation, explain
from remediator.diagnose import Diagnosis
from remediator.evidence.store import Evidence
from remediator.policy import Policy


def assisted(ev: Evidence, d: Diagnosis, policy: Policy) -> tuple[Diagnosis, Explanation | None, Investigation | None]:
    """Without a model: the diagnosis unchanged. With one: an investigation when the detectors are
    not sure (its finding, if grounded, goes first), and the narrative."""
    cfg = policy.model
    if not cfg.enabled:
        return d, None, None
    inv = None
    if cfg.investigate and needs_investigation(d):
        inv = investigate(ev, d, cfg)
        if inv.finding is not None:
            d = replace(
                d,
                findings=[
                    inv.finding,
                    *[f for f in d.findings if f.culprit != inv.finding.culprit or f.category != inv.finding.category],
                ],
            )
    return d, explain(d, cfg), inv


def describe(expl: Explanation | None, inv: Investigation | None) -> str:
    out = []
    if inv is not None:
        u = inv.usage
        out.append(
            f"Investigation: {'found ' + inv.finding.category.value if inv.finding else 'no finding'}"
            f"{' (' + inv.rejected + ')' if inv.rejected else ''}; {inv.tool_calls} tool call(s), "
            f"{u.prompt_tokens} tokens in / {u.completion_tokens} out, {inv.wall_seconds:.2f} s"
        )
    if expl is not None:
        out.append(f"Why ({expl.source}{'; ' + expl.note if expl.note else ''}): {expl.text}")
    return "\n".join(out) + ("\n" if out else "")
