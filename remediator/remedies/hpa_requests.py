"""autoscaling: an HPA on resource utilisation whose target's containers set no request for that
resource (``missing request for cpu in container X``) -> add ``resources.requests.<resource>``.

The value comes, in order, from a LimitRange default request in the namespace, from the container's
observed usage (metrics.k8s.io PodMetrics or a Prometheus answer in ``probes/``) x
``resources.usage_factor``, else from the policy (``resources.cpu_request`` / ``memory_request``).
"""

from __future__ import annotations

import math
from decimal import Decimal

from remediator.evidence.metrics import prometheus_series
from remediator.evidence.relations import dig, workload_of
from remediator.evidence.store import ref_of
from remediator.model import Category, Finding
from remediator.quantity import format_like, parse_quantity
from remediator.remedies.base import (
    Change,
    Check,
    Context,
    Proposal,
    Refusal,
    Remedy,
    SetField,
    container_of,
    container_path,
    pod_spec_path,
)

RULE = "hpa-requests"
RESOURCES = ("cpu", "memory")


def limit_range_default(ctx: Context, namespace: str, resource: str) -> str | None:
    """The request a LimitRange of the namespace gives containers that set none."""
    for lr in ctx.ev.all("LimitRange", namespace):
        for item in dig(lr, "spec", "limits") or []:
            if not isinstance(item, dict) or item.get("type") != "Container":
                continue
            for key in ("defaultRequest", "default"):
                v = dig(item, key, resource)
                if v is not None:
                    return f"{v} (LimitRange {ref_of(lr).name} {key})"
    return None


def _prom_usage(ctx: Context, f: Finding, container: str, resource: str) -> Decimal | None:
    """The largest value of the container's series in a Prometheus answer whose query is about ``resource``."""
    peak: Decimal | None = None
    for se in prometheus_series(ctx.ev):
        if resource not in se.query or se.label("container", "container_name") != container:
            continue
        if se.labels.get("namespace") not in (None, f.culprit.namespace):
            continue
        if not se.labels.get("pod", f.culprit.name + "-").startswith(f.culprit.name + "-"):
            continue
        v = Decimal(str(max(se.values)))
        peak = v if peak is None else max(peak, v)
    return peak


def observed_usage(ctx: Context, f: Finding, container: str, resource: str) -> Decimal | None:
    """The container's largest observed usage (cores or bytes), from PodMetrics or a Prometheus answer."""
    peak: Decimal | None = None
    for pm in ctx.ev.all("PodMetrics", f.culprit.namespace):
        pod = ctx.ev.get("Pod", ref_of(pm).namespace, ref_of(pm).name)
        if pod is None or workload_of(ctx.ev, pod) != f.culprit:
            continue
        for c in pm.get("containers") or []:
            if isinstance(c, dict) and c.get("name") == container:
                try:
                    v = parse_quantity(str(dig(c, "usage", resource))).value
                except ValueError:
                    continue
                peak = v if peak is None else max(peak, v)
    return peak if peak is not None else _prom_usage(ctx, f, container, resource)


def from_usage(usage: Decimal, resource: str, factor: float) -> str:
    v = usage * Decimal(str(factor))
    if resource == "cpu":
        return f"{max(10, math.ceil(v * 1000 / 10) * 10)}m"  # millicores, to 10m
    mi = max(16, math.ceil(v / 2**20 / 16) * 16)  # MiB, to 16Mi
    return format_like(mi * 2**20, parse_quantity("1Mi"))


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    resource = str(f.details.get("resource") or "")
    if resource not in RESOURCES:
        return Refusal(
            cat,
            "the HPA cannot act for a reason other than a missing cpu/memory request (metrics unavailable, "
            "no scale target): nothing in the target's spec decides it",
            RULE,
        )
    if f.culprit.kind in ("", "HorizontalPodAutoscaler"):
        return Refusal(cat, "the HPA's scale target is not known", RULE)
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"the HPA's target {f.culprit} is neither in Git nor in the cluster", RULE)
    spec = dig(obj, *[p for p in pod_spec_path(obj) if isinstance(p, str)]) or {}
    named = str(f.details.get("container") or "")
    lacking = [
        str(c.get("name"))
        for c in (spec.get("containers") or [] if isinstance(spec, dict) else [])
        if isinstance(c, dict) and c.get("name") and dig(c, "resources", "requests", resource) is None
    ]
    if named and named not in lacking:
        if any(isinstance(c, dict) and c.get("name") == named for c in spec.get("containers") or []):
            return Refusal(
                cat,
                f"Git already declares a {resource} request for container {named} of {f.culprit}; sync the app",
                RULE,
            )
        return Refusal(cat, f"container {named} is not in {f.culprit}", RULE)
    if not lacking:
        return Refusal(cat, f"every container of {f.culprit} declares a {resource} request", RULE)
    lacking.sort(key=lambda n: n != named)  # the container the HPA names first
    fallback = ctx.policy.resources.cpu_request if resource == "cpu" else ctx.policy.resources.memory_request
    changes: list[Change] = []
    checks: list[Check] = []
    why: list[str] = []
    for cname in lacking:
        lr = limit_range_default(ctx, f.culprit.namespace, resource)
        usage = observed_usage(ctx, f, cname, resource)
        if lr is not None:
            value, basis = lr.split(" ", 1)[0], lr.split(" ", 1)[1].strip("()")
        elif usage is not None:
            value = from_usage(usage, resource, ctx.policy.resources.usage_factor)
            basis = f"observed usage x {ctx.policy.resources.usage_factor}"
        else:
            value, basis = fallback, f"the policy default resources.{resource}_request"
        limit = dig(container_of(obj, cname), "resources", "limits", resource)
        try:
            if limit is not None and parse_quantity(str(value)).value > parse_quantity(str(limit)).value:
                value, basis = str(limit), f"{basis}, capped at the container's {resource} limit"
        except ValueError:
            return Refusal(cat, f"container {cname}: {resource} {value!r} or limit {limit!r} is not a quantity", RULE)
        cpath = container_path(obj, cname)
        path = (*cpath, "resources", "requests", resource)
        changes.append(SetField(f.culprit, path, value, current=None, role=f"{resource}-request"))
        checks.append(Check(f.culprit, path, value))
        why.append(f"{cname}: {value} ({basis})")
    hpa = dig(f.details, "hpa", "name") or "the HPA"
    return Proposal(
        remedy=RULE,
        reason=(
            f"HPA {hpa} scales {f.culprit} on {resource} utilisation, which is usage divided by the request; "
            f"containers without a {resource} request make it fail (missing request for {resource}). "
            f"Requests added: {', '.join(why)}."
        ),
        changes=changes,
        risk=(
            f"The scheduler now reserves the {resource} request for each pod of {f.culprit.name}, and the HPA starts "
            "scaling on it: check the replica count after the sync."
        ),
        checks=checks,
    )


REMEDY = Remedy(RULE, (Category.AUTOSCALING.value,), plan, "add the resource requests an HPA needs")
