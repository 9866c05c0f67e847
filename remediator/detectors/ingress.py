"""ingress: an Ingress cannot route (missing IngressClass, backend Service or port, or TLS Secret)."""

from __future__ import annotations

from remediator.detectors.base import Detector, event_line, events_of, finding, spec_line
from remediator.evidence.relations import dig, meta, spec
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding

LEGACY_CLASS = "kubernetes.io/ingress.class"


def class_ref(ing: Obj) -> tuple[str, str]:
    """The IngressClass an Ingress names and where: ``spec.ingressClassName``, else the legacy
    ``kubernetes.io/ingress.class`` annotation (("", "") when neither)."""
    cls = spec(ing).get("ingressClassName")
    if cls:
        return str(cls), "spec.ingressClassName"
    legacy = (meta(ing).get("annotations") or {}).get(LEGACY_CLASS)
    if legacy:
        return str(legacy), f"metadata.annotations.{LEGACY_CLASS}"
    return "", ""


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for ing in ev.scoped("Ingress"):
        ref = ref_of(ing)
        problems: list[EvidenceLine] = []
        cls, where = class_ref(ing)
        if cls and "IngressClass" in ev.kinds() and not ev.exists("IngressClass", "", cls):
            problems.append(spec_line(ing, where, f"IngressClass {cls} does not exist"))
        backends = []
        if dig(ing, "spec", "defaultBackend", "service"):
            backends.append(("spec.defaultBackend", ing["spec"]["defaultBackend"]["service"]))
        for i, rule in enumerate(spec(ing).get("rules") or []):
            for j, p in enumerate(dig(rule, "http", "paths") or []):
                svc = dig(p, "backend", "service")
                if isinstance(svc, dict):
                    backends.append((f"spec.rules[{i}].http.paths[{j}].backend.service", svc))
        for path, b in backends:
            svc = ev.get("Service", ref.namespace, str(b.get("name")))
            if svc is None:
                if "Service" in ev.kinds():
                    problems.append(spec_line(ing, path, f"backend Service {b.get('name')} does not exist"))
                continue
            port = b.get("port") or {}
            ports = spec(svc).get("ports") or []
            if port.get("number") and not any(p.get("port") == port["number"] for p in ports):
                problems.append(spec_line(ing, path, f"Service {b.get('name')} has no port {port['number']}"))
            if port.get("name") and not any(p.get("name") == port["name"] for p in ports):
                problems.append(spec_line(ing, path, f"Service {b.get('name')} has no port named {port['name']}"))
        for i, tls in enumerate(spec(ing).get("tls") or []):
            sec = tls.get("secretName") if isinstance(tls, dict) else None
            if sec and "Secret" in ev.kinds() and not ev.exists("Secret", ref.namespace, str(sec)):
                problems.append(spec_line(ing, f"spec.tls[{i}].secretName", f"TLS Secret {sec} does not exist"))
        warns = [event_line(e) for e in events_of(ev, ing) if e.type != "Normal"]
        if not problems:
            continue
        out.append(
            finding(
                Category.INGRESS,
                ref,
                f"{ref} cannot route: {problems[0].text}",
                confidence=0.85,
                chain=("requests to the app fail (404/503)", f"Ingress {ref.name} cannot route", problems[0].text),
                evidence=problems + warns[-2:],
                detector="ingress",
                affects={ref},
                details={"problems": [p.text for p in problems]},
            )
        )
    return out


DETECTOR = Detector("ingress", (Category.INGRESS,), detect, "Ingress with missing class, backend or TLS Secret")
