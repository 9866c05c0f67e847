"""pvc-pending: the request is below the storage class minimum -> raise ``resources.requests.storage``."""

from __future__ import annotations

from remediator.evidence.relations import dig
from remediator.model import Category, Finding
from remediator.quantity import format_like, parse_quantity
from remediator.remedies.base import Context, Proposal, Refusal, Remedy, SetField

PATH = ("spec", "resources", "requests", "storage")


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    minimum = f.details.get("minimum") or ctx.policy.storage.class_minimum.get(
        str(f.details.get("storage_class") or "")
    )
    if not minimum:
        return Refusal(cat, f"{f.culprit} is Pending for a reason a size change does not fix", "pvc-size")
    obj = ctx.obj(f.culprit)
    current = dig(obj or {}, *PATH) or f.details.get("request")
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
