"""unschedulable because no node matches the pod's node selector or required node affinity: a value
that no node has, one or two edits (or a case difference) from the value the nodes' label of that
key has, is corrected; a ``kubernetes.io/hostname`` pin to a node that no longer exists is dropped.
Everything else the scheduler reports (requests beyond any node, full nodes, a GPU no node offers,
taints) is the platform's call: reported, never widened (no lowered requests, no added tolerations).

The helpers here (nodes, taints, requirements, requests) are shared with :mod:`anti_affinity`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from remediator.evidence.nearest import nearest
from remediator.evidence.relations import condition, dig, labels, meta
from remediator.evidence.store import Obj
from remediator.model import Category, FieldPath, Finding
from remediator.quantity import format_like, parse_quantity
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

KEY = "node-selector"
HOSTNAME = "kubernetes.io/hostname"
# kube-scheduler's NodeAffinity filter (1.22+: "node(s) didn't match Pod's node affinity/selector"; older wording too)
SELECTOR_MSG = re.compile(r"didn't match (?:Pod's )?node (?:affinity|selector)|MatchNodeSelector", re.I)
# InterPodAffinity: the incoming pod's anti-affinity, existing pods' anti-affinity, and the pre-1.20 wording
ANTI_MSG = re.compile(
    r"didn't match pod anti-affinity rules|didn't satisfy existing pods anti-affinity rules|"
    r"didn't match pod affinity/anti-affinity",
    re.I,
)
MAX_EDITS = 2


# --- nodes ------------------------------------------------------------------------------------


def node_name(node: Obj) -> str:
    return str(meta(node).get("name") or "")


def node_problem(node: Obj, tolerations: list[Any]) -> str | None:
    """Why the scheduler would not place the pod on ``node`` whatever its selector: cordoned,
    NotReady, or a NoSchedule/NoExecute taint the pod does not tolerate."""
    if dig(node, "spec", "unschedulable"):
        return "cordoned (spec.unschedulable)"
    ready = condition(node, "Ready")
    if ready is not None and ready.get("status") != "True":
        return "NotReady"
    for t in dig(node, "spec", "taints") or []:
        if isinstance(t, dict) and t.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(tolerations, t):
            return f"taint {t.get('key')}{'=' + str(t['value']) if t.get('value') else ''}:{t.get('effect')}"
    return None


def tolerated(tolerations: list[Any], taint: dict[str, Any]) -> bool:
    for tol in tolerations:
        if not isinstance(tol, dict):
            continue
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        op = tol.get("operator") or "Equal"
        if not tol.get("key"):
            if op == "Exists":
                return True
            continue
        if tol.get("key") != taint.get("key"):
            continue
        if op == "Exists" or str(tol.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


# --- the pod's node requirements -----------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One node requirement of the pod: a nodeSelector entry or a required node-affinity expression."""

    key: str  # a label key, or "metadata.name" for a matchFields expression
    op: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: tuple[str, ...]
    where: str  # for messages: nodeSelector[key] / nodeAffinity ... matchExpressions[j]
    value_path: FieldPath  # the field holding the (first) value
    # the mapping key whose removal drops this requirement and nothing else (None: a list item, which the
    # edit machinery does not remove)
    remove_path: FieldPath | None

    def holds(self, node: Obj) -> bool:
        lab = {**labels(node), "metadata.name": node_name(node)} if self.key == "metadata.name" else labels(node)
        have = lab.get(self.key)
        if self.op == "In":
            return have is not None and str(have) in self.values
        if self.op == "NotIn":
            return have is None or str(have) not in self.values
        if self.op == "Exists":
            return have is not None
        if self.op == "DoesNotExist":
            return have is None
        if self.op in ("Gt", "Lt") and have is not None and self.values:
            try:
                a, b = int(str(have)), int(self.values[0])
            except ValueError:
                return False
            return a > b if self.op == "Gt" else a < b
        return False


