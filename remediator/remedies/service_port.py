"""service-no-endpoints because the Service's ``targetPort`` (name or number) is no port the pods it
selects declare: a named targetPort gives the pods no endpoint at all (the endpoints controllers'
``FindPort`` fails), a numeric one sends traffic to a port nothing listens on (connections refused).

The port the Service is meant for, from the pods' declared container ports:

1. the container port with the Service's own ``port`` number;
2. else the container port whose name is the targetPort's (a named targetPort) or the Service port's
   name, or near it (edit distance <= 2, or a name segment added or dropped);
3. else the only port the selected containers declare.

Several candidates at the deciding step, or pods that declare no ports: a person chooses. A selector
that matches no pod is :mod:`service_selector`'s case. A named targetPort stays a name when the chosen
port has one; a number stays a number.
"""

from __future__ import annotations

from typing import Any

from remediator.evidence.nearest import near_names
from remediator.evidence.relations import containers, dig, labels, meta, pod_template, selector_matches, spec
from remediator.evidence.store import WORKLOAD_KINDS, Obj
from remediator.model import Category, Finding
from remediator.remedies.base import Check, Context, Proposal, Refusal, Remedy, SetField

KEY = "service-port"
Port = tuple[str, int]  # (name or "", containerPort)


def _pod_specs(ctx: Context, ns: str, sel: dict[str, str]) -> list[dict[str, Any]]:
    """The pod specs the selector picks: running pods, else the templates of workloads declared in Git
    or seen in the cluster."""
    pods = [spec(p) for p in ctx.ev.all("Pod", ns) if selector_matches(sel, labels(p))]
    if pods:
        return pods
    out = []
    for obj in [*ctx.desired, *(o for k in WORKLOAD_KINDS for o in ctx.ev.all(k, ns))]:
        if str(obj.get("kind")) not in WORKLOAD_KINDS or str(obj.get("kind")) in ("Pod", "ReplicaSet"):
            continue
        if str(meta(obj).get("namespace") or ns) != ns:
            continue
        tpl = pod_template(obj)
        lab = dig(tpl, "metadata", "labels")
        if isinstance(lab, dict) and selector_matches(sel, {str(k): str(v) for k, v in lab.items()}):
            out.append(tpl.get("spec") or {})
    return out


def declared(pod_specs: list[dict[str, Any]]) -> list[Port]:
    """Every (name, number) the containers declare, once each, in order."""
    seen: dict[Port, None] = {}
    for ps in pod_specs:
        for c in containers(ps, init=False):
            for cp in c.get("ports") or []:
                if isinstance(cp, dict) and isinstance(cp.get("containerPort"), int):
                    seen.setdefault((str(cp.get("name") or ""), int(cp["containerPort"])), None)
    return list(seen)


def _serves(target: Any, ports: list[Port], undeclared: bool) -> bool:
    if isinstance(target, int):
        return undeclared or any(n == target for _, n in ports)
    return any(name == str(target) for name, _ in ports)


def choose(sp: dict[str, Any], ports: list[Port]) -> tuple[list[Port], str]:
    """The container ports a Service port that misses was meant for, and by which rule."""
    target = sp.get("targetPort", sp.get("port"))
    same = [p for p in ports if p[1] == sp.get("port")]
    if same:
        return same, f"the container port with the Service's port number {sp.get('port')}"
    names = [str(target)] if isinstance(target, str) else []
    names += [str(sp["name"])] if sp.get("name") and str(sp["name"]) not in names else []
    known = {n for n, _ in ports if n}
    for name in names:
        if name in known:
            return [p for p in ports if p[0] == name], f"the container port named {name}"
        hits = near_names(name, known)
        if hits:
            return [p for p in ports if p[0] in hits], f"the container port named {' or '.join(hits)} (near {name})"
    if len(ports) == 1:
        return ports, "the only port the containers declare"
    return ports, "no rule decides"


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    if f.culprit.kind != "Service":
        return Refusal(cat, "the culprit is not a Service", KEY)
    svc: Obj = ctx.obj(f.culprit) or {}
    sel = spec(svc).get("selector")
    if not isinstance(sel, dict) or not sel:
        return Refusal(cat, f"{f.culprit} has no selector (its Endpoints are managed by hand)", KEY)
    sel = {str(k): str(v) for k, v in sel.items()}
    specs = _pod_specs(ctx, f.culprit.namespace, sel)
    if not specs:
        return Refusal(
            cat, f"{f.culprit} selects {sel}, which matches no pod: the selector is wrong, not the port", KEY
        )
    ports = declared(specs)
    undeclared = any(not c.get("ports") for ps in specs for c in containers(ps, init=False))
    changes, checks, whys = [], [], []
    for i, sp in enumerate(p for p in spec(svc).get("ports") or [] if isinstance(p, dict)):
        target = sp.get("targetPort", sp.get("port"))
        if _serves(target, ports, undeclared):
            continue
        if not ports:
            return Refusal(
                cat,
                f"{f.culprit} targets port {target!r}, which its pods do not declare, and they declare no ports: "
                "which port the app listens on is for a person (or the image's documentation) to say",
                KEY,
            )
        cands, rule = choose(sp, ports)
        numbers = sorted({n for _, n in cands})
        if len(numbers) != 1:
            return Refusal(
                cat,
                f"{f.culprit} targets port {target!r}, which its pods do not declare; they declare "
                f"{', '.join(f'{n}:{c}' if n else str(c) for n, c in ports)} and {rule}: which one the Service "
                "is for is a person's choice",
                KEY,
            )
        name = next((n for n, num in cands if n), "")
        value: int | str = name if isinstance(target, str) and name else numbers[0]
        path = ("spec", "ports", i, "targetPort")
        changes.append(SetField(f.culprit, path, value, current=target, role="service-target-port"))
        checks.append(Check(f.culprit, path, value))
        whys.append(
            f"port {sp.get('name') or sp.get('port')} targets {target!r}, which no selected pod declares; {rule} is {value!r}"
        )
    if not changes:
        return Refusal(cat, f"every port of {f.culprit} targets a port its pods declare", KEY)
    return Proposal(
        remedy=KEY,
        reason=f"{f.culprit}: " + "; ".join(whys) + ". With that targetPort the Service's endpoints carry the port "
        "the app serves and connections reach it.",
        changes=list(changes),
        checks=checks,
        risk="Traffic starts reaching the chosen container port; if the app serves the Service on another port, close this PR.",
    )


REMEDY = Remedy(
    KEY,
    (Category.SERVICE_NO_ENDPOINTS.value,),
    plan,
    "point a Service's targetPort at the port its pods declare",
)
