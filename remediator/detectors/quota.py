"""quota-exceeded: a ResourceQuota or LimitRange rejects the pods."""

from __future__ import annotations

import re

from remediator.detectors.base import Detector, controller_events, event_line, finding, status_line
from remediator.evidence.relations import conditions, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

QUOTA = re.compile(
    r"exceeded quota: (?P<quota>[\w.-]+)|must specify (?:limits|requests)\.\w+|"
    r"(?:maximum|minimum) (?:\w+ )*usage per (?:Container|Pod) is|LimitRange|"
    r"max(?:imum)? limit to request ratio",
    re.I,
)


def detect(ev: Evidence) -> list[Finding]:
    found: dict[ObjectRef, tuple[Obj, list[EvidenceLine], str | None]] = {}
    for obj, e in controller_events(ev):
        m = QUOTA.search(e.message)
        if e.type == "Normal" or not m:
            continue
        wl = workload_of(ev, obj)
        found.setdefault(wl, (obj, [], m.groupdict().get("quota")))[1].append(event_line(e))
    for kind in ("Deployment", "StatefulSet"):
        for obj in ev.scoped(kind):
            for c in conditions(obj):
                msg = str(c.get("message", ""))
                m = QUOTA.search(msg)
                if c.get("type") == "ReplicaFailure" and m:
                    found.setdefault(ref_of(obj), (obj, [], m.groupdict().get("quota")))[1].append(
                        status_line(obj, "status.conditions[ReplicaFailure]", msg)
                    )
    out = []
    for wl, (obj, lines, quota) in found.items():
        text = lines[0].text
        limit_range = "usage per" in text or "LimitRange" in text or "ratio" in text
        cause = (
            f"ResourceQuota {quota} would be exceeded by the pod's requests"
            if quota
            else "a LimitRange rejects the container resources"
            if limit_range
            else "the namespace quota requires resource limits the pods do not set"
        )
        out.append(
            finding(
                Category.QUOTA_EXCEEDED,
                wl,
                f"{wl} cannot create pods: {cause}",
                confidence=0.9,
                chain=(f"{wl} has fewer replicas than desired", "pod creation is forbidden", cause),
                evidence=lines,
                detector="quota",
                affects={wl, ref_of(obj)},
                details={"quota": quota, "limit_range": limit_range, "message": text},
            )
        )
    return out


DETECTOR = Detector("quota", (Category.QUOTA_EXCEEDED,), detect, "FailedCreate: exceeded quota / LimitRange")
