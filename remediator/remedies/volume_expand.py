"""storage-full on a PersistentVolumeClaim: when its StorageClass has ``allowVolumeExpansion: true``,
raise ``spec.resources.requests.storage`` by ``storage.factor`` (rounded up to ``storage.round_to``,
never above ``storage.max``); otherwise report why (the class does not allow it, or is unknown)."""

from __future__ import annotations

from decimal import Decimal

from remediator.evidence.relations import dig
from remediator.model import Category, Finding
from remediator.quantity import format_like, parse_quantity, round_up
from remediator.remedies.base import Context, Proposal, Refusal, Remedy, SetField

RULE = "volume-expand"
PATH = ("spec", "resources", "requests", "storage")
DEFAULT_CLASS = ("storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class")


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    if f.culprit.kind != "PersistentVolumeClaim":
        return Refusal(cat, f"{f.culprit} is not a PersistentVolumeClaim", RULE)
    declared = ctx.desired_obj(f.culprit)
    if declared is None:
        return Refusal(
            cat,
            f"{f.culprit} is not declared in the app's source (a StatefulSet volumeClaimTemplate or created out of "
            "band): expand the claim in the cluster",
            RULE,
        )
    live = ctx.ev.get_ref(f.culprit) or {}
    cls = dig(declared, "spec", "storageClassName") or dig(live, "spec", "storageClassName")
    if not cls:
        default = [
            sc
            for sc in ctx.ev.all("StorageClass")
            if any(dig(sc, "metadata", "annotations", a) == "true" for a in DEFAULT_CLASS)
        ]
        cls = dig(default[0], "metadata", "name") if len(default) == 1 else None
    sc = ctx.ev.get("StorageClass", "", str(cls)) if cls else None
    if sc is None:
        return Refusal(
            cat,
            f"the StorageClass {cls or '(default)'} of {f.culprit} is unknown: cannot tell whether it allows expansion",
            RULE,
        )
    if sc.get("allowVolumeExpansion") is not True:
        return Refusal(
            cat,
            f"StorageClass {cls} of {f.culprit} does not allow volume expansion (allowVolumeExpansion is not true): "
            "free space or migrate the data to a larger volume",
            RULE,
        )
    current = dig(declared, *PATH) or dig(live, "status", "capacity", "storage")
    try:
        cur = parse_quantity(str(current))
        cap = parse_quantity(ctx.policy.storage.max).value
        step = int(parse_quantity(ctx.policy.storage.round_to).value)
    except ValueError as e:
        return Refusal(cat, f"{f.culprit}: {e}", RULE)
    new = round_up(cur.value * Decimal(str(ctx.policy.storage.factor)), max(step, 1))
    if new > cap:
        return Refusal(
            cat,
            f"{f.culprit} would need {format_like(new, cur)}, above storage.max {ctx.policy.storage.max}",
            "storage.max",
        )
    new_text = format_like(new, cur)
    usage = f.details.get("usage")
    seen = f" (used {usage})" if usage else ""
    cited = [e.text for e in f.evidence if e.source == "metrics"]  # the query and the value
    if cited:
        seen += " (" + "; ".join(cited) + ")"
    return Proposal.setting(
        remedy=RULE,
        reason=(
            f"{f.culprit} is full{seen}; its StorageClass {cls} allows volume expansion, so {current} x "
            f"{ctx.policy.storage.factor}, rounded up to a multiple of {ctx.policy.storage.round_to}, gives {new_text}"
        ),
        change=SetField(f.culprit, PATH, new_text, current=current, role="storage"),
        risk="A volume can grow but never shrink; the filesystem is resized online by most CSI drivers, else on the next pod start.",
    )


REMEDY = Remedy(RULE, (Category.STORAGE_FULL.value,), plan, "expand a full PersistentVolumeClaim")
