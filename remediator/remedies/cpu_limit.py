"""cpu-throttling: a container CFS-throttled above ``cpu.throttling_threshold`` while its CPU usage sits at
its limit (at least 90 % of it) needs more CPU time: raise the limit by ``cpu.factor`` (rounded up to
``cpu.round_to``, never above ``cpu.max``), or remove it when ``cpu.remove_limit_on_throttling`` says so.
Throttling while the usage stays far below the limit comes from short bursts: a larger limit is not
shown to help, so the remedy reports instead."""

from __future__ import annotations

from decimal import Decimal

from remediator.evidence.relations import dig
from remediator.model import Category, Finding
from remediator.quantity import parse_quantity, round_up
from remediator.remedies.base import (
    Check,
    Context,
    Proposal,
    Refusal,
    Remedy,
    RemoveField,
    SetField,
    container_of,
    container_path,
)

RULE = "cpu-limit"


def _cpu_text(millis: int) -> str:
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    pol = ctx.policy.cpu
    cname = str(f.details.get("container") or "")
    throttled = f.details.get("throttled")
    if not cname:
        return Refusal(cat, "the throttled container is not known", RULE)
    if not isinstance(throttled, int | float) or throttled < pol.throttling_threshold:
        return Refusal(
            cat,
            f"no throttling ratio of container {cname} above the policy threshold {pol.throttling_threshold:.0%} "
            "is known (a Prometheus answer on container_cpu_cfs_throttled_periods_total)",
            "cpu.throttling_threshold",
        )
    if not f.details.get("usage_at_limit"):
        ratio = f.details.get("usage_ratio")
        used = f" ({ratio:.0%} of the limit)" if isinstance(ratio, int | float) else ""
        return Refusal(
            cat,
            f"container {cname} is throttled ({throttled:.0%}) but its CPU usage{used} is not at its limit: short bursts, "
            "which a larger limit is not shown to fix",
            RULE,
        )
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is neither in Git nor in the cluster", RULE)
    limit_text = dig(container_of(obj, cname), "resources", "limits", "cpu")
    if limit_text is None:
        return Refusal(cat, f"container {cname} declares no CPU limit in Git", RULE)
    path = (*container_path(obj, cname), "resources", "limits", "cpu")
    why = f"container {cname} of {f.culprit} is throttled in {throttled:.0%} of its CFS periods while its CPU usage sits at its limit {limit_text}"
    cited = [e.text for e in f.evidence if e.source == "metrics"]  # the queries and values it rests on
    if cited:
        why += " (" + "; ".join(cited) + ")"
    if pol.remove_limit_on_throttling:
        return Proposal(
            remedy=RULE,
            reason=f"{why}; the policy (cpu.remove_limit_on_throttling) removes CPU limits, keeping the request",
            changes=[RemoveField(f.culprit, path)],
            risk=f"Pods of {f.culprit.name} may use idle CPU of their node beyond their request.",
            checks=[Check(f.culprit, path, None)],
        )
    try:
        limit = parse_quantity(str(limit_text)).value
        cap = parse_quantity(pol.max).value
        step = int(parse_quantity(pol.round_to).value * 1000)
    except ValueError as e:
        return Refusal(cat, f"container {cname}: {e}", RULE)
    millis = round_up(limit * 1000 * Decimal(str(pol.factor)), max(step, 1))
    if Decimal(millis) / 1000 > cap:
        return Refusal(
            cat,
            f"container {cname} would need {_cpu_text(millis)} CPU (x{pol.factor}), above cpu.max {pol.max}",
            "cpu.max",
        )
    new = _cpu_text(millis)
    return Proposal.setting(
        remedy=RULE,
        reason=f"{why}; {limit_text} x {pol.factor}, rounded up to a multiple of {pol.round_to}, gives {new}",
        change=SetField(f.culprit, path, new, current=limit_text, role="cpu-limit"),
        risk=f"Pods of {f.culprit.name} may use up to {new} CPU; they are still placed by their CPU request.",
    )


REMEDY = Remedy(RULE, (Category.CPU_THROTTLING.value,), plan, "raise (or remove) a throttled container's CPU limit")
