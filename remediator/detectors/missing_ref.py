"""missing-secret / missing-configmap: a referenced Secret or ConfigMap, or a key in it, does not exist."""

from __future__ import annotations

import re

from remediator.detectors.base import (
    Detector,
    affects,
    container_states,
    event_line,
    events_of,
    finding,
    scoped_pods,
    status_line,
)
from remediator.evidence.relations import workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

NOT_FOUND = re.compile(r'\b(?P<kind>secrets?|configmaps?)(?:\.v1)? "(?P<name>[^"]+)" not found', re.I)
NO_KEY = re.compile(
    r"couldn't find key (?P<key>\S+) in (?P<kind>Secret|ConfigMap) (?:(?P<ns>[^/\s]+)/)?(?P<name>[^\s,;]+)", re.I
)


def parse(text: str, namespace: str) -> tuple[ObjectRef, str | None] | None:
    m = NO_KEY.search(text)
    if m:
        kind = "Secret" if m.group("kind").lower().startswith("secret") else "ConfigMap"
        return ObjectRef(kind, m.group("ns") or namespace, m.group("name")), m.group("key")
    m = NOT_FOUND.search(text)
    if m:
        kind = "Secret" if m.group("kind").lower().startswith("secret") else "ConfigMap"
        return ObjectRef(kind, namespace, m.group("name")), None
    return None


def detect(ev: Evidence) -> list[Finding]:
    found: dict[ObjectRef, tuple[str | None, list[EvidenceLine], set[ObjectRef], list[Obj]]] = {}
    for pod in scoped_pods(ev):
        ns = ref_of(pod).namespace
        lines: list[tuple[str, EvidenceLine]] = []
        for c in container_states(pod):
            if c.waiting_message:
                lines.append(
                    (
                        c.waiting_message,
                        status_line(pod, c.path("state.waiting"), f"{c.waiting_reason}: {c.waiting_message}"),
                    )
                )
        pod_running = all(c.ready for c in container_states(pod)) and bool(list(container_states(pod)))
        for e in events_of(ev, pod):
            if e.type != "Normal" and not pod_running:
                lines.append((e.message, event_line(e)))
        for text, line in lines:
            parsed = parse(text, ns)
            if parsed is None:
                continue
            ref, key = parsed
            entry = found.setdefault(ref, (key, [], set(), []))
            entry[1].append(line)
            entry[2].update(affects(ev, pod))
            if pod not in entry[3]:
                entry[3].append(pod)
    out = []
    for ref, (key, ev_lines, touched, pods) in found.items():
        exists = ev.get_ref(ref) is not None
        if exists and key is None:
            # The object is there now: the event is stale.
            continue
        category = Category.MISSING_SECRET if ref.kind == "Secret" else Category.MISSING_CONFIGMAP
        what = f"key {key!r} of {ref}" if key else str(ref)
        wls = sorted({workload_of(ev, p) for p in pods})
        out.append(
            finding(
                category,
                ref,
                f"{what} does not exist; {len(pods)} pod(s) of {', '.join(w.name for w in wls)} cannot start",
                confidence=0.9,
                chain=(
                    *(f"{w} is not available" for w in wls[:2]),
                    "Pod CreateContainerConfigError"
                    if any("CreateContainerConfigError" in ln.text for ln in ev_lines)
                    else "Pod cannot start",
                    f"{what} not found",
                ),
                evidence=ev_lines,
                detector="missing_ref",
                affects=touched,
                details={"key": key, "workloads": [w.as_dict() for w in wls]},
            )
        )
    return out


DETECTOR = Detector(
    "missing_ref", (Category.MISSING_SECRET, Category.MISSING_CONFIGMAP), detect, "Secret/ConfigMap not found"
)
