"""image-pull on an image the source changed: restore the last image that ran, from the workload's
ReplicaSet history or the git history of its source file; never an invented tag."""

from __future__ import annotations

from remediator.evidence.relations import dig, owner_refs
from remediator.model import Category, Finding
from remediator.remedies.base import Context, Proposal, Refusal, Remedy, SetField, container_of, container_path

NOT_A_TAG_PROBLEM = (
    "unauthorized",
    "credential",
    "authentication",
    "denied",
    "timeout",
    "i/o timeout",
    "connection refused",
    "tls",
    "x509",
    "too many requests",
    "rate limit",
)


def replica_set_history(ctx: Context, f: Finding, container: str, broken: str) -> str | None:
    """The image of the newest earlier ReplicaSet revision of the workload that had ready pods."""
    best: tuple[bool, int, str] | None = None
    for rs in ctx.ev.all("ReplicaSet", f.culprit.namespace):
        if f.culprit not in owner_refs(rs):
            continue
        rev = str(dig(rs, "metadata", "annotations", "deployment.kubernetes.io/revision") or "0")
        image = container_of(rs, container).get("image")
        if not image or image == broken or not rev.isdigit():
            continue
        ran = int(dig(rs, "status", "readyReplicas") or 0) > 0 or int(dig(rs, "status", "availableReplicas") or 0) > 0
        key = (ran, int(rev), str(image))
        if best is None or key > best:
            best = key
    return best[2] if best else None


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    cname = str(f.details.get("container") or "")
    broken = str(f.details.get("image") or "")
    cause = str(f.details.get("cause") or "").lower()
    if any(w in cause for w in NOT_A_TAG_PROBLEM):
        return Refusal(
            cat,
            f"the pull fails for a reason an image change does not fix ({cause}): check registry credentials or reachability",
            "image-rollback",
        )
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    declared = container_of(ctx.desired_obj(f.culprit), cname).get("image")
    if declared and declared != broken:
        return Refusal(
            cat,
            f"Git already declares image {declared} for {cname}, not {broken}; sync the app",
            "source-matches-cluster",
        )
    previous = replica_set_history(ctx, f, cname, broken)
    where = "the workload's ReplicaSet history"
    if previous is None:
        history = [i for i in ctx.image_history(f.culprit, cname) if i and i != broken]
        previous = history[0] if history else None
        where = "the git history of its source file"
    if previous is None:
        return Refusal(
            cat,
            f"no earlier image of container {cname} is known (no older ReplicaSet, no change in git history); not inventing a tag",
            "image-rollback",
        )
    path = (*container_path(obj, cname), "image")
    return Proposal.setting(
        remedy="image-rollback",
        reason=f"image {broken} of container {cname} cannot be pulled ({cause or 'not found'}); {previous} is the last image that ran, from {where}.",
        change=SetField(f.culprit, path, previous, current=broken, role="image"),
        risk=f"Rolls {f.culprit.name} back to {previous}: changes shipped in {broken} are not deployed until a pullable tag is pushed.",
    )


REMEDY = Remedy("image-rollback", (Category.IMAGE_PULL.value,), plan, "restore the last image that ran")
