"""security-context: make the pod spec satisfy what the admission or the kubelet names.

* Pod Security admission (``violates PodSecurity "restricted:latest": ...``): set exactly the fields
  the message says a pod or container *must set*, to the value it names, for the containers it names
  (init containers too); ``pod or containers`` at the pod level when every container of the pod is
  named, else per container. Violations that have no safe value (host namespaces, hostPath volumes,
  privileged, added capabilities, a field the author set to the forbidden value) are for a person:
  the whole proposal is refused, naming what must be decided. The namespace's
  ``pod-security.kubernetes.io/*`` labels are never touched.
* kubelet ``container has runAsNonRoot and image will run as root`` / ``image has non-numeric user``:
  the container gets a numeric, non-root ``runAsUser`` (and ``runAsGroup``) from the policy;
  ``runAsNonRoot: true`` stays.
"""

from __future__ import annotations

from typing import Any

from remediator.evidence.relations import dig
from remediator.evidence.store import Obj
from remediator.model import Category, FieldPath, Finding, ObjectRef
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

RULE = "security-context"

# The fields a message may ask for and the one value that satisfies it, by where they may be set.
CONTAINER_ONLY = {"allowPrivilegeEscalation": False, "capabilities.drop": ["ALL"]}
POD_OR_CONTAINER: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile.type": "RuntimeDefault"}


def pod_spec(obj: Obj | None) -> dict[str, Any]:
    s = dig(obj or {}, *[p for p in pod_spec_path(obj) if isinstance(p, str)])
    return s if isinstance(s, dict) else {}


def container_names(obj: Obj | None) -> list[str]:
    s = pod_spec(obj)
    return [
        str(c.get("name"))
        for key in ("initContainers", "containers")
        for c in s.get(key) or []
        if isinstance(c, dict) and c.get("name")
    ]


