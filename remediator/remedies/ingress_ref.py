"""ingress: an Ingress names something that does not exist; the reference is wrong, so the Ingress is edited.

* **class**: ``spec.ingressClassName`` (or the legacy ``kubernetes.io/ingress.class`` annotation) names no
  IngressClass -> the near-named class (edit distance <= 2, or a prefix/suffix segment added or dropped),
  else the cluster's default class (``ingressclass.kubernetes.io/is-default-class: "true"``), else its only
  class; several classes and none of these -> a person chooses the controller.
* **backend Service**: a backend names no Service of the namespace while exactly one near-named Service
  exists and holds the referenced port (number or name) -> that name. A near Service without the port:
  report (two guesses are not a fix).
* **backend port**: the Service exists but has no such port -> for a number, the Service port whose
  ``targetPort`` is that number (the container port was written instead of the Service port), else the
  Service's only port; for a name, the near-named port, else the only port.
* **TLS Secret**: missing -> a near-named Secret of type ``kubernetes.io/tls``; otherwise the certificate is
  issued out of band (cert-manager, the platform's PKI) and the Ingress is not edited.

Everything a proposal edits must be decided; one undecided reference refuses the whole proposal, except
a missing TLS Secret that is out of band, which is reported beside the other fixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from remediator.evidence.nearest import near_names
from remediator.evidence.relations import dig, meta, spec
from remediator.evidence.store import Obj
from remediator.model import Category, FieldPath, Finding, ObjectRef
from remediator.remedies.base import Change, Check, Context, Proposal, Refusal, Remedy, RemoveField, SetField

KEY = "ingress-ref"
LEGACY_CLASS = "kubernetes.io/ingress.class"
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
TLS_TYPE = "kubernetes.io/tls"
# Annotations that make cert-manager (ingress-shim) issue the TLS Secret the Ingress names.
CERT_MANAGER = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer", "kubernetes.io/tls-acme")


@dataclass
class _Edit:
    changes: list[Change]
    checks: list[Check]
    why: str


class _Undecided(Exception):
    def __init__(self, reason: str, out_of_band: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.out_of_band = out_of_band


def _names(objs: list[Obj]) -> set[str]:
    return {str(meta(o).get("name")) for o in objs if meta(o).get("name")}


def _namespaced(ctx: Context, kind: str, namespace: str) -> list[Obj]:
    """Objects of ``kind`` in ``namespace``, in the cluster and declared in Git (by name, the cluster's first)."""
    found: dict[str, Obj] = {}
    for o in ctx.ev.all(kind, namespace):
        found.setdefault(str(meta(o).get("name")), o)
    for o in ctx.desired:
        if str(o.get("kind")) == kind and str(meta(o).get("namespace") or namespace) == namespace:
            found.setdefault(str(meta(o).get("name")), o)
    return list(found.values())


def _class(ctx: Context, ing: Obj, target: ObjectRef) -> _Edit | None:
    cls = spec(ing).get("ingressClassName")
    path: FieldPath = ("spec", "ingressClassName")
    if not cls:
        cls = (meta(ing).get("annotations") or {}).get(LEGACY_CLASS)
        path = ("metadata", "annotations", LEGACY_CLASS)
    classes = ctx.ev.all("IngressClass")
    if not cls or not classes or str(cls) in _names(classes):
        return None
    cls = str(cls)
    near = near_names(cls, _names(classes))
    defaults = sorted(
        _names([c for c in classes if str((meta(c).get("annotations") or {}).get(DEFAULT_CLASS)) == "true"])
    )
    if len(near) == 1:
        value, why = near[0], f"IngressClass {cls} does not exist; {near[0]} does and is that name mistyped"
    elif len(defaults) == 1:
        value, why = defaults[0], f"IngressClass {cls} does not exist; {defaults[0]} is the cluster's default class"
    elif len(classes) == 1:
        value = next(iter(_names(classes)))
        why = f"IngressClass {cls} does not exist; {value} is the cluster's only class"
    else:
        raise _Undecided(
            f"IngressClass {cls} does not exist and the cluster has {len(classes)} classes "
            f"({', '.join(sorted(_names(classes)))}), {len(defaults)} of them default and "
            f"{len(near) or 'none'} near its name: which controller serves the Ingress is a person's choice"
        )
    return _Edit([SetField(target, path, value, current=cls, role="ingress-class")], [Check(target, path, value)], why)


def _ports(svc: Obj) -> list[dict[str, Any]]:
    return [p for p in spec(svc).get("ports") or [] if isinstance(p, dict)]


def _holds(svc: Obj, port: dict[str, Any]) -> bool:
    if port.get("number") is not None:
        return any(p.get("port") == port["number"] for p in _ports(svc))
    if port.get("name"):
        return any(p.get("name") == port["name"] for p in _ports(svc))
    return True


def _port_text(port: dict[str, Any]) -> str:
    return str(port.get("number") if port.get("number") is not None else port.get("name"))


def _live_backend(ctx: Context, target: ObjectRef, path: FieldPath) -> dict[str, Any]:
    """The backend at ``path`` of the Ingress as the cluster runs it ({} when absent)."""
    keys = [k for k in path if isinstance(k, str | int)]
    if len(keys) != len(path):
        return {}
    live = ctx.ev.get_ref(target)
    found = dig(live or {}, *keys)
    return found if isinstance(found, dict) else {}


def _backend(ctx: Context, ing: Obj, target: ObjectRef, path: FieldPath, b: dict[str, Any]) -> _Edit | None:
    ns = target.namespace
    services = _namespaced(ctx, "Service", ns)
    by_name = {str(meta(s).get("name")): s for s in services}
    name = str(b.get("name") or "")
    raw = b.get("port")
    port: dict[str, Any] = raw if isinstance(raw, dict) else {}
    svc = by_name.get(name)
    live = _live_backend(ctx, target, path)
    if svc is None and live.get("port") == raw and str(live.get("name") or "") in by_name:
        # Git names the Service before a name transformation (Kustomize namePrefix/nameSuffix) the cluster
        # shows applied: the reference resolves; judge the port against the Service it resolves to.
        name = str(live["name"])
        svc = by_name[name]
    if svc is None:
        if not services:
            return None  # no Services in the evidence: nothing to judge by
        near = near_names(name, by_name)
        holding = [n for n in near if _holds(by_name[n], port)]
        if len(holding) != 1:
            what = (
                f"no Service near the name {name}"
                if not near
                else f"near-named Service(s) {', '.join(near)} "
                + ("do not hold" if not holding else "all hold")
                + f" port {_port_text(port)}"
            )
            raise _Undecided(
                f"backend Service {name} does not exist and {what}: which Service is meant is a person's choice"
            )
        value = holding[0]
        p = (*path, "name")
        return _Edit(
            [SetField(target, p, value, current=name, role="ingress-service")],
            [Check(target, p, value)],
            f"backend Service {name} does not exist; {value} does, is near that name and serves port {_port_text(port)}",
        )
    if _holds(svc, port):
        return None
    ports = _ports(svc)
    if port.get("number") is not None:
        num = port["number"]
        cands = [p for p in ports if p.get("targetPort") == num and p.get("port") is not None]
        how = f"its port whose targetPort is {num}"
        if not cands and len(ports) == 1 and ports[0].get("port") is not None:
            cands, how = ports, "its only port"
        if len(cands) != 1:
            raise _Undecided(
                f"Service {name} has no port {num} and ports {[p.get('port') for p in ports]}: which one the "
                "Ingress means is a person's choice"
            )
        number = int(cands[0]["port"])
        p = (*path, "port", "number")
        return _Edit(
            [SetField(target, p, number, current=num, role="ingress-port")],
            [Check(target, p, number)],
            f"Service {name} has no port {num}; {how} is {number}",
        )
    pname = str(port.get("name"))
    named = [str(p["name"]) for p in ports if p.get("name")]
    near = near_names(pname, named)
    if len(near) == 1:
        p = (*path, "port", "name")
        return _Edit(
            [SetField(target, p, near[0], current=pname, role="ingress-port")],
            [Check(target, p, near[0])],
            f"Service {name} has no port named {pname}; {near[0]} is near that name",
        )
    if len(ports) == 1 and ports[0].get("port") is not None:
        only = ports[0]
        if only.get("name"):
            p = (*path, "port", "name")
            return _Edit(
                [SetField(target, p, str(only["name"]), current=pname, role="ingress-port")],
                [Check(target, p, str(only["name"]))],
                f"Service {name} has no port named {pname}; its only port is {only['name']}",
            )
        p = (*path, "port", "number")
        return _Edit(
            [
                RemoveField(target, (*path, "port", "name")),
                SetField(target, p, int(only["port"]), role="ingress-port"),
            ],
            [Check(target, (*path, "port", "name"), None), Check(target, p, int(only["port"]))],
            f"Service {name} has no port named {pname}; its only port is {only['port']} (unnamed)",
        )
    raise _Undecided(
        f"Service {name} has no port named {pname} and ports {named or [p.get('port') for p in ports]}: which one "
        "the Ingress means is a person's choice"
    )


def _tls(ctx: Context, ing: Obj, target: ObjectRef, i: int, secret: str) -> _Edit | None:
    ns = target.namespace
    secrets = _namespaced(ctx, "Secret", ns)
    if not secrets and "Secret" not in ctx.ev.kinds():
        return None
    if secret in _names(secrets):
        return None
    issued = [a for a in CERT_MANAGER if a in (meta(ing).get("annotations") or {})]
    if issued:
        raise _Undecided(
            f"TLS Secret {secret} is issued by cert-manager ({issued[0]}); look at its Certificate and "
            "CertificateRequest, not at the Ingress",
            out_of_band=True,
        )
    tls = [s for s in secrets if str(s.get("type") or "") == TLS_TYPE]
    near = near_names(secret, _names(tls))
    if len(near) != 1:
        raise _Undecided(
            f"TLS Secret {secret} does not exist and {'no' if not near else len(near)} Secret(s) of type "
            f"{TLS_TYPE} are near its name: the certificate is issued out of band (cert-manager, the platform's PKI)",
            out_of_band=True,
        )
    p: FieldPath = ("spec", "tls", i, "secretName")
    return _Edit(
        [SetField(target, p, near[0], current=secret, role="ingress-tls")],
        [Check(target, p, near[0])],
        f"TLS Secret {secret} does not exist; {near[0]} (type {TLS_TYPE}) is near that name",
    )


def _backends(ing: Obj) -> list[tuple[FieldPath, dict[str, Any]]]:
    out: list[tuple[FieldPath, dict[str, Any]]] = []
    svc = dig(ing, "spec", "defaultBackend", "service")
    if isinstance(svc, dict):
        out.append((("spec", "defaultBackend", "service"), svc))
    for i, rule in enumerate(spec(ing).get("rules") or []):
        for j, p in enumerate(dig(rule, "http", "paths") or []):
            svc = dig(p, "backend", "service")
            if isinstance(svc, dict):
                out.append((("spec", "rules", i, "http", "paths", j, "backend", "service"), svc))
    return out


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    if f.culprit.kind != "Ingress":
        return Refusal(cat, "the culprit is not an Ingress", KEY)
    ing = ctx.obj(f.culprit)
    if ing is None:
        return Refusal(cat, f"{f.culprit} is not in the evidence", KEY)
    edits: list[_Edit] = []
    out_of_band: list[str] = []
    try:
        found = _class(ctx, ing, f.culprit)
        edits += [found] if found else []
        seen: dict[tuple[str, str], _Edit | None] = {}
        for path, b in _backends(ing):
            key = (str(b.get("name")), repr(b.get("port")))
            if key not in seen:
                seen[key] = _backend(ctx, ing, f.culprit, path, b)
                found = seen[key]
            else:  # the same wrong reference at another path: the same fix there
                prev = seen[key]
                found = prev and _at(prev, path)
            edits += [found] if found else []
        for i, tls in enumerate(spec(ing).get("tls") or []):
            if isinstance(tls, dict) and tls.get("secretName"):
                try:
                    found = _tls(ctx, ing, f.culprit, i, str(tls["secretName"]))
                except _Undecided as e:
                    if not e.out_of_band:
                        raise
                    out_of_band.append(e.reason)
                    continue
                edits += [found] if found else []
    except _Undecided as e:
        return Refusal(cat, f"{f.culprit}: {e.reason}", KEY)
    if not edits:
        reason = "; ".join(out_of_band) or "every reference of the Ingress exists in the evidence"
        return Refusal(cat, f"{f.culprit}: {reason}", "out-of-band" if out_of_band else KEY)
    whys = list(dict.fromkeys(e.why for e in edits))
    return Proposal(
        remedy=KEY,
        reason=f"{f.culprit} names what does not exist: " + "; ".join(whys) + ". With the reference corrected the "
        "ingress controller routes to it.",
        changes=[c for e in edits for c in e.changes],
        checks=[c for e in edits for c in e.checks],
        risk="Traffic for the Ingress's hosts starts reaching the corrected class/backend; if another one was "
        "meant, close this PR.",
        warnings=out_of_band,
    )


def _at(e: _Edit, path: FieldPath) -> _Edit:
    """The same backend edit at another backend path (the fields below ``.service`` are the same)."""

    def move(p: FieldPath) -> FieldPath:
        i = list(p).index("service") if "service" in p else len(p)
        return (*path, *p[i + 1 :])

    changes: list[Change] = []
    for c in e.changes:
        if isinstance(c, SetField):
            changes.append(SetField(c.target, move(c.path), c.value, c.current, c.role))
        elif isinstance(c, RemoveField):
            changes.append(RemoveField(c.target, move(c.path)))
    return _Edit(changes, [Check(c.target, move(c.path), c.value) for c in e.checks], e.why)


REMEDY = Remedy(
    KEY,
    (Category.INGRESS.value,),
    plan,
    "fix an Ingress class, backend Service/port or TLS Secret name that does not exist, near one that does",
)
