"""pvc-pending: the request is below the storage class minimum -> raise ``resources.requests.storage``."""

from __future__ import annotations

import re

from remediator.evidence.relations import dig
from remediator.model import Category, FieldPath, Finding, ObjectRef
from remediator.quantity import format_like, parse_quantity
from remediator.remedies.base import Context, Proposal, Refusal, Remedy, SetField

PATH = ("spec", "resources", "requests", "storage")


def claim_template(ctx: Context, claim: ObjectRef) -> tuple[ObjectRef, FieldPath] | None:
    """The StatefulSet volumeClaimTemplate a claim was made from (``<template>-<statefulset>-<ordinal>``),
    when the claim itself is not declared in Git: the size must change in the template."""
    if ctx.desired_obj(claim) is not None:
        return None
    for sts in [*ctx.desired, *ctx.ev.all("StatefulSet", claim.namespace)]:
        if sts.get("kind") != "StatefulSet":
            continue
        name = str(dig(sts, "metadata", "name") or "")
        for i, tpl in enumerate(dig(sts, "spec", "volumeClaimTemplates") or []):
            tname = dig(tpl, "metadata", "name")
            if tname and re.fullmatch(rf"{re.escape(str(tname))}-{re.escape(name)}-\d+", claim.name):
                return ObjectRef("StatefulSet", claim.namespace, name), ("spec", "volumeClaimTemplates", i, *PATH)
    return None


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    minimum = f.details.get("minimum") or ctx.policy.storage.class_minimum.get(
        str(f.details.get("storage_class") or "")
    )
    if not minimum:
        return Refusal(cat, f"{f.culprit} is Pending for a reason a size change does not fix", "pvc-size")
    target: ObjectRef = f.culprit
    path: FieldPath = PATH
    tpl = claim_template(ctx, f.culprit)
    if tpl is not None:
        target, path = tpl
    obj = ctx.obj(target)
    current = dig(obj or {}, *[p for p in path if isinstance(p, (str, int))]) or f.details.get("request")
    try:
        cur = parse_quantity(str(current)) if current else None
        need = parse_quantity(str(minimum))
        cap = parse_quantity(ctx.policy.storage.max)
    except ValueError as e:
        return Refusal(cat, f"{f.culprit}: {e}", "pvc-size")
    if cur is not None and cur.value >= need.value:
        return Refusal(cat, f"{f.culprit} already requests {current}, not below the minimum {minimum}", "pvc-size")
    if need.value > cap.value:
        return Refusal(
            cat, f"the class minimum {minimum} is above the policy maximum {ctx.policy.storage.max}", "storage.max"
        )
    new = format_like(need.value, cur) if cur else str(minimum)
    if tpl is not None:
        return Proposal.setting(
            remedy="pvc-size",
            reason=f"{f.culprit} is made from the volumeClaimTemplates of {target} and requests {current}, below the "
            f"minimum {minimum} of its storage class {f.details.get('storage_class') or '(default)'}; the provisioner "
            "refuses it, so the claim stays Pending.",
            change=SetField(target, path, new, current=current, role="storage"),
            risk=(
                "volumeClaimTemplates of a StatefulSet cannot change in place: after merging, delete the StatefulSet "
                f"with --cascade=orphan and the Pending claim {f.culprit.name} (nothing is stored on it yet), then sync."
            ),
        )
    return Proposal.setting(
        remedy="pvc-size",
        reason=f"{f.culprit} requests {current}, below the minimum {minimum} of its storage class "
        f"{f.details.get('storage_class') or '(default)'}; the provisioner refuses it, so the claim stays Pending.",
        change=SetField(f.culprit, PATH, new, current=current, role="storage"),
        risk=(
            "A claim's size is immutable while it is Pending, so the sync will fail on the existing claim: delete the "
            f"Pending claim {f.culprit.name} after merging (nothing is stored on it yet), or sync with Replace=true."
        ),
    )


REMEDY = Remedy("pvc-size", (Category.PVC_PENDING.value,), plan, "raise a PVC request to the class minimum")