def _mapping(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _wanted(field: str, value: Any) -> Any:
    """The value to write for ``must set securityContext.<field>=<value>`` (None: not one we set)."""
    if field in CONTAINER_ONLY:
        return CONTAINER_ONLY[field] if value == CONTAINER_ONLY[field] else None
    if field == "seccompProfile.type":
        # "to "RuntimeDefault" or "Localhost"": Localhost needs a profile on every node; RuntimeDefault does not
        return "RuntimeDefault" if "RuntimeDefault" in (value if isinstance(value, list) else [value]) else None
    if field == "runAsNonRoot":
        return True if value is True else None
    return None


def _edit(
    ref: ObjectRef, base: FieldPath, sc: dict[str, Any], field: str, value: Any, who: str
) -> tuple[list[Change], list[Check], str | None]:
    """The change of ``securityContext.<field>`` under ``base``, or what a person must decide."""
    keys = field.split(".")
    current = dig(sc, *keys)
    path: FieldPath = (*base, "securityContext", *keys)
    if current is not None and current != value:
        if field == "capabilities.drop" and isinstance(current, list) and current:
            # drop: [NET_RAW] -> [ALL, ...]: ALL covers every capability the list dropped
            p0: FieldPath = (*path, 0)
            return [SetField(ref, p0, "ALL", current=current[0], role="security")], [Check(ref, p0, "ALL")], None
        return (
            [],
            [],
            f"{who} sets securityContext.{field}: {current!r} explicitly; whether it needs that is a person's call",
        )
    if current == value:
        return [], [], None
    return [SetField(ref, path, value, current=None, role="security")], [Check(ref, path, value)], None


def plan_pod_security(f: Finding, ctx: Context, psa: dict[str, Any]) -> Proposal | Refusal:
    cat = f.category.value
    obj = ctx.desired_obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is not declared in the app's Git source", RULE)
    names = container_names(obj)
    pspec = pod_spec(obj)
    pod_sc = pspec.get("securityContext") if isinstance(pspec.get("securityContext"), dict) else {}
    changes: list[Change] = []
    checks: list[Check] = []
    decide: list[str] = []
    done: set[str] = set()
    fields: list[str] = []
    for v in psa.get("violations") or []:
        for req in v.get("requirements") or []:
            field, scope, named = req.get("field"), req.get("scope"), list(req.get("names") or [])
            value = _wanted(str(field), req.get("value")) if field else None
            if value is None or scope not in ("container", "pod or container") or not named:
                decide.append(f"{v.get('reason')} ({req.get('text')})")
                continue
            missing = [n for n in named if n not in names]
            if missing:
                decide.append(f"{v.get('reason')}: container(s) {', '.join(missing)} are not in {f.culprit} in Git")
                continue
            fields.append(str(field))
            at_pod = scope == "pod or container" and field in POD_OR_CONTAINER and set(named) == set(names)
            targets: list[tuple[FieldPath, dict[str, Any], str]] = (
                [(pod_spec_path(obj), pod_sc or {}, "the pod")]
                if at_pod
                else [
                    (container_path(obj, n), container_of(obj, n).get("securityContext") or {}, f"container {n}")
                    for n in named
                ]
            )
            for base, sc, who in targets:
                key = f"{base}|{field}"
                if key in done:
                    continue
                done.add(key)
                ch, ck, why = _edit(f.culprit, base, sc if isinstance(sc, dict) else {}, str(field), value, who)
                changes += ch
                checks += ck
                if why:
                    decide.append(why)
    level = str(psa.get("level") or "")
    if decide:
        return Refusal(
            cat,
            f"Pod Security {level} also forbids what has no safe value to set: {'; '.join(decide)}. A person must "
            "decide whether the app needs it (then the namespace's level is the platform's call) or drop it from the "
            "spec; the bot never changes the namespace's pod-security labels",
            RULE,
        )
    if not changes:
        return Refusal(cat, f"{f.culprit} in Git already sets what Pod Security {level} asks for", RULE)
    return Proposal(
        remedy=RULE,
        reason=(
            f"Pod Security admission ({level}) rejects the pods of {f.culprit}; set what the message names: "
            + ", ".join(dict.fromkeys(f"securityContext.{x}" for x in fields))
        ),
        changes=changes,
        risk=(
            "The processes run with fewer privileges: a program that needs root, setuid or a dropped capability fails "
            "at start-up (visible in its logs), and runAsNonRoot makes the kubelet refuse an image whose user is root."
        ),
        checks=checks,
    )


def plan_non_root(f: Finding, ctx: Context, nr: dict[str, Any]) -> Proposal | Refusal:
    cat = f.category.value
    cname = str(nr.get("container") or "")
    obj = ctx.desired_obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is not declared in the app's Git source", RULE)
    c = container_of(obj, cname)
    if not cname or not c:
        return Refusal(cat, f"container {cname or '?'} of {f.culprit} is not declared in Git", RULE)
    if nr.get("problem") == "run-as-user-0":
        return Refusal(
            cat,
            f"{f.culprit} sets runAsUser: 0 for container {cname} together with runAsNonRoot; a person must decide "
            "which one is meant",
            RULE,
        )
    sc = _mapping(c.get("securityContext"))
    pod_sc = _mapping(pod_spec(obj).get("securityContext"))
    if sc.get("runAsNonRoot") is False or (sc.get("runAsNonRoot") is None and pod_sc.get("runAsNonRoot") is not True):
        return Refusal(cat, f"container {cname} of {f.culprit} does not ask for runAsNonRoot in Git", RULE)
    sec = ctx.policy.security
    base = (*container_path(obj, cname), "securityContext")
    changes: list[Change] = []
    checks: list[Check] = []
    for key, value in (("runAsUser", sec.run_as_user), ("runAsGroup", sec.run_as_group)):
        if key == "runAsGroup" and (sc.get(key) is not None or pod_sc.get(key) is not None):
            continue  # a group the author chose stays
        changes.append(SetField(f.culprit, (*base, key), value, current=sc.get(key), role="security"))
        checks.append(Check(f.culprit, (*base, key), value))
    user = str(nr.get("user") or "")
    why = (
        f"its image's user is {user!r}, not a number"
        if nr.get("problem") == "non-numeric"
        else "its image runs as root"
    )
    return Proposal(
        remedy=RULE,
        reason=(
            f"the kubelet refuses container {cname} of {f.culprit}: runAsNonRoot is set and {why}; a numeric non-root "
            f"user {sec.run_as_user} (group {sec.run_as_group}, policy security.run_as_user/run_as_group) lets it "
            "start while runAsNonRoot stays true"
        ),
        changes=changes,
        risk=(
            f"The process runs as uid {sec.run_as_user}: files in the image or volumes that only root may write, and "
            "ports below 1024, fail at start-up (visible in the logs); an fsGroup may be needed for volumes."
        ),
        checks=checks,
    )


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    d = f.details
    if isinstance(d.get("non_root"), dict):
        return plan_non_root(f, ctx, d["non_root"])
    if isinstance(d.get("pod_security"), dict):
        return plan_pod_security(f, ctx, d["pod_security"])
    return Refusal(
        f.category.value,
        "the security policy that rejects the pods (a SecurityContextConstraint or PodSecurityPolicy) does not say "
        "which field to set; a person must match the pod to the policy",
        RULE,
    )


REMEDY = Remedy(
    RULE,
    (Category.SECURITY_CONTEXT.value,),
    plan,
    "set the securityContext fields the admission or kubelet message names",
)
