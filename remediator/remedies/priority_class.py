"""invalid-spec for a PriorityClass that does not exist (``pods "x" is forbidden: no PriorityClass with
name high-priorty was found``, the Priority admission plugin on the ReplicaSet's FailedCreate).

* an existing class whose name is near (one or two edits, a prefix or suffix segment added or dropped)
  -> the workload's ``priorityClassName`` names it. Only a near name: switching to an unrelated existing
  class would hand the workload a priority nobody chose (a higher priority is a privilege), and a class
  in the system range (> 1e9, ``system-*``) is never chosen;
* otherwise as the policy says (``priority_classes.missing``): ``create`` the class in the app's source,
  in a new file next to the workload's manifest, with ``priority_classes.value`` (never in the system
  range) and ``globalDefault: false``; ``drop`` the workload's ``priorityClassName``; or ``report``.
"""

from __future__ import annotations

from typing import Any

from remediator.evidence.nearest import near_names
from remediator.evidence.relations import dig
from remediator.evidence.store import ref_of
from remediator.model import Category, Finding, ObjectRef
from remediator.remedies.base import (
    Change,
    Check,
    Context,
    CreateObjects,
    Proposal,
    Refusal,
    Remedy,
    RemoveField,
    SetField,
    pod_spec_path,
)

RULE = "priority-class"
SYSTEM_MIN = 1_000_000_000  # values above this are reserved for system-cluster-critical / system-node-critical


def _value(o: Any) -> int:
    v = o.get("value") if isinstance(o, dict) else None
    return v if isinstance(v, int) else 0


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    pc = f.details.get("priority_class")
    if not isinstance(pc, str) or not pc:
        return Refusal(cat, "the rejection names no missing PriorityClass", RULE)
    wl = f.culprit
    obj = ctx.obj(wl)  # as Git declares it; as the cluster runs it when Git's objects are not resolved (Helm)
    if obj is None:
        return Refusal(cat, f"{wl} is neither in the app's source nor in the cluster", RULE)
    path = (*pod_spec_path(obj), "priorityClassName")
    declared = dig(obj, *[p for p in path if isinstance(p, str)])
    if declared != pc:
        return Refusal(
            cat, f"{wl} in Git names PriorityClass {declared!r}, not {pc!r}: the cluster runs another version", RULE
        )
    classes = {ref_of(o).name: o for o in ctx.ev.all("PriorityClass")}
    if pc in classes:
        return Refusal(cat, f"PriorityClass {pc} exists now: the rejection is stale, nothing to change", RULE)
    usable = {n for n, o in classes.items() if _value(o) <= SYSTEM_MIN and not n.startswith("system-")}
    near = near_names(pc, usable)
    if len(near) > 1:
        return Refusal(
            cat,
            f"PriorityClass {pc} does not exist and several existing classes are near its name ({', '.join(near)}): "
            "a person picks (a priority is a privilege)",
            RULE,
        )
    if near:
        new = near[0]
        return Proposal.setting(
            remedy=RULE,
            reason=(
                f"{wl} names PriorityClass {pc}, which does not exist; {new} (value {_value(classes[new])}) exists "
                "with a near name: the name is mistyped"
            ),
            change=SetField(wl, path, new, current=pc, role="priority-class"),
            risk=f"Pods of {wl.name} get the priority of {new} ({_value(classes[new])}) and may preempt lower ones.",
        )
    pol = ctx.policy.priority_classes
    others = ", ".join(sorted(classes)) or "none"
    if pol.missing == "report":
        return Refusal(
            cat,
            f"PriorityClass {pc} does not exist and no existing class has a near name (existing: {others}); the "
            "policy says report: create the class, or remove priorityClassName",
            "priority_classes.missing",
        )
    if pol.missing == "drop":
        return Proposal(
            remedy=RULE,
            reason=(
                f"{wl} names PriorityClass {pc}, which does not exist, and no existing class has a near name "
                f"(existing: {others}); the policy says drop: priorityClassName is removed"
            ),
            changes=[RemoveField(wl, path)],
            risk=f"Pods of {wl.name} get the cluster's default priority (a globalDefault class, else 0).",
            checks=[Check(wl, path, None)],
        )
    if pc.startswith("system-"):
        return Refusal(cat, f"{pc}: names starting with system- are reserved for the system's classes", RULE)
    value = pol.value
    if value > SYSTEM_MIN:
        return Refusal(cat, f"priority_classes.value {value} is in the system range (> 1e9)", "priority_classes.value")
    new_obj: dict[str, Any] = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": pc},
        "value": value,
        "globalDefault": False,
        "description": f"Priority of {wl.name} (created by remediator: {wl} referenced it and it did not exist).",
    }
    changes: list[Change] = [CreateObjects(f"priorityclass-{pc}.yaml", (new_obj,), near=wl)]
    ref = ObjectRef("PriorityClass", "", pc)
    return Proposal(
        remedy=RULE,
        reason=(
            f"{wl} names PriorityClass {pc}, which does not exist, and no existing class has a near name "
            f"(existing: {others}); the policy says create: {pc} is added to the app's source with value {value} "
            "(priority_classes.value), globalDefault false"
        ),
        changes=changes,
        risk=(
            f"A cluster-scoped PriorityClass is added; the Argo CD project must allow PriorityClass resources. "
            f"Pods of {wl.name} get priority {value}."
        ),
        checks=[Check(ref, ("value",), value), Check(ref, ("globalDefault",), False)],
    )


REMEDY = Remedy(
    RULE,
    (Category.INVALID_SPEC.value,),
    plan,
    "a missing PriorityClass: a near-named existing class, else create it (policy) or drop the field",
)