def requirements(obj: Obj) -> tuple[list[Requirement], str | None]:
    """The pod template's node requirements (all must hold), or why they cannot be read as one set."""
    base = pod_spec_path(obj)
    pod = dig(obj, *[p for p in base if isinstance(p, str)]) or {}
    out: list[Requirement] = []
    sel = pod.get("nodeSelector") if isinstance(pod, dict) else None
    if isinstance(sel, dict):
        for k, v in sel.items():
            alone = len(sel) == 1
            out.append(
                Requirement(
                    str(k),
                    "In",
                    (str(v),),
                    f"nodeSelector {k}",
                    (*base, "nodeSelector", str(k)),
                    (*base, "nodeSelector") if alone else (*base, "nodeSelector", str(k)),
                )
            )
    aff = dig(pod, "affinity") if isinstance(pod, dict) else None
    na = dig(aff, "nodeAffinity") if isinstance(aff, dict) else None
    req = dig(na, "requiredDuringSchedulingIgnoredDuringExecution") if isinstance(na, dict) else None
    terms = dig(req, "nodeSelectorTerms") if isinstance(req, dict) else None
    if isinstance(terms, list) and terms:
        if len(terms) > 1:
            return out, (
                f"the required node affinity has {len(terms)} alternative nodeSelectorTerms; "
                "not guessing which one was meant"
            )
        term = terms[0] if isinstance(terms[0], dict) else {}
        exprs = [("matchExpressions", e) for e in term.get("matchExpressions") or []]
        exprs += [("matchFields", e) for e in term.get("matchFields") or []]
        req_path: FieldPath = (*base, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
        # dropping the only expression drops the whole required block (and what becomes empty above it)
        only = len(exprs) == 1
        if only and len(na or {}) == 1:
            whole: FieldPath = (*base, "affinity") if len(aff or {}) == 1 else (*base, "affinity", "nodeAffinity")
        else:
            whole = req_path
        counters = {"matchExpressions": 0, "matchFields": 0}
        for kind, e in exprs:
            j = counters[kind]
            counters[kind] += 1
            if not isinstance(e, dict):
                continue
            vals = tuple(str(v) for v in e.get("values") or [])
            epath: FieldPath = (*req_path, "nodeSelectorTerms", 0, kind, j)
            out.append(
                Requirement(
                    str(e.get("key") or ""),
                    str(e.get("operator") or ""),
                    vals,
                    f"required node affinity {kind}[{j}] {e.get('key')} {e.get('operator')} {list(vals)}",
                    (*epath, "values", 0),
                    whole if only else None,
                )
            )
    return out, None


def pod_spec_of(obj: Obj) -> dict[str, Any]:
    spec = dig(obj, *[p for p in pod_spec_path(obj) if isinstance(p, str)])
    return spec if isinstance(spec, dict) else {}


def eligible_nodes(nodes: list[Obj], obj: Obj, reqs: list[Requirement]) -> list[Obj]:
    """The nodes the scheduler could use for the pod: usable (Ready, not cordoned, taints tolerated)
    and matching every node requirement."""
    tols = pod_spec_of(obj).get("tolerations") or []
    return [n for n in nodes if node_problem(n, tols) is None and all(r.holds(n) for r in reqs)]


# --- what the platform decides -----------------------------------------------------------------


def pod_requests(obj: Obj) -> dict[str, Decimal]:
    """What one pod requests per resource (containers summed, init containers as the maximum)."""
    spec = pod_spec_of(obj)
    total: dict[str, Decimal] = {}
    for c in spec.get("containers") or []:
        # a resource with a limit and no request is requested at its limit
        asked = {**(dig(c, "resources", "limits") or {}), **(dig(c, "resources", "requests") or {})}
        for res, q in asked.items():
            try:
                total[str(res)] = total.get(str(res), Decimal(0)) + parse_quantity(str(q)).value
            except ValueError:
                continue
    for c in spec.get("initContainers") or []:
        for res, q in (dig(c, "resources", "requests") or {}).items():
            try:
                total[str(res)] = max(total.get(str(res), Decimal(0)), parse_quantity(str(q)).value)
            except ValueError:
                continue
    return total


def _fmt(v: Decimal, res: str) -> str:
    if res == "cpu" and v != v.to_integral_value():
        return f"{int(v * 1000)}m"
    if res in ("memory", "ephemeral-storage") or res.startswith("hugepages-"):
        return format_like(v, parse_quantity("1Mi"))
    return format(v.normalize(), "f")


def platform_refusal(f: Finding, ctx: Context) -> Refusal:
    """Why no Git edit is proposed for what the scheduler reports: capacity, extended resources,
    taints and full nodes are the platform's call."""
    cat = f.category.value
    msg = str(f.details.get("message") or "")
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit) or {}
    nodes = ctx.ev.all("Node")
    said: list[str] = []
    requests = pod_requests(obj)
    for res in dict.fromkeys(re.findall(r"Insufficient (\w[\w./-]*\w)", msg)):
        want = requests.get(res)
        alloc: list[tuple[Decimal, str]] = []
        for n in nodes:
            q = dig(n, "status", "allocatable", res)
            if q is not None:
                try:
                    alloc.append((parse_quantity(str(q)).value, node_name(n)))
                except ValueError:
                    continue
        shown = f"{_fmt(want, res)} {res}" if want is not None else res
        if not nodes:
            said.append(
                f"no node has {res} left for pods requesting {shown} (the nodes' allocatable is not in the evidence): "
                "more or larger nodes, or deliberately smaller requests, are the platform's and the app owners' "
                "call; requests are never lowered by the bot"
            )
        elif not alloc:
            said.append(
                f"the pods request {shown} and no node offers {res}: a node pool with that resource (and its "
                "device plugin) is the platform's decision; the request is not removed"
            )
        elif want is not None and alloc and want > max(alloc)[0]:
            biggest = max(alloc)
            said.append(
                f"each pod requests {shown}, more than any node can allocate (largest: {_fmt(biggest[0], res)} on "
                f"{biggest[1]}): larger nodes, or deliberately smaller requests, are decisions for the platform "
                "and the app's owners; requests are never lowered by the bot"
            )
        else:
            said.append(
                f"the nodes have no {res} left for pods requesting {shown}: more or larger nodes (or fewer "
                "replicas) is the platform's call; requests are never lowered by the bot"
            )
    taints = re.findall(r"(?:untolerated taint|had taint) (\{[^}]*\})", msg)
    if taints or re.search(r"untolerated taint|had taint", msg, re.I):
        said.append(
            f"nodes carry taints the pods do not tolerate{' ' + ', '.join(dict.fromkeys(taints)) if taints else ''}: "
            "dedicated nodes are the platform's; tolerations are not added blindly"
        )
    if re.search(r"Too many pods", msg, re.I):
        said.append("the nodes are at their pod limit (max pods): more nodes is the platform's call")
    if re.search(r"volume node affinity conflict", msg, re.I):
        said.append("a bound volume lives in a zone or on a node the pod cannot use: the storage's topology decides")
    if not said:
        said.append(f"the scheduler's reason is not one a Git edit can decide: {msg[:200]}")
    return Refusal(cat, "; ".join(said), "platform-decision")


