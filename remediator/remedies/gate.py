"""Which remedy may act on a finding: the policy (apps, namespaces, remedy switches), causes that
live outside the app's Git (out-of-band), and findings no remedy edits. Decided before the
repository is read; every "no" is a :class:`Refusal` naming the rule."""

from __future__ import annotations

from remediator.model import Finding
from remediator.policy import Policy
from remediator.remedies import OUT_OF_BAND, REMEDIES
from remediator.remedies.base import Refusal, Remedy


def gate(f: Finding, app: str, policy: Policy) -> Remedy | Refusal:
    """The remedy for ``f`` in ``app``, or why none may edit the app's manifests."""
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
    if cat in OUT_OF_BAND:
        return Refusal(cat, f"no Git fix: {OUT_OF_BAND[cat]}", "out-of-band")
    remedy = REMEDIES.get(cat)
    if remedy is None:
        return Refusal(cat, f"no remedy edits manifests for {cat}; see the report's next steps", "no-remedy")
    if f.culprit.namespace and not policy.namespaces.admits(f.culprit.namespace):
        return Refusal(cat, f"namespace {f.culprit.namespace} is not allowed by the policy", "namespaces")
    for key in (remedy.name,) if remedy.switches is None else remedy.switches:
        if not policy.enabled(key):
            return Refusal(cat, f"the {key} remedy is disabled", f"remedies.{key}")
    return remedy
