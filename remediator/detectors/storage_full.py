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
from remediator.evidence.relations import dig, spec, status, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

EVICTED = re.compile(
    r"ephemeral local storage usage exceeds|Usage of EmptyDir volume \"[^\"]+\" exceeds|"
    r"exceeded its local ephemeral storage limit|"
    r"low on resource: ephemeral-storage|was using \S+, which exceeds its request",
    re.I,
)
PATH = re.compile(r"(/[\w.@-]+(?:/[\w.@-]+)*)")


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
        cause = (
            f"volume {claim.name} is full"
            if claim
            else "ephemeral storage / emptyDir exceeds its limit"
            if not phits
            else "the container's filesystem is full"
        )
        out.append(
            finding(
                Category.STORAGE_FULL,
                claim or wl,
                f"{wl}: {cause} (no space left on device)" if phits else f"{wl}: {cause}",
                confidence=0.88,
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
                },
            )
        )
    return out


DETECTOR = Detector(
    "storage_full", (Category.STORAGE_FULL,), detect, "no space left on device / ephemeral-storage eviction"
)