# --- the remedy ----------------------------------------------------------------------------------


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    msg = str(f.details.get("message") or "")
    if not SELECTOR_MSG.search(msg):
        if ANTI_MSG.search(msg):
            return Refusal(cat, "the scheduler reports no node selector/affinity mismatch", KEY)
        return platform_refusal(f, ctx)
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    if obj is None:
        return Refusal(cat, f"{f.culprit} is neither in Git nor in the cluster", KEY)
    nodes = ctx.ev.all("Node")
    if not nodes:
        return Refusal(cat, "the evidence holds no Node objects: the nodes' labels decide the value", KEY)
    total = f.details.get("nodes_total")
    if isinstance(total, int) and total > len(nodes):
        return Refusal(
            cat,
            f"the scheduler saw {total} nodes, the evidence holds {len(nodes)}: the missing nodes' labels could decide",
            KEY,
        )
    reqs, why_not = requirements(obj)
    if why_not:
        return Refusal(cat, why_not, KEY)
    if not reqs:
        return Refusal(cat, f"{f.culprit} declares no node selector or required node affinity in its pod template", KEY)
    names = sorted(node_name(n) for n in nodes)
    changes: list[Change] = []
    checks: list[Check] = []
    said: list[str] = []
    fixed: list[Requirement] = []
    for r in reqs:
        if any(r.holds(n) for n in nodes):
            fixed.append(r)
            continue
        if r.key in (HOSTNAME, "metadata.name") and r.op == "In":
            gone = ", ".join(r.values)
            if r.remove_path is None:
                return Refusal(
                    cat,
                    f"{r.where} pins the pods to node {gone}, which no longer exists; it is one of several "
                    "expressions of the node-affinity term: remove it by hand",
                    KEY,
                )
            changes.append(RemoveField(f.culprit, r.remove_path))
            checks.append(Check(f.culprit, r.remove_path, None))
            said.append(
                f"{r.where} pins the pods to node {gone}, which no longer exists (nodes: {', '.join(names)}); "
                "the pin is dropped"
            )
            continue
        if r.op != "In" or len(r.values) != 1:
            return Refusal(cat, f"no node satisfies {r.where}; not a single value that a near one corrects", KEY)
        value = r.values[0]
        have = sorted({str(labels(n)[r.key]) for n in nodes if r.key in labels(n)})
        if not have:
            keys = nearest(r.key, {str(k) for n in nodes for k in labels(n)}, MAX_EDITS)[0]
            hint = f" (nodes have {', '.join(keys)})" if keys else ""
            return Refusal(
                cat,
                f"no node has a label {r.key}{hint}: which nodes the pods belong on is for the platform to say",
                KEY,
            )
        near, d = nearest(value, have, MAX_EDITS)
        if not near:
            return Refusal(
                cat,
                f"no node has {r.key}={value}, and none of the values the nodes have ({', '.join(have)}) is within "
                f"{MAX_EDITS} edits of it: which node pool was meant is for the app's owners to say",
                KEY,
            )
        if len(near) > 1:
            return Refusal(
                cat,
                f"no node has {r.key}={value}; {' and '.join(near)} are equally near: not guessing which was meant",
                KEY,
            )
        new = near[0]
        changes.append(SetField(f.culprit, r.value_path, new, current=value, role="node-selector"))
        checks.append(Check(f.culprit, r.value_path, new))
        fixed.append(Requirement(r.key, r.op, (new,), r.where, r.value_path, r.remove_path))
        how = (
            "the only one that differs only in case" if d == 0 else f"the only one {d} edit{'s' if d != 1 else ''} away"
        )
        said.append(
            f"no node has {r.key}={value}; of the values the nodes have ({', '.join(have)}), "
            f"{new} ({_count(nodes, r.key, new)}) is {how}"
        )
    if not changes:
        tols = pod_spec_of(obj).get("tolerations") or []
        matching = [n for n in nodes if all(r.holds(n) for r in reqs)]
        if matching:
            return Refusal(
                cat,
                "the nodes the pods select cannot take them: "
                + ", ".join(f"{node_name(n)} ({node_problem(n, tols) or 'full'})" for n in matching)
                + "; the nodes need attention, the selector is not widened",
                KEY,
            )
        return Refusal(
            cat,
            "every value of the pod's node requirements exists on some node, but no node has them all: "
            "which pool was meant is for the app's owners to say",
            KEY,
        )
    fits = eligible_nodes(nodes, obj, fixed)
    if not fits:
        tols = pod_spec_of(obj).get("tolerations") or []
        blocked = [f"{node_name(n)} ({node_problem(n, tols)})" for n in nodes if all(r.holds(n) for r in fixed)] or [
            "none matches all of them"
        ]
        return Refusal(
            cat,
            f"even corrected, no schedulable node would match the pod's node requirements: {', '.join(blocked)}",
            KEY,
        )
    return Proposal(
        remedy=KEY,
        reason="; ".join(said) + f". Then the pods can run on {', '.join(sorted(node_name(n) for n in fits))}.",
        changes=changes,
        risk=f"The pods of {f.culprit.name} run on {', '.join(sorted(node_name(n) for n in fits))}; "
        "check that this is the pool they were meant for.",
        checks=checks,
    )


def _count(nodes: list[Obj], key: str, value: str) -> str:
    n = sum(1 for x in nodes if str(labels(x).get(key)) == value)
    return f"{n} node{'s' if n != 1 else ''}"


REMEDY = Remedy(
    KEY,
    (Category.UNSCHEDULABLE.value,),
    plan,
    "correct a node selector/affinity value no node has, or drop a pin to a node that is gone",
)
