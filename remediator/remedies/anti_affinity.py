"""unschedulable because the workload's own required pod anti-affinity on ``kubernetes.io/hostname``
(one pod per node) asks for more replicas than there are nodes to hold them: the term becomes
``preferredDuringSchedulingIgnoredDuringExecution`` with weight 100, the same selector and topology
key, so the scheduler still spreads the pods but may place two on one node. Anti-affinity against
other apps, other topology keys, or a spread that fits the nodes is reported, not relaxed."""

from __future__ import annotations

import copy
from typing import Any

from remediator.evidence.relations import dig, selector_matches
from remediator.model import Category, Finding
from remediator.remedies.base import (
    Change,
    Check,
    Context,
    Proposal,
    Refusal,
    Remedy,
    RemoveField,
    SetField,
    pod_spec_path,
)
from remediator.remedies.node_selector import (
    ANTI_MSG,
    HOSTNAME,
    eligible_nodes,
    node_name,
    pod_spec_of,
    requirements,
)

KEY = "anti-affinity-preferred"
REPLICATED = ("Deployment", "StatefulSet", "ReplicaSet")


def _template_labels(obj: dict[str, Any]) -> dict[str, str]:
    if obj.get("kind") == "Pod":
        lab = dig(obj, "metadata", "labels")
    else:
        lab = dig(obj, "spec", "template", "metadata", "labels")
    return {str(k): str(v) for k, v in lab.items()} if isinstance(lab, dict) else {}


def _own_spread(term: Any, own: dict[str, str], namespace: str) -> bool:
    """A term that keeps the workload's own pods one per node."""
    if not isinstance(term, dict) or term.get("topologyKey") != HOSTNAME:
        return False
    if term.get("namespaceSelector") is not None:
        return False
    namespaces = term.get("namespaces") or []
    if namespaces and namespace and namespace not in namespaces:
        return False
    return selector_matches(term.get("labelSelector"), own)


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    msg = str(f.details.get("message") or "")
    if not ANTI_MSG.search(msg):
        return Refusal(cat, "the scheduler reports no pod anti-affinity conflict", KEY)
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is neither in Git nor in the cluster", KEY)
    if f.culprit.kind not in REPLICATED:
        return Refusal(cat, f"{f.culprit.kind} {f.culprit.name} has no replica count to spread; not relaxed", KEY)
    pod = pod_spec_of(obj)
    anti = dig(pod, "affinity", "podAntiAffinity") or {}
    required = anti.get("requiredDuringSchedulingIgnoredDuringExecution") if isinstance(anti, dict) else None
    if not isinstance(required, list) or not required:
        return Refusal(
            cat,
            f"{f.culprit} declares no required pod anti-affinity: the rule that keeps its pods off the nodes is "
            "another workload's (existing pods' anti-affinity); that workload's owners decide",
            KEY,
        )
    own = _template_labels(obj)
    ns = f.culprit.namespace
    if len(required) != 1 or not _own_spread(required[0], own, ns):
        keys = ", ".join(str(t.get("topologyKey")) for t in required if isinstance(t, dict))
        return Refusal(
            cat,
            f"the required pod anti-affinity of {f.culprit} is not a single one-pod-per-node spread of its own pods "
            f"(topology keys: {keys}); keeping apart from other apps or zones is a decision for the app's owners",
            KEY,
        )
    replicas = int(dig(obj, "spec", "replicas") if dig(obj, "spec", "replicas") is not None else 1)
    nodes = ctx.ev.all("Node")
    reqs, _ = requirements(obj)
    if nodes:
        fits = [node_name(n) for n in eligible_nodes(nodes, obj, reqs)]
        basis = f"{len(fits)} node(s) can take its pods ({', '.join(sorted(fits)) or 'none'})"
        room = len(fits)
    else:
        reasons = f.details.get("reasons") or {}
        room = sum(int(c) for r, c in reasons.items() if ANTI_MSG.search(str(r)))
        basis = f"the scheduler found {room} otherwise suitable node(s), each already holding one of its pods"
    if replicas <= room:
        return Refusal(
            cat,
            f"{f.culprit} wants {replicas} replica(s) and {basis}: one pod per node fits; the pending pod is "
            "another (e.g. a rollout's surge pod while the old pods hold every node), which maxSurge/maxUnavailable "
            "or more nodes decide",
            KEY,
        )
    base = (*pod_spec_path(obj), "affinity", "podAntiAffinity")
    preferred = anti.get("preferredDuringSchedulingIgnoredDuringExecution")
    kept = list(preferred) if isinstance(preferred, list) else []
    term = copy.deepcopy(required[0])
    new_list = [*kept, {"weight": 100, "podAffinityTerm": term}]
    pref_path = (*base, "preferredDuringSchedulingIgnoredDuringExecution")
    req_path = (*base, "requiredDuringSchedulingIgnoredDuringExecution")
    changes: list[Change] = [
        SetField(f.culprit, pref_path, new_list, current=preferred, role="anti-affinity"),
        RemoveField(f.culprit, req_path),
    ]
    i = len(kept)
    return Proposal(
        remedy=KEY,
        reason=(
            f"{f.culprit} asks for {replicas} replicas, one per node (required pod anti-affinity on {HOSTNAME}), "
            f"but {basis}; as a preferred term (weight 100, same selector) the scheduler still spreads the pods "
            "and places the rest where there is room"
        ),
        changes=changes,
        risk=(
            f"When nodes are short, two pods of {f.culprit.name} may share a node: losing that node takes both. "
            "Add nodes and the scheduler spreads new pods again (running pods are not moved)."
        ),
        checks=[
            Check(f.culprit, (*pref_path, i, "weight"), 100),
            Check(f.culprit, (*pref_path, i, "podAffinityTerm", "topologyKey"), HOSTNAME),
            Check(f.culprit, req_path, None),
        ],
    )


REMEDY = Remedy(
    KEY,
    (Category.UNSCHEDULABLE.value,),
    plan,
    "turn a required one-pod-per-node anti-affinity into a preferred one when replicas outnumber nodes",
)
