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
from remediator.evidence.nearest import near_names
from remediator.evidence.references import near_object, object_keys, sites
from remediator.evidence.relations import dig, workload_of
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
        near, near_key, culprit = wrong_reference(ev, ref, key, pods)
        summary = f"{what} does not exist; {len(pods)} pod(s) of {', '.join(w.name for w in wls)} cannot start"
        if near:
            culprit = wls[0]
            summary += f"; {ref.kind} {near} exists with what they reference: the reference is mistyped"
        elif near_key:
            culprit = wls[0]
            summary += f"; {ref} has the key {near_key!r}: the reference is mistyped"
        out.append(
            finding(
                category,
                culprit,
                summary,
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
                details={
                    "key": key,
                    "ref": ref.as_dict(),
                    "near": near,
                    "near_key": near_key,
                    "workloads": [w.as_dict() for w in wls],
                },
            )
        )
    return out


def wrong_reference(
    ev: Evidence, ref: ObjectRef, key: str | None, pods: list[Obj]
) -> tuple[str | None, str | None, ObjectRef]:
    """Is the reference wrong rather than the object missing? (the culprit rule): the one existing
    object of that kind with a near name that holds the keys the pods read, or the one key of the
    existing object near the missing key. The culprit stays ``ref`` unless one of them is found."""
    if key is None:
        keys = {
            s.key
            for p in pods
            for s in sites(dig(p, "spec") or {})
            if s.kind == ref.kind and s.name == ref.name and s.key
        }
        near = near_object(ev, ref, keys)
        return (near[0] if len(near) == 1 else None), None, ref
    have = object_keys(ev, ref.kind, ref.namespace, ref.name)
    close = near_names(key, have or set())
    return None, (close[0] if len(close) == 1 else None), ref


DETECTOR = Detector(
    "missing_ref", (Category.MISSING_SECRET, Category.MISSING_CONFIGMAP), detect, "Secret/ConfigMap not found"
)
