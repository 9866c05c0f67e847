"""storage-full: a volume or ephemeral storage is full (no space left on device, emptyDir sizeLimit eviction)."""

from __future__ import annotations

import re

from remediator.detectors.base import (
    Detector,
    LogHit,
    affects,
    event_line,
    events_of,
    finding,
    log_line,
    pod_container_specs,
    scan_logs,
    scoped_pods,
    status_line,
)
from remediator.detectors.signatures import LOG_SIGNATURES
from remediator.evidence.metrics import VOLUME_AVAILABLE, VOLUME_CAPACITY, VOLUME_USED, prometheus_series
from remediator.evidence.relations import dig, spec, status, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef
from remediator.quantity import to_bytes

EVICTED = re.compile(
    r"ephemeral local storage usage exceeds|Usage of EmptyDir volume \"[^\"]+\" exceeds|"
    r"exceeded its local ephemeral storage limit|"
    r"low on resource: ephemeral-storage|was using \S+, which exceeds its request",
    re.I,
)
PATH = re.compile(r"(/[\w.@-]+(?:/[\w.@-]+)*)")
# The kubelet's node-pressure eviction (pkg/kubelet/eviction/helpers.go): "The node was low on resource:
# ephemeral-storage. Threshold quantity: 10Gi, available: 1.2Gi. Container x was using 9Gi, request is 0, has
# larger consumption of ephemeral-storage." The pod named there is among the node's top consumers.
NODE_LOW = re.compile(r"The node was low on resource: ephemeral-storage", re.I)
CONSUMER = re.compile(
    r"(?P<what>Container|Pod) (?P<name>\S+) was using (?P<usage>[0-9][\w.]*), request is (?P<request>[0-9][\w.]*), "
    r"has larger consumption of ephemeral-storage",
    re.I,
)


def eviction_message(ev: Evidence, pod: Obj) -> str:
    """The kubelet's eviction message of ``pod`` (its status, else its newest Evicted event)."""
    if status(pod).get("reason") == "Evicted" and status(pod).get("message"):
        return str(status(pod).get("message"))
    events = [e for e in events_of(ev, pod) if e.reason == "Evicted"]
    return events[-1].message if events else ""


def node_pressure_usage(ev: Evidence, pod: Obj) -> tuple[str, str, str] | None:
    """(container, usage, request) when the node evicted ``pod`` for low ephemeral-storage and named one of
    its containers (or the pod) as a consumer above its request."""
    msg = eviction_message(ev, pod)
    if not NODE_LOW.search(msg):
        return None
    names = set(pod_container_specs(pod))
    for m in CONSUMER.finditer(msg):
        if m.group("what").lower() == "pod" or m.group("name") in names:
            return m.group("name"), m.group("usage"), m.group("request")
    return None


def _bytes(q: str) -> int:
    try:
        return to_bytes(q)
    except ValueError:
        return 0


def app_caused_pressure(ev: Evidence, pod: Obj) -> tuple[str, str, str] | None:
    """The consumer of ``pod`` when the app's own pod is the node's top consumer of ephemeral storage:
    evicted for node pressure with its usage named, and no pod of another workload on the same node
    evicted for it with a larger usage."""
    own = node_pressure_usage(ev, pod)
    node = spec(pod).get("nodeName")
    if own is None or not node:
        return None
    wl = workload_of(ev, pod)
    for other in ev.all("Pod"):
        if spec(other).get("nodeName") != node or workload_of(ev, other) == wl:
            continue
        theirs = node_pressure_usage(ev, other)
        if theirs is not None and _bytes(theirs[1]) > _bytes(own[1]):
            return None
    return own


FULL = 0.9  # share of a volume used (kubelet volume stats) that counts as full


def volume_usage(ev: Evidence, namespace: str, claim: str) -> tuple[float, str] | None:
    """The largest used share of a PVC in the Prometheus answers on kubelet volume stats (used / capacity,
    1 - available / capacity, or used and capacity asked separately), with the query and value cited."""
    mine = [
        s
        for s in prometheus_series(ev)
        if s.uses(VOLUME_USED, VOLUME_AVAILABLE, VOLUME_CAPACITY)
        and s.label("persistentvolumeclaim") == claim
        and s.label("namespace") in ("", namespace)
    ]
    caps = [s for s in mine if s.metrics == {VOLUME_CAPACITY}]
    best: tuple[float, str] | None = None
    for s in mine:
        v = max(s.values)
        share: float | None = None
        if s.uses(VOLUME_CAPACITY) and s.uses(VOLUME_USED):
            share = v / 100 if v > 1 else v
        elif s.uses(VOLUME_CAPACITY) and s.uses(VOLUME_AVAILABLE):
            freed = re.match(r"\s*\(?\s*1\s*-", s.query) is None
            share = 1 - min(s.values) if freed else v
        elif s.metrics == {VOLUME_USED} and caps and max(caps[0].values) > 0:
            share = v / max(caps[0].values)
        if share is not None and (best is None or share > best[0]):
            best = (share, s.cite(f"{share:.1%} used"))
    return best


