"""RM005: a PersistentVolumeClaim requests less than its storage class's minimum."""

from __future__ import annotations

from remediator.evidence.relations import dig
from remediator.quantity import parse_quantity
from remediator.review.context import ReviewContext
from remediator.review.model import Issue, Rule, Severity


def check(ctx: ReviewContext) -> list[Issue]:
    minimums = ctx.policy.storage.class_minimum
    out = []
    for d in ctx.of_kind("PersistentVolumeClaim"):
        if not ctx.in_focus(d):
            continue
        cls = str(dig(d.obj, "spec", "storageClassName") or "")
        req = dig(d.obj, "spec", "resources", "requests", "storage")
        if cls not in minimums or req is None:
            continue
        try:
            small = parse_quantity(str(req)).value < parse_quantity(minimums[cls]).value
        except ValueError:
            continue
        if small:
            subj = f"PersistentVolumeClaim {d.ref.name}"
            out.append(
                Issue(
                    RULE.id,
                    RULE.severity,
                    f"{subj} requests {req} on storage class {cls}, whose minimum is {minimums[cls]}: the provisioner refuses it and the claim stays Pending",
                    f"request at least {minimums[cls]}",
                    d.file,
                    ctx.line(d, ("spec", "resources", "requests", "storage")),
                    subj,
                )
            )
    return out


RULE = Rule("RM005", "pvc-below-class-minimum", Severity.error, "PVC smaller than its class allows", check)
