"""quota-exceeded by a LimitRange: the LimitRanger admission plugin rejects the pods
(``minimum memory usage per Container is 128Mi, but request is 64Mi``, ``maximum cpu usage per
Container is 2, but limit is 4``, several in ``[...]``) -> set the request (and the limit when it
falls outside) of the containers that violate the bound to the bound the message names.

The message does not name the container: the violating containers are found in the workload's spec.
A per-Pod bound is applied only when one container sets the resource; a limit/request ratio is
reported (which of the two to move is not decided by the message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from remediator.evidence.relations import dig
from remediator.model import Category, Finding
from remediator.quantity import parse_quantity
from remediator.remedies.base import (
    Change,
    Check,
    Context,
    Proposal,
    Refusal,
    Remedy,
    SetField,
    container_path,
    pod_spec_path,
)

RULE = "limitrange-bounds"
# k8s.io/kubernetes plugin/pkg/admission/limitranger: minConstraint / maxConstraint
BOUND = re.compile(
    r"(?P<kind>minimum|maximum) (?P<res>[\w./-]+) usage per (?P<scope>Container|Pod) is (?P<bound>[0-9][\w.+-]*)"
    r"(?:, but (?P<field>request|limit) is [0-9][\w.+-]*|\.\s+No (?P<none>request|limit) is specified)"
)
RATIO = re.compile(r"max limit to request ratio per (?:Container|Pod) is", re.I)


@dataclass(frozen=True)
class Bound:
    kind: str  # minimum | maximum
    resource: str
    scope: str  # Container | Pod
    value: str


def parse_bounds(message: str) -> list[Bound]:
    out: list[Bound] = []
    for m in BOUND.finditer(message):
        b = Bound(m.group("kind"), m.group("res"), m.group("scope"), m.group("bound"))
        if b not in out:
            out.append(b)
    return out


def _q(text: object) -> Decimal | None:
    if text is None:
        return None
    try:
        return parse_quantity(str(text)).value
    except ValueError:
        return None


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    message = str(f.details.get("message") or "")
    if f.details.get("quota"):
        return Refusal(cat, "a ResourceQuota, not a LimitRange, rejects the pods", RULE)
    bounds = parse_bounds(message)
    if not bounds:
        if RATIO.search(message):
            return Refusal(
                cat,
                "a LimitRange bounds the limit-to-request ratio; whether to raise the request or lower the limit is "
                "not decided by the message: choose one and edit it",
                RULE,
            )
        return Refusal(cat, "the rejection names no LimitRange minimum or maximum to meet", RULE)
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is neither in Git nor in the cluster", RULE)
    spec = dig(obj, *[p for p in pod_spec_path(obj) if isinstance(p, str)]) or {}
    conts = [
        c
        for key in ("initContainers", "containers")
        for c in (spec.get(key) or [] if isinstance(spec, dict) else [])
        if isinstance(c, dict) and c.get("name")
    ]
    # the values after the edit, per container and field: (container, "requests"|"limits", resource) -> text
    new: dict[tuple[str, str, str], str] = {}
    cur: dict[tuple[str, str, str], object] = {}

    def value(cname: str, fld: str, res: str) -> Decimal | None:
        key = (cname, fld, res)
        if key in new:
            return _q(new[key])
        c = next(c for c in conts if c.get("name") == cname)
        return _q(dig(c, "resources", fld, res))

    def put(cname: str, fld: str, res: str, text: str) -> None:
        c = next(c for c in conts if c.get("name") == cname)
        cur.setdefault((cname, fld, res), dig(c, "resources", fld, res))
        new[(cname, fld, res)] = text

    notes: list[str] = []
    for b in bounds:
        bound = _q(b.value)
        if bound is None:
            return Refusal(cat, f"the LimitRange bound {b.value!r} is not a quantity", RULE)
        targets = [str(c["name"]) for c in conts]
        if b.scope == "Pod":
            setting = [
                n
                for n in targets
                if value(n, "requests", b.resource) is not None or value(n, "limits", b.resource) is not None
            ]
            if len(conts) > 1 and len(setting) != 1:
                return Refusal(
                    cat,
                    f"the {b.kind} {b.resource} per Pod ({b.value}) is a sum over {len(conts)} containers; which "
                    "container to change is not decided by the message",
                    RULE,
                )
            targets = setting or targets
        for n in targets:
            req, lim = value(n, "requests", b.resource), value(n, "limits", b.resource)
            if req is None:
                req = lim  # the API server defaults a missing request to the limit
            if b.kind == "minimum":
                if req is None or req < bound:
                    put(n, "requests", b.resource, b.value)
                    notes.append(f"{n} requests.{b.resource} -> {b.value} (minimum)")
                if lim is not None and lim < bound:
                    put(n, "limits", b.resource, b.value)
                    notes.append(f"{n} limits.{b.resource} -> {b.value} (minimum)")
            else:
                if lim is None or lim > bound:
                    put(n, "limits", b.resource, b.value)
                    notes.append(f"{n} limits.{b.resource} -> {b.value} (maximum)")
                explicit = value(n, "requests", b.resource)
                if explicit is not None and explicit > bound:
                    put(n, "requests", b.resource, b.value)
                    notes.append(f"{n} requests.{b.resource} -> {b.value} (maximum)")
    for (n, _, res), _text in list(new.items()):
        req, lim = value(n, "requests", res), value(n, "limits", res)
        if req is not None and lim is not None and req > lim:
            return Refusal(
                cat,
                f"container {n}: the LimitRange bounds leave no {res} request <= limit ({message[:200]})",
                RULE,
            )
    if not new:
        return Refusal(
            cat,
            f"every container of {f.culprit} as declared already meets the LimitRange bounds the message names; "
            "sync the app",
            RULE,
        )
    changes: list[Change] = []
    checks: list[Check] = []
    for (n, fld, res), text in new.items():
        path = (*container_path(obj, n), "resources", fld, res)
        changes.append(SetField(f.culprit, path, text, current=cur.get((n, fld, res)), role=f"{res}-{fld.rstrip('s')}"))
        checks.append(Check(f.culprit, path, text))
    return Proposal(
        remedy=RULE,
        reason=(
            f"the namespace's LimitRange rejects the pods of {f.culprit} ({'; '.join(str(b.kind) + ' ' + b.resource + ' per ' + b.scope + ' ' + b.value for b in bounds)}); "
            f"the containers that violate it are set to the bound: {', '.join(notes)}."
        ),
        changes=changes,
        risk=(
            "A raised request reserves more of the nodes for each pod; a lowered limit caps the container (a memory "
            "limit below its need OOMKills it). The LimitRange is the platform's: if the bound is wrong, ask there."
        ),
        checks=checks,
    )


REMEDY = Remedy(RULE, (Category.QUOTA_EXCEEDED.value,), plan, "meet the bounds a LimitRange names")