def _metric_findings(ev: Evidence, done: set[ObjectRef]) -> list[Finding]:
    """A PVC of a scoped pod whose kubelet volume stats show it (nearly) full, when no log or event did."""
    out = []
    for pod in scoped_pods(ev):
        ns = ref_of(pod).namespace
        for v in spec(pod).get("volumes") or []:
            claim = dig(v, "persistentVolumeClaim", "claimName") if isinstance(v, dict) else None
            ref = ObjectRef("PersistentVolumeClaim", ns, str(claim)) if claim else None
            if ref is None or ref in done:
                continue
            used = volume_usage(ev, ns, str(claim))
            if used is None or used[0] < FULL:
                continue
            done.add(ref)
            wl = workload_of(ev, pod)
            out.append(
                finding(
                    Category.STORAGE_FULL,
                    ref,
                    f"{wl}: volume {claim} is {used[0]:.0%} full",
                    confidence=0.8,
                    chain=(f"{wl} will fail to write", f"volume {claim} is {used[0]:.0%} full"),
                    evidence=[EvidenceLine("metrics", used[1])],
                    detector="storage_full",
                    affects=affects(ev, pod) | {ref},
                    details={"claim": ref.as_dict(), "usage": f"{used[0]:.1%}", "pod": ref_of(pod).name},
                )
            )
    return out


def volume_for(pod: Obj, container: str, text: str) -> ObjectRef | None:
    c = pod_container_specs(pod).get(container, {})
    vols = {v.get("name"): v for v in spec(pod).get("volumes") or [] if isinstance(v, dict)}
    best = None
    for path in PATH.findall(text):
        for mnt in c.get("volumeMounts") or []:
            mp = str(mnt.get("mountPath", "")).rstrip("/")
            if mp and (path == mp or path.startswith(mp + "/")) and (best is None or len(mp) > best[0]):
                claim = dig(vols.get(mnt.get("name")) or {}, "persistentVolumeClaim", "claimName")
                best = (len(mp), claim)
    if best and best[1]:
        return ObjectRef("PersistentVolumeClaim", ref_of(pod).namespace, str(best[1]))
    return None


def detect(ev: Evidence) -> list[Finding]:
    hits = scan_logs(ev, LOG_SIGNATURES, "core")["disk"]
    by_pod: dict[tuple[str, str], list[LogHit]] = {}
    for h in hits:
        by_pod.setdefault((h.log.namespace, h.log.pod), []).append(h)
    out = []
    for pod in scoped_pods(ev):
        ref = ref_of(pod)
        phits = by_pod.get((ref.namespace, ref.name), [])
        lines: list[EvidenceLine] = [log_line(h.log, h.lineno, h.line) for h in phits[-3:]]
        msg = str(status(pod).get("message") or "")
        evicted = ""
        if status(pod).get("reason") == "Evicted" and EVICTED.search(msg):
            lines.insert(0, status_line(pod, "status.message", f"Evicted: {msg}"))
            evicted = msg
        events = [e for e in events_of(ev, pod) if e.reason == "Evicted" and EVICTED.search(e.message)][-1:]
        lines += [event_line(e) for e in events]
        evicted = evicted or (events[0].message if events else "")
        if not lines:
            continue
        wl = workload_of(ev, pod)
        claim = next((c for h in phits if (c := volume_for(pod, h.log.container, h.line))), None)
        used = volume_usage(ev, claim.namespace, claim.name) if claim else None
        if used is not None:
            lines.append(EvidenceLine("metrics", used[1]))
        consumer = None if claim else app_caused_pressure(ev, pod)
        cause = (
            f"volume {claim.name} is full"
            if claim
            else f"container {consumer[0]} wrote {consumer[1]} to the node's disk (request {consumer[2]}) and put "
            f"node {spec(pod).get('nodeName')} under disk pressure"
            if consumer
            else "ephemeral storage / emptyDir exceeds its limit"
            if not phits
            else "the container's filesystem is full"
        )
        out.append(
            finding(
                Category.STORAGE_FULL,
                claim or wl,
                f"{wl}: {cause} (no space left on device)" if phits else f"{wl}: {cause}",
                confidence=0.92 if consumer else 0.88,
                chain=(
                    f"{wl} fails or is evicted",
                    "writes fail: no space left on device" if phits else "pod evicted",
                    cause,
                ),
                evidence=lines,
                detector="storage_full",
                affects=affects(ev, pod) | ({claim} if claim else set()),
                details={
                    "claim": claim.as_dict() if claim else None,
                    "message": lines[0].text[:200],
                    "evicted": evicted[:1000],
                    "pod": ref.name,
                    "usage": f"{used[0]:.1%}" if used else None,
                    **(
                        {"node_pressure": True, "container": consumer[0], "usage": consumer[1], "request": consumer[2]}
                        if consumer
                        else {}
                    ),
                },
            )
        )
    claims = {f.culprit for f in out if f.culprit.kind == "PersistentVolumeClaim"}
    return out + _metric_findings(ev, claims)


DETECTOR = Detector(
    "storage_full", (Category.STORAGE_FULL,), detect, "no space left on device / ephemeral-storage eviction"
)
