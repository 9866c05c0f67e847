"""storage-full by a limit the kubelet enforces: raise it by ``resources.ephemeral_factor``, never
above ``resources.ephemeral_max``.

The kubelet's eviction messages (pkg/kubelet/eviction) name the limit:
``Usage of EmptyDir volume "cache" exceeds the limit "256Mi".`` (the volume's ``emptyDir.sizeLimit``),
``Container x exceeded its local ephemeral storage limit "1Gi".`` (the container's
``limits.ephemeral-storage``), ``Pod ephemeral local storage usage exceeds the total limit of containers
1Gi.`` (the sum of the containers' limits). A node-pressure eviction or a full volume is not a limit
of the pod: refused.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from remediator.evidence.relations import dig
from remediator.model import Category, Finding
from remediator.quantity import Quantity, format_like, memory_step, parse_quantity, round_up
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

RULE = "ephemeral-storage"
EMPTY_DIR = re.compile(r"Usage of EmptyDir volume \"(?P<vol>[^\"]+)\" exceeds the limit \"(?P<limit>[^\"]+)\"")
CONTAINER = re.compile(r"Container (?P<c>\S+) exceeded its local ephemeral storage limit \"(?P<limit>[^\"]+)\"")
POD = re.compile(r"Pod ephemeral local storage usage exceeds the total limit of containers (?P<limit>[0-9][\w.]*)")
KEY = "ephemeral-storage"


def _raise(ctx: Context, text: Any) -> tuple[str, Quantity] | str:
    """The raised value, or why not."""
    try:
        q = parse_quantity(str(text))
        cap = parse_quantity(ctx.policy.resources.ephemeral_max).value
    except ValueError as e:
        return str(e)
    target = q.value * Decimal(str(ctx.policy.resources.ephemeral_factor))
    new = Decimal(round_up(target, memory_step(q, ctx.policy.memory.round_to)))
    if new > cap:
        return (
            f"{text} x {ctx.policy.resources.ephemeral_factor} = {format_like(new, q)} is above the policy maximum "
            f"resources.ephemeral_max {ctx.policy.resources.ephemeral_max}"
        )
    return format_like(new, q), q


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    msg = str(f.details.get("evicted") or "")
    if f.details.get("claim") or not msg:
        return Refusal(
            cat,
            "no eviction for an emptyDir sizeLimit or ephemeral-storage limit: a full volume or node disk pressure "
            "is not a limit of the pod",
            RULE,
        )
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is neither in Git nor in the cluster", RULE)
    base = pod_spec_path(obj)
    spec = dig(obj, *[p for p in base if isinstance(p, str)]) or {}
    changes: list[Change] = []
    checks: list[Check] = []
    notes: list[str] = []
    warnings: list[str] = []
    rule = RULE

    def add(path: tuple[Any, ...], current: Any, what: str) -> str | None:
        out = _raise(ctx, current)
        if isinstance(out, str):
            return out
        text, _ = out
        changes.append(SetField(f.culprit, path, text, current=current, role=KEY))
        checks.append(Check(f.culprit, path, text))
        notes.append(f"{what} {current} -> {text}")
        return None

    if m := EMPTY_DIR.search(msg):
        vol = m.group("vol")
        declared = next(
            (v for v in spec.get("volumes") or [] if isinstance(v, dict) and v.get("name") == vol),
            None,
        )
        if declared is None or not isinstance(declared.get("emptyDir"), dict):
            return Refusal(cat, f"volume {vol} of {f.culprit} is not an emptyDir in its spec", RULE)
        current = dig(declared, "emptyDir", "sizeLimit")
        if current is None:
            return Refusal(cat, f"emptyDir {vol} of {f.culprit} declares no sizeLimit in Git; sync the app", RULE)
        err = add((*base, "volumes", {"name": vol}, "emptyDir", "sizeLimit"), current, f"emptyDir {vol} sizeLimit")
        for c in spec.get("containers") or []:
            if not isinstance(c, dict) or not any(
                isinstance(mt, dict) and mt.get("name") == vol for mt in c.get("volumeMounts") or []
            ):
                continue
            lim = dig(c, "resources", "limits", KEY)
            if lim is not None and changes:
                warnings.append(
                    f"container {c.get('name')} mounts {vol} and limits ephemeral-storage to {lim}; "
                    "the emptyDir's usage counts toward it"
                )
    elif m := CONTAINER.search(msg):
        cname = m.group("c")
        current = dig(container_of(obj, cname), "resources", "limits", KEY)
        if current is None:
            return Refusal(cat, f"container {cname} of {f.culprit} declares no ephemeral-storage limit in Git", RULE)
        err = add(
            (*container_path(obj, cname), "resources", "limits", KEY), current, f"container {cname} ephemeral limit"
        )
    elif POD.search(msg):
        err = None
        limited = [
            c
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
            if isinstance(c, dict) and dig(c, "resources", "limits", KEY) is not None
        ]
        if not limited:
            return Refusal(cat, f"no container of {f.culprit} declares an ephemeral-storage limit in Git", RULE)
        for c in limited:
            name = str(c.get("name"))
            err = err or add(
                (*container_path(obj, name), "resources", "limits", KEY),
                dig(c, "resources", "limits", KEY),
                f"container {name} ephemeral limit",
            )
    else:
        return Refusal(
            cat,
            "the eviction is node pressure (the node is low on ephemeral-storage), not a limit of the pod: "
            "raising a limit does not help; the node's disk or the pods' requests decide it",
            RULE,
        )
    if err:
        return Refusal(cat, err, "resources.ephemeral_max" if "ephemeral_max" in err else rule)
    return Proposal(
        remedy=RULE,
        reason=(
            f"the kubelet evicted pods of {f.culprit}: {msg.strip()} Raised by the policy factor "
            f"{ctx.policy.resources.ephemeral_factor} (at most {ctx.policy.resources.ephemeral_max}): {', '.join(notes)}."
        ),
        changes=changes,
        risk=(
            "The pods may write more to the node's disk before eviction; if the usage grows without bound (a cache "
            "never pruned, logs written to disk) this only delays the next eviction."
        ),
        warnings=warnings,
        checks=checks,
    )


REMEDY = Remedy(RULE, (Category.STORAGE_FULL.value,), plan, "raise an emptyDir sizeLimit or ephemeral-storage limit")
