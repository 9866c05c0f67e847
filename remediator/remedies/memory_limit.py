"""oom-killed: raise the container's memory limit by the policy factor (or from the observed peak),
rounded up, never above the policy maximum; keep the request at or below the new limit."""

from __future__ import annotations

from decimal import Decimal

from remediator.evidence.metrics import MEMORY, for_container
from remediator.evidence.relations import dig, workload_of
from remediator.evidence.store import ref_of
from remediator.model import Category, Finding
from remediator.quantity import format_like, memory_step, parse_quantity, round_up
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
)


def observed_peak(ctx: Context, f: Finding, container: str) -> int | None:
    """The largest memory usage of the container in metrics evidence (metrics.k8s.io PodMetrics)."""
    peak: int | None = None
    for pm in ctx.ev.all("PodMetrics"):
        pod = ctx.ev.get("Pod", ref_of(pm).namespace, ref_of(pm).name)
        if pod is None or workload_of(ctx.ev, pod) != f.culprit:
            continue
        for c in pm.get("containers") or []:
            if isinstance(c, dict) and c.get("name") == container:
                try:
                    v = int(parse_quantity(str(dig(c, "usage", "memory"))).value)
                except ValueError:
                    continue
                peak = v if peak is None else max(peak, v)
    return peak


def prometheus_peak(ctx: Context, f: Finding, container: str) -> tuple[int, str, str] | None:
    """The largest working set of the container in a Prometheus answer (cAdvisor's
    ``container_memory_working_set_bytes``, its kube-prometheus-stack recording rule, ``max_over_time`` or
    VictoriaMetrics ``rollup`` forms): (bytes, window, query)."""
    obj = ctx.obj(f.culprit)
    only_one = len(dig(obj or {}, "spec", "template", "spec", "containers") or []) == 1
    best: tuple[int, str, str] | None = None
    for s in for_container(ctx.ev, f.culprit.namespace, f.culprit.name + "-", container, only_one):
        if not s.uses(*MEMORY):
            continue
        v = int(max(s.values))
        if best is None or v > best[0]:
            best = (v, s.window, s.query)
    return best


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    cname = str(f.details.get("container") or "")
    if not cname:
        return Refusal(cat, "the OOMKilled container is not known", "memory-limit")
    obj = ctx.obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is neither in Git nor in the cluster", "memory-limit")
    declared = container_of(ctx.desired_obj(f.culprit), cname) or container_of(obj, cname)
    limit_text = dig(declared, "resources", "limits", "memory") or f.details.get("limit")
    request_text = dig(declared, "resources", "requests", "memory") or f.details.get("request")
    pol = ctx.policy.memory
    try:
        limit = parse_quantity(str(limit_text)) if limit_text is not None else None
        request = parse_quantity(str(request_text)) if request_text is not None else None
        cap = parse_quantity(pol.max).value
    except ValueError as e:
        return Refusal(cat, f"{f.culprit} container {cname}: {e}", "memory-limit")
    peak = observed_peak(ctx, f, cname)
    prom = prometheus_peak(ctx, f, cname)
    if prom is not None and (peak is None or prom[0] > peak):
        peak = prom[0]
    bases = [q.value for q in (limit,) if q is not None] + ([Decimal(peak)] if peak else [])
    if not bases and request is not None:
        bases = [request.value]
    if not bases:
        return Refusal(
            cat, f"container {cname} has no memory limit, request or observed peak to start from", "memory-limit"
        )
    like = limit or request
    target = max(bases) * Decimal(str(pol.factor))
    new = round_up(target, memory_step(like, pol.round_to))
    if new > cap:
        return Refusal(
            cat,
            f"container {cname} would need {format_like(new, like)} (x{pol.factor}), above the policy maximum {pol.max}",
            "memory.max",
        )
    new_text = format_like(new, like)
    cpath = container_path(ctx.desired_obj(f.culprit) or obj, cname)
    changes: list[Change] = [
        SetField(
            f.culprit, (*cpath, "resources", "limits", "memory"), new_text, current=limit_text, role="memory-limit"
        )
    ]
    if request is not None and request.value > new:
        changes.append(
            SetField(
                f.culprit,
                (*cpath, "resources", "requests", "memory"),
                new_text,
                current=request_text,
                role="memory-request",
            )
        )
    basis = (
        f"the observed peak {format_like(peak, like)}"
        if peak and (limit is None or peak > limit.value)
        else f"the limit {limit_text}"
    )
    if prom is not None:
        shown = format_like(round_up(prom[0], 1024 * 1024), like)
        basis += f" (Prometheus: working-set peak {shown} over {prom[1]}, query {prom[2][:200]})"
    return Proposal(
        remedy="memory-limit",
        reason=(
            f"container {cname} of {f.culprit} was OOMKilled at memory limit {limit_text or 'unset'}; "
            f"{basis} x {pol.factor}, rounded up to a multiple of {pol.round_to}, gives {new_text}"
        ),
        changes=changes,
        risk=(
            f"Pods of {f.culprit.name} may use up to {new_text}; the scheduler still places them by their request "
            f"({request_text or 'unset'}). If the process leaks memory this only delays the next OOMKill."
        ),
        checks=[Check(f.culprit, (*cpath, "resources", "limits", "memory"), new_text)],
    )


REMEDY = Remedy("memory-limit", (Category.OOM_KILLED.value,), plan, "raise a container's memory limit")
