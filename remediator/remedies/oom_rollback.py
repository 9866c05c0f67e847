"""oom-killed right after an image change: roll back to the image that ran within the same limit.

The evidence that the previous image fit is an older ReplicaSet of the workload with another image
whose pods run without OOM kills or restarts, or a memory metric (Prometheus answer in ``probes/``)
of the container under the previous image that stayed below the limit, or a range query of its working
set flat before the current image's ReplicaSet was created and climbing to the limit after it (the
query, the values and the revision time are cited). A memory regression is a
release problem: raising the limit only delays it. Without such history this remedy refuses and
``memory-limit`` runs next.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from remediator.evidence.metrics import MEMORY, Series, for_container, prometheus_series
from remediator.evidence.relations import dig, owner_refs
from remediator.evidence.store import Obj, ref_of
from remediator.model import Category, Finding
from remediator.quantity import format_like, parse_quantity
from remediator.remedies.base import (
    Context,
    Proposal,
    Refusal,
    Remedy,
    SetField,
    container_of,
    container_path,
)

RULE = "oom-rollback"


def _quantity(text: Any) -> Decimal | None:
    if text is None:
        return None
    try:
        return parse_quantity(str(text)).value
    except ValueError:
        return None


def _pod_clean(pod: Obj, container: str) -> bool:
    """The container ran and was never OOMKilled nor restarted."""
    for cs in [*(dig(pod, "status", "containerStatuses") or []), *(dig(pod, "status", "initContainerStatuses") or [])]:
        if not isinstance(cs, dict) or cs.get("name") != container:
            continue
        reasons = {dig(cs, "state", "terminated", "reason"), dig(cs, "lastState", "terminated", "reason")}
        return (
            "OOMKilled" not in reasons and int(cs.get("restartCount") or 0) == 0 and bool(dig(cs, "state", "running"))
        )
    return False


def replica_set_fit(ctx: Context, f: Finding, container: str, current: str, limit: Decimal | None) -> str | None:
    """The image of the newest older ReplicaSet of the workload whose pods run the container, under a
    memory limit no larger than today's, without OOM kills or restarts."""
    best: tuple[int, str] | None = None
    for rs in ctx.ev.all("ReplicaSet", f.culprit.namespace):
        if f.culprit not in owner_refs(rs):
            continue
        c = container_of(rs, container)
        image = str(c.get("image") or "")
        if not image or image == current:
            continue
        old_limit = _quantity(dig(c, "resources", "limits", "memory"))
        if limit is not None and (old_limit is None or old_limit > limit):
            continue  # it ran with more memory (or none capped): that is no proof the new image regressed
        rs_ref = ref_of(rs)
        pods = [p for p in ctx.ev.all("Pod", rs_ref.namespace) if rs_ref in owner_refs(p)]
        if not pods or not all(_pod_clean(p, container) for p in pods):
            continue
        rev = str(dig(rs, "metadata", "annotations", "deployment.kubernetes.io/revision") or "0")
        key = (int(rev) if rev.isdigit() else 0, image)
        if best is None or key > best:
            best = key
    return best[1] if best else None


def metrics_fit(ctx: Context, f: Finding, container: str, current: str, limit: Decimal | None) -> str | None:
    """An image of the container whose memory series (a Prometheus answer with an ``image`` label) in
    the workload's namespace stayed below the limit, when the current image's series reached it."""
    if limit is None:
        return None
    peaks: dict[str, float] = {}
    for se in prometheus_series(ctx.ev):
        if "memory" not in se.query or se.label("container", "container_name") != container:
            continue
        image = se.labels.get("image")
        if not image or se.labels.get("namespace") not in (None, f.culprit.namespace):
            continue
        if not se.labels.get("pod", f.culprit.name + "-").startswith(f.culprit.name + "-"):
            continue
        peaks[image] = max(peaks.get(image, 0.0), max(se.values))
    if current not in peaks or Decimal(str(peaks[current])) < limit * Decimal("0.9"):
        return None  # the metric does not show the new image reaching the limit
    fits = [img for img, peak in peaks.items() if img != current and Decimal(str(peak)) < limit * Decimal("0.8")]
    return fits[0] if len(fits) == 1 else None


def _time(text: object) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _revision(rs: Obj) -> int:
    rev = str(dig(rs, "metadata", "annotations", "deployment.kubernetes.io/revision") or "0")
    return int(rev) if rev.isdigit() else 0


