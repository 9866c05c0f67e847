"""probe-failure during start-up of an app that becomes healthy later: raise initialDelaySeconds."""

from __future__ import annotations

from remediator.evidence.relations import dig
from remediator.model import Category, Finding
from remediator.remedies.base import Check, Context, Proposal, Refusal, Remedy, SetField, container_of, container_path


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    cname, kind = str(d.get("container") or ""), str(d.get("probe") or "liveness")
    if d.get("port_mismatch"):
        from remediator.remedies import probe_port

        return probe_port.plan(f, ctx)
    if "statuscode: 404" in str(d.get("message") or "").lower():
        return Refusal(
            cat,
            "the probe targets a port or path the container does not serve; timing does not fix that",
            "probe-timing",
        )
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    probe_key = f"{kind}Probe"
    probe = container_of(obj, cname).get(probe_key)
    if not isinstance(probe, dict):
        return Refusal(cat, f"container {cname} of {f.culprit} declares no {probe_key}", "probe-timing")
    old = int(probe.get("initialDelaySeconds") or 0)
    cap = ctx.policy.probes.max_initial_delay_seconds
    new = min(max(old * 2, old + 30, 30), cap)
    if new <= old:
        return Refusal(
            cat,
            f"{probe_key}.initialDelaySeconds is already {old}, at the policy maximum {cap}",
            "probes.max_initial_delay_seconds",
        )
    path = (*container_path(obj, cname), probe_key, "initialDelaySeconds")
    period = int(dig(probe, "periodSeconds") or 10)
    return Proposal(
        remedy="probe-timing",
        reason=f"the {kind} probe of container {cname} fails while the app starts and the app answers later; "
        f"starting it after {new}s instead of {old}s gives the start-up time it needs (period {period}s).",
        changes=[SetField(f.culprit, path, new, current=old, role="probe-delay")],
        risk=f"A container that hangs at start-up is detected {new - old}s later.",
        checks=[Check(f.culprit, path, new)],
    )


REMEDY = Remedy(
    "probe-timing", (Category.PROBE_FAILURE.value,), plan, "give a slow-starting app more time before probing"
)
