"""security-context: the pod's security settings and the image or namespace policy conflict."""

from __future__ import annotations

import json
import re
from typing import Any

from remediator.detectors.app_messages import sync_messages
from remediator.detectors.base import (
    Detector,
    affects,
    container_states,
    controller_events,
    event_line,
    finding,
    scoped_pods,
    status_line,
)
from remediator.evidence.relations import workload_of
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

SECURITY = re.compile(
    r"runAsNonRoot and image will run as root|image has non-numeric user|violates PodSecurity|"
    r"unable to validate against any (?:security context constraint|pod security policy)|"
    r"container's runAsUser breaks non-root policy",
    re.I,
)


PSA = re.compile(r'violates PodSecurity "(?P<level>[^"]+)": (?P<body>.+)', re.S)
# one violation as Pod Security admission prints it: `reason (detail)`, joined with ", "
VIOLATION = re.compile(r"\s*(?P<reason>[^(),][^()]*?) \((?P<detail>[^()]*)\)(?:,|$)")
SUBJECT = re.compile(
    r'^(?P<scope>pod or containers?|containers?|pod|volumes?)\s*(?P<names>"[^"]*"(?:, "[^"]*")*)?\s+(?P<rest>.+)$'
)
MUST_SET = re.compile(r"^must set securityContext\.(?P<field>[A-Za-z.]+)(?:=(?P<value>\S+)| to (?P<to>.+))$")
KUBELET = re.compile(
    r"(?P<problem>image will run as root|image has non-numeric user \((?P<user>[^)]*)\)|"
    r"runAsUser breaks non-root policy).*?container: (?P<container>[^\s)]+)\)",
    re.S,
)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pod_security(message: str) -> dict[str, Any] | None:
    """A Pod Security admission rejection (``violates PodSecurity "restricted:latest": ...``) as its level and
    violations: each with its reason, detail and requirements (who: pod / containers / pod or containers,
    the container names, and for ``must set securityContext.X=V`` the field and the value)."""
    m = PSA.search(message)
    if not m:
        return None
    violations: list[dict[str, Any]] = []
    body = re.sub(r"\s*\(x\d+\)$", "", m.group("body").strip())  # an event line's repeat count
    for v in VIOLATION.finditer(body):
        reqs: list[dict[str, Any]] = []
        for clause in v.group("detail").split("; "):
            req: dict[str, Any] = {"text": clause.strip()}
            sm = SUBJECT.match(clause.strip())
            if sm:
                scope = sm.group("scope")
                req["scope"] = "pod or container" if scope.startswith("pod or") else scope.rstrip("s")
                req["names"] = re.findall(r'"([^"]*)"', sm.group("names") or "")
                ms = MUST_SET.match(sm.group("rest").strip())
                if ms:
                    req["field"] = ms.group("field")
                    req["value"] = (
                        _value(ms.group("value")) if ms.group("value") else re.findall(r'"([^"]*)"', ms.group("to"))
                    )
            reqs.append(req)
        violations.append({"reason": v.group("reason").strip(), "detail": v.group("detail"), "requirements": reqs})
    return {"level": m.group("level"), "violations": violations}


def parse_non_root(message: str, container: str = "") -> dict[str, Any] | None:
    """The kubelet's runAsNonRoot refusal: the container, and whether the image runs as root, has a non-numeric
    user (and which), or the pod sets runAsUser 0."""
    m = KUBELET.search(message)
    if not m:
        return None
    p = m.group("problem")
    problem = "root" if "will run as root" in p else "non-numeric" if "non-numeric" in p else "run-as-user-0"
    return {"container": m.group("container") or container, "problem": problem, "user": m.group("user") or ""}


def detect(ev: Evidence) -> list[Finding]:
    found: dict[ObjectRef, tuple[list[EvidenceLine], set[ObjectRef]]] = {}
    for pod in scoped_pods(ev):
        for c in container_states(pod):
            if SECURITY.search(c.waiting_message):
                wl = workload_of(ev, pod)
                entry = found.setdefault(wl, ([], set()))
                entry[0].append(status_line(pod, c.path("state.waiting"), f"{c.waiting_reason}: {c.waiting_message}"))
                entry[1].update(affects(ev, pod))
    for obj, e in controller_events(ev):
        if e.type != "Normal" and SECURITY.search(e.message):
            wl = workload_of(ev, obj)
            entry = found.setdefault(wl, ([], set()))
            entry[0].append(event_line(e))
            entry[1].update({wl, ref_of(obj)})
    for msg in sync_messages(ev):
        if SECURITY.search(msg.text):
            ref = msg.resource or ref_of(msg.app)
            entry = found.setdefault(ref, ([], set()))
            entry[0].append(msg.line)
            entry[1].add(ref)
    out = []
    for wl, (lines, touched) in found.items():
        text = " ".join(ln.text for ln in lines)
        if "PodSecurity" in text:
            m = re.search(r'violates PodSecurity "([^"]+)": ([^\n]+)', text)
            cause = f"the namespace's Pod Security level {m.group(1) if m else ''} forbids: {m.group(2)[:160] if m else 'the pod settings'}"
        elif "runAsNonRoot" in text or "non-numeric user" in text:
            cause = "runAsNonRoot is set but the image runs as root (or a non-numeric user)"
        else:
            cause = "the security policy rejects the pod's security context"
        details: dict[str, Any] = {"message": text[:300]}
        for ln in lines:
            psa = parse_pod_security(ln.text)
            if psa:
                details["pod_security"] = psa
                break
        for ln in lines:
            nr = parse_non_root(ln.text)
            if nr:
                details["non_root"] = nr
                break
        out.append(
            finding(
                Category.SECURITY_CONTEXT,
                wl,
                f"{wl}: {cause}",
                confidence=0.92,
                chain=(f"{wl} is not available", "pods are rejected or cannot start", cause),
                evidence=lines,
                detector="security_context",
                affects=touched,
                details=details,
            )
        )
    return out


DETECTOR = Detector("security_context", (Category.SECURITY_CONTEXT,), detect, "runAsNonRoot / PodSecurity violations")
