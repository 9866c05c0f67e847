"""quota-exceeded by a ResourceQuota the app declares itself: raise the exceeded dimension.

The ResourceQuota admission message (``exceeded quota: compute, requested: limits.memory=1Gi, used:
limits.memory=3584Mi, limited: limits.memory=4Gi``) names the quota and, per exceeded resource, what
the pod asks, what is used and the hard limit. When the quota is declared in the app's own source and
the policy allows (``quota-raise``, off by default), ``spec.hard`` becomes used + what the pods that
could not be created ask, rounded up; a quota outside the app's source is the platform's: refused.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from remediator.evidence.relations import dig
from remediator.model import Category, Finding, ObjectRef
from remediator.quantity import Quantity, format_like, memory_step, parse_quantity
from remediator.remedies.base import Change, Check, Context, Proposal, Refusal, Remedy, SetField

RULE = "quota-raise"
# k8s.io/apiserver admission/plugin/resourcequota: "exceeded quota: %s, requested: %s, used: %s, limited: %s"
EXCEEDED = re.compile(
    r"exceeded quota: (?P<quota>[\w.-]+), requested: (?P<req>\S+?), used: (?P<used>\S+?), limited: (?P<hard>[^\s'\"]+)"
)


def _pairs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.rstrip(".,;").split(","):
        k, sep, v = part.partition("=")
        if sep and k and v:
            out[k.strip()] = v.strip()
    return out


def _step(resource: str, like: Quantity, ctx: Context) -> Decimal:
    leaf = resource.rsplit(".", 1)[-1]
    if leaf in ("memory", "storage", "ephemeral-storage"):
        return Decimal(memory_step(like, ctx.policy.memory.round_to))
    if leaf == "cpu":
        return Decimal("0.1") if like.style != "plain" or like.decimals else Decimal(1)
    return Decimal(1)  # counts: pods, count/..., services


def missing_pods(ctx: Context, f: Finding) -> int:
    """How many pods the workload still lacks (desired - created), at least one."""
    obj = ctx.ev.get_ref(f.culprit)
    want = dig(obj or {}, "spec", "replicas")
    have = dig(obj or {}, "status", "replicas")
    if isinstance(want, int) and isinstance(have, int) and want > have:
        return want - have
    return 1


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    m = EXCEEDED.search(str(f.details.get("message") or ""))
    if not m:
        return Refusal(cat, "the rejection names no exceeded ResourceQuota with its requested/used/limited", RULE)
    ref = ObjectRef("ResourceQuota", f.culprit.namespace, m.group("quota"))
    quota = ctx.desired_obj(ref)
    if quota is None:
        return Refusal(
            cat,
            f"{ref} is not declared in the app's source: the quota is the platform's; ask for more or lower the "
            "pods' requests",
            RULE,
        )
    req, used, hard = _pairs(m.group("req")), _pairs(m.group("used")), _pairs(m.group("hard"))
    pods = missing_pods(ctx, f)
    changes: list[Change] = []
    checks: list[Check] = []
    notes: list[str] = []
    for res, limited in hard.items():
        if res not in req or res not in used:
            continue
        declared = dig(quota, "spec", "hard", res)
        if declared is None:
            return Refusal(cat, f"{ref} in Git has no spec.hard {res}; the cluster's quota differs from Git", RULE)
        try:
            like = parse_quantity(str(declared))
            need = parse_quantity(used[res]).value + parse_quantity(req[res]).value * pods
            if parse_quantity(limited).value != like.value:
                return Refusal(
                    cat, f"{ref} declares {res}={declared} in Git but enforces {limited}: sync the app first", RULE
                )
        except ValueError as e:
            return Refusal(cat, f"{ref} {res}: {e}", RULE)
        step = _step(res, like, ctx)
        new = Decimal(math.ceil(need / step)) * step
        if like.style == "plain" and new != new.to_integral_value():
            text = format(new.normalize(), "f")
        else:
            text = format_like(new, like)
        path = ("spec", "hard", res)
        changes.append(SetField(ref, path, text, current=declared, role="quota"))
        checks.append(Check(ref, path, text))
        notes.append(f"{res} {declared} -> {text} (used {used[res]} + {pods} x {req[res]})")
    if not changes:
        return Refusal(cat, "the message names no resource with requested, used and limited values", RULE)
    return Proposal(
        remedy=RULE,
        reason=(
            f"{ref}, declared in the app's own source, rejects the pods of {f.culprit}: {', '.join(notes)}; "
            "raised to what is used plus what the pods not yet created ask, rounded up."
        ),
        changes=changes,
        risk=(
            f"The namespace may now consume more of the cluster; the nodes must have room for {f.culprit.name}'s "
            "pods, or they stay Pending (unschedulable) instead of being rejected."
        ),
        checks=checks,
    )


REMEDY = Remedy(RULE, (Category.QUOTA_EXCEEDED.value,), plan, "raise a ResourceQuota the app declares itself")
