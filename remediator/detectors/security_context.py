"""security-context: the pod's security settings and the image or namespace policy conflict."""

from __future__ import annotations

import re

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
                details={"message": text[:300]},
            )
        )
    return out


DETECTOR = Detector("security_context", (Category.SECURITY_CONTEXT,), detect, "runAsNonRoot / PodSecurity violations")
