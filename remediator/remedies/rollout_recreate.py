"""volume-attach: a RollingUpdate that deadlocks on a ReadWriteOnce volume.

The new pod of a Deployment cannot attach the claim (``Multi-Attach error for volume ... Volume is
already used by pod(s) <old pod>``) because the old pod of the same Deployment holds it and is only
stopped once the new one is ready. ``strategy.type: Recreate`` stops the old pod first; the
``strategy.rollingUpdate`` block is removed (the API rejects it with Recreate). Anything else —
another workload holding the claim, several replicas sharing it, a claim that is not ReadWriteOnce,
not a Deployment, no pod named — is refused with the reason.
"""

from __future__ import annotations

from typing import Any

from remediator.evidence.relations import dig
from remediator.model import Category, FieldPath, Finding, ObjectRef
from remediator.remedies.base import Change, Check, Context, Proposal, Refusal, Remedy, RemoveField, SetField

RULE = "rollout-recreate"


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    vol = str(d.get("volume") or "")
    if not d.get("multi_attach"):
        return Refusal(
            cat, f"volume {vol} fails to attach or mount, not a Multi-Attach conflict; no spec change fixes that", RULE
        )
    used_by = [str(p) for p in d.get("used_by") or []]
    if not used_by:
        return Refusal(
            cat,
            f"volume {vol} is still attached to another node but no pod in the namespace uses it (a pod stuck "
            "terminating on a lost node, a stale VolumeAttachment): the node or the attachment needs attention",
            RULE,
        )
    w: dict[str, Any] = d["workload"] if isinstance(d.get("workload"), dict) else {}
    wl = ObjectRef(str(w.get("kind") or ""), str(w.get("namespace") or ""), str(w.get("name") or ""))
    if not d.get("same_workload"):
        held = ", ".join(d.get("holders") or []) or "a workload the evidence does not show"
        return Refusal(
            cat,
            f"pod(s) {', '.join(used_by)} holding volume {vol} belong to {held}, not to {wl}: two workloads share one "
            "ReadWriteOnce claim; a person must decide which one owns it",
            RULE,
        )
    if wl.kind != "Deployment":
        return Refusal(
            cat,
            f"{wl} is not a Deployment: only a Deployment's rollout strategy can stop the old pod first "
            "(a StatefulSet already replaces pods one by one; a stuck old pod is a node problem)",
            RULE,
        )
    claim_name = str(d.get("claim") or "")
    claim_ref = ObjectRef("PersistentVolumeClaim", wl.namespace, claim_name)
    claim = ctx.ev.get_ref(claim_ref) or ctx.desired_obj(claim_ref) if claim_name else None
    modes = [str(m) for m in dig(claim or {}, "spec", "accessModes") or []]
    if not modes:
        return Refusal(cat, f"the access modes of the claim behind volume {vol} are not known", RULE)
    if "ReadWriteOnce" not in modes and "ReadWriteOncePod" not in modes:
        return Refusal(
            cat,
            f"claim {claim_name} is {', '.join(modes)}, not ReadWriteOnce: a Multi-Attach error there is the storage "
            "driver's, not the rollout's",
            RULE,
        )
    obj = ctx.desired_obj(wl)
    if obj is None:
        return Refusal(cat, f"{wl} is not declared in the app's Git source", RULE)
    replicas = dig(obj, "spec", "replicas")
    if isinstance(replicas, int) and replicas > 1:
        return Refusal(
            cat,
            f"{wl} runs {replicas} replicas on one ReadWriteOnce claim {claim_name}: Recreate would not let them "
            "share it; a person must choose one replica, a ReadWriteMany class, or a StatefulSet with a claim per pod",
            RULE,
        )
    strategy = dig(obj, "spec", "strategy")
    strategy = strategy if isinstance(strategy, dict) else {}
    current = str(strategy.get("type") or "RollingUpdate")
    if current == "Recreate":
        return Refusal(
            cat,
            f"{wl} already uses the Recreate strategy; the old pod {used_by[0]} has not released volume {vol} "
            "(stuck terminating, node lost): the node or the attachment needs attention",
            RULE,
        )
    type_path: FieldPath = ("spec", "strategy", "type")
    ru_path: FieldPath = ("spec", "strategy", "rollingUpdate")
    changes: list[Change] = [SetField(wl, type_path, "Recreate", current=strategy.get("type"), role="strategy")]
    checks = [Check(wl, type_path, "Recreate")]
    if "rollingUpdate" in strategy:
        changes.append(RemoveField(wl, ru_path))
        checks.append(Check(wl, ru_path, None))
    return Proposal(
        remedy=RULE,
        reason=(
            f"the new pod of {wl} cannot attach ReadWriteOnce claim {claim_name} (volume {vol}) while the old pod "
            f"{', '.join(used_by)} of the same Deployment holds it, and a RollingUpdate stops the old pod only after "
            "the new one is ready: the Recreate strategy stops it first"
            + ("; strategy.rollingUpdate is removed (not allowed with Recreate)" if "rollingUpdate" in strategy else "")
        ),
        changes=changes,
        risk=(
            f"Every rollout of {wl.name} has a short outage: the old pod stops before the new one starts "
            "(the volume could not be shared anyway)."
        ),
        checks=checks,
    )


REMEDY = Remedy(
    RULE,
    (Category.VOLUME_ATTACH.value,),
    plan,
    "switch a Deployment whose rollout deadlocks on a ReadWriteOnce volume to the Recreate strategy",
)