def release_trend(
    ctx: Context, f: Finding, container: str, current: str, limit: Decimal | None
) -> tuple[str, str] | None:
    """(previous image, what shows it) when a range query of the container's working set is flat before the
    current image's ReplicaSet was created and climbs towards the limit after it."""
    if limit is None:
        return None
    sets = [rs for rs in ctx.ev.all("ReplicaSet", f.culprit.namespace) if f.culprit in owner_refs(rs)]
    now = [rs for rs in sets if container_of(rs, container).get("image") == current]
    if not now:
        return None
    new_rs = max(now, key=_revision)
    released = _time(dig(new_rs, "metadata", "creationTimestamp"))
    older = [
        rs
        for rs in sets
        if _revision(rs) < _revision(new_rs)
        and container_of(rs, container).get("image") not in (None, "", current)
        and (_quantity(dig(container_of(rs, container), "resources", "limits", "memory")) or limit + 1) <= limit
    ]
    if released is None or not older:
        return None
    previous = str(container_of(max(older, key=_revision), container).get("image"))
    obj = ctx.obj(f.culprit)
    only_one = len(dig(obj or {}, "spec", "template", "spec", "containers") or []) == 1
    # one curve per query: a rollout replaces the pods, so the previous ReplicaSet's pods carry the
    # "before" samples and the new ones the "after" samples; the workload's curve is their max per time
    curves: dict[tuple[str, str], tuple[Series, dict[float, float]]] = {}
    for se in for_container(ctx.ev, f.culprit.namespace, f.culprit.name + "-", container, only_one):
        if not se.uses(*MEMORY) or len(se.times) != len(se.values):
            continue
        points = curves.setdefault((se.source, se.query), (se, {}))[1]
        for t, v in zip(se.times, se.values, strict=True):
            points[t] = max(points.get(t, v), v)
    for se, points in curves.values():
        before = [v for t, v in sorted(points.items()) if t < released]
        after = [v for t, v in sorted(points.items()) if t >= released]
        if len(before) < 3 or len(after) < 3:
            continue
        lim = float(limit)
        flat = max(before) - min(before) <= 0.1 * lim
        climbing = (
            after[-1] - after[0] >= 0.25 * lim and max(after) >= 0.8 * lim and max(after) > max(before) + 0.2 * lim
        )
        if flat and climbing:
            mib = 1024 * 1024
            shown = (
                f"working set flat at {min(before) / mib:.0f}-{max(before) / mib:.0f}Mi before revision "
                f"{_revision(new_rs)} ({ref_of(new_rs).name}, created {dig(new_rs, 'metadata', 'creationTimestamp')}), "
                f"climbing from {after[0] / mib:.0f}Mi to {max(after) / mib:.0f}Mi after it"
            )
            return previous, f"{shown}; {se.cite(f'{max(after) / mib:.0f}Mi peak')}"
    return None


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    cname = str(f.details.get("container") or "")
    if not cname:
        return Refusal(cat, "the OOMKilled container is not known", RULE)
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is neither in Git nor in the cluster", RULE)
    running = str(f.details.get("image") or container_of(ctx.ev.get_ref(f.culprit), cname).get("image") or "")
    declared = str(container_of(ctx.desired_obj(f.culprit), cname).get("image") or "")
    if not running:
        return Refusal(cat, f"the image of container {cname} is not known", RULE)
    if declared and declared != running:
        return Refusal(cat, f"Git declares image {declared} for {cname}, not the OOMKilled {running}", RULE)
    limit_text = dig(container_of(obj, cname), "resources", "limits", "memory") or f.details.get("limit")
    limit = _quantity(limit_text)
    previous = replica_set_fit(ctx, f, cname, running, limit)
    where = "an older ReplicaSet of the workload, whose pods run without OOM kills or restarts"
    if previous is None:
        previous = metrics_fit(ctx, f, cname, running, limit)
        where = "the memory metric, which stayed below the limit under it"
    if previous is None:
        trend = release_trend(ctx, f, cname, running, limit)
        if trend is not None:
            previous, where = trend[0], f"the memory metric: {trend[1]}"
    if previous is None:
        return Refusal(
            cat,
            f"no earlier image of container {cname} is known to have run within the memory limit "
            f"{limit_text or 'unset'} (no older ReplicaSet with healthy pods, no memory metric per image); "
            "not a release regression that a rollback fixes",
            RULE,
        )
    path = (*container_path(obj, cname), "image")
    shown = format_like(limit, parse_quantity(str(limit_text))) if limit is not None else "unset"
    return Proposal.setting(
        remedy=RULE,
        reason=(
            f"container {cname} of {f.culprit} is OOMKilled since image {running}; {previous} ran within the same "
            f"memory limit {shown} ({where}). A memory regression is a release problem: raising the limit only "
            f"delays the next OOMKill, so roll back to {previous} and fix the release."
        ),
        change=SetField(f.culprit, path, previous, current=running, role="image"),
        risk=(
            f"Rolls {f.culprit.name} back to {previous}: what shipped in {running} is not deployed until a release "
            "that fits the limit is built."
        ),
    )


REMEDY = Remedy(RULE, (Category.OOM_KILLED.value,), plan, "roll back an image that made the container OOM")
