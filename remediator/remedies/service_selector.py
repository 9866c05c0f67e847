"""service-no-endpoints because the Service's selector misses its pods by one label value (a typo:
``order`` for ``orders``): set that value to the one the only near-matching workload's pods carry.
Several candidates, or a different label key: a person chooses."""

from __future__ import annotations

from typing import Any

from remediator.evidence.relations import dig, pod_template
from remediator.evidence.store import WORKLOAD_KINDS, ref_of
from remediator.model import Category, Finding, ObjectRef
from remediator.remedies.base import Context, Proposal, Refusal, Remedy, SetField


def _template_labels(obj: dict[str, Any]) -> dict[str, str]:
    labels = (
        dig(pod_template(obj), "metadata", "labels") if obj.get("kind") != "Pod" else dig(obj, "metadata", "labels")
    )
    if not isinstance(labels, dict):
        labels = dig(obj, "spec", "template", "metadata", "labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    if f.culprit.kind != "Service":
        return Refusal(cat, "the culprit is not a Service", "service-selector")
    svc = ctx.obj(f.culprit) or {}
    sel = dig(svc, "spec", "selector")
    if not isinstance(sel, dict) or not sel:
        return Refusal(cat, f"{f.culprit} has no selector (its Endpoints are managed by hand)", "service-selector")
    sel = {str(k): str(v) for k, v in sel.items()}
    seen: dict[ObjectRef, dict[str, str]] = {}
    for source in (
        ctx.desired,
        *(ctx.ev.all(k, f.culprit.namespace) for k in WORKLOAD_KINDS if k not in ("ReplicaSet", "Pod")),
    ):
        for obj in source:
            if str(obj.get("kind")) not in WORKLOAD_KINDS or str(obj.get("kind")) in ("ReplicaSet", "Pod"):
                continue
            ref = ref_of(obj)
            ns = ref.namespace or f.culprit.namespace
            if ns != f.culprit.namespace:
                continue
            seen.setdefault(ObjectRef(ref.kind, ns, ref.name), _template_labels(obj))
    matching = [ref for ref, labels in seen.items() if all(labels.get(k) == v for k, v in sel.items())]
    if matching:  # the selector already selects pods: the endpoints are missing for another reason (ports)
        return Refusal(
            cat,
            f"{f.culprit}'s selector already matches {matching[0]}; its endpoints are missing for another "
            "reason (a targetPort the pods do not expose, pods not ready)",
            "service-selector",
        )
    near = []
    for ref, labels in seen.items():
        if not set(sel) <= set(labels):
            continue
        diff = [k for k in sel if labels[k] != sel[k]]
        if len(diff) == 1:
            near.append((ref, diff[0], labels[diff[0]]))
    if len(near) != 1:
        return Refusal(
            cat,
            f"{f.culprit} selects {sel}; {'no workload' if not near else str(len(near)) + ' workloads'} differ from it by one "
            "label value: which pods the Service is meant for is a person's choice",
            "service-selector",
        )
    ref, key, value = near[0]
    path = ("spec", "selector", key)
    return Proposal.setting(
        remedy="service-selector",
        reason=f"{f.culprit} selects {key}={sel[key]}, which no pod carries; the pods of {ref} carry {key}={value} and "
        f"match every other selector label, so the selector value is a typo. With {key}={value} the Service gets endpoints.",
        change=SetField(f.culprit, path, value, current=sel[key], role="service-selector"),
        risk=f"The Service starts sending traffic to the pods of {ref.name}; if another workload should serve it, close this PR.",
    )


REMEDY = Remedy(
    "service-selector",
    (Category.SERVICE_NO_ENDPOINTS.value,),
    plan,
    "fix a Service selector value that misses its pods",
)
