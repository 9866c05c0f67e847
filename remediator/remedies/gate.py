"""Which remedy may act on a finding: the policy (apps, namespaces, remedy switches), causes that
live outside the app's Git (out-of-band), and findings no remedy edits. Decided before the
repository is read; every "no" is a :class:`Refusal` naming the rule."""

from __future__ import annotations

from remediator.model import Finding
from remediator.policy import Policy
from remediator.remedies import OUT_OF_BAND, REMEDIES
from remediator.remedies.base import Refusal, Remedy


def gate(f: Finding, app: str, policy: Policy) -> list[Remedy] | Refusal:
    """The remedies that may act on ``f`` in ``app`` (in the order to try them), or why none may
    edit the app's manifests."""
    cat = f.category.value
    if app and not policy.apps.admits(app):
        return Refusal(cat, f"app {app} is not allowed by the policy", "apps")
    if f.details.get("excluded_by_argocd"):
        return Refusal(
            cat,
            f"no Git fix: Git already declares {f.culprit}; an Argo CD admin must remove "
            f"{f.details.get('group') or 'core'}/{f.culprit.kind} from resource.exclusions in argocd-cm "
            "(or apply it outside Argo CD)",
            "out-of-band",
        )
    remedies = REMEDIES.get(cat, ())
    if not remedies:
        if cat in OUT_OF_BAND:
            return out_of_band(cat)
        return Refusal(cat, f"no remedy edits manifests for {cat}; see the report's next steps", "no-remedy")
    if f.culprit.namespace and not policy.namespaces.admits(f.culprit.namespace):
        return Refusal(cat, f"namespace {f.culprit.namespace} is not allowed by the policy", "namespaces")
    allowed: list[Remedy] = []
    first_off: str | None = None
    for remedy in remedies:
        off = switched_off(remedy, policy)
        if off is None:
            allowed.append(remedy)
        elif first_off is None:
            first_off = off
    if not allowed:
        assert first_off is not None
        return Refusal(cat, f"the {first_off} remedy is disabled", f"remedies.{first_off}")
    return allowed


def switched_off(remedy: Remedy, policy: Policy) -> str | None:
    """The first policy switch (``remedies.<key>``) the remedy needs that is off, or None."""
    keys = (remedy.name,) if remedy.switches is None else remedy.switches
    return next((k for k in keys if not policy.enabled(k)), None)


def disabled(f: Finding, policy: Policy) -> list[Refusal]:
    """Refusals for the remedies of ``f``'s category that the policy switches off."""
    cat = f.category.value
    out = []
    for remedy in REMEDIES.get(cat, ()):
        off = switched_off(remedy, policy)
        if off is not None:
            out.append(Refusal(cat, f"the {off} remedy is disabled", f"remedies.{off}"))
    return out


def out_of_band(cat: str) -> Refusal:
    """The refusal for a cause that lives outside the app's Git (``OUT_OF_BAND``)."""
    return Refusal(cat, f"no Git fix: {OUT_OF_BAND[cat]}", "out-of-band")
