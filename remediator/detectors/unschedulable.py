"""unschedulable: a pod cannot be placed (insufficient CPU/memory, taints, node selector or affinity)."""

from __future__ import annotations

import re

from remediator.detectors.base import (
    Detector,
    affects,
    event_line,
    events_of,
    finding,
    scoped_pods,
    status_line,
)
from remediator.evidence.relations import condition, status, workload_of
from remediator.evidence.store import Evidence
from remediator.model import Category, Finding

PVC_MSG = re.compile(r"unbound (?:immediate )?PersistentVolumeClaims|persistentvolumeclaim \"[^\"]+\" not found", re.I)
AVAILABLE = re.compile(r"(\d+)/(\d+) nodes are available:?\s*(.*)", re.S)


def reasons(msg: str) -> tuple[int | None, dict[str, int]]:
    """The scheduler's node count and why nodes were filtered out, from a FailedScheduling message:
    ``0/3 nodes are available: 1 node(s) had untolerated taint {...}, 2 Insufficient cpu. preemption: ...``
    gives ``(3, {"node(s) had untolerated taint {...}": 1, "Insufficient cpu": 2})``."""
    m = AVAILABLE.search(re.split(r"\s*preemption:", msg, maxsplit=1)[0])
    if not m:
        return None, {}
    out: dict[str, int] = {}
    for part in re.split(r",\s*(?=\d+\s)", m.group(3).strip().rstrip(".")):
        pm = re.match(r"(\d+)\s+(.+)", part.strip())
        if pm:
            text = pm.group(2).strip().rstrip(".")
            out[text] = out.get(text, 0) + int(pm.group(1))
    return int(m.group(2)), out


def why(msg: str) -> str:
    reasons = []
    for rx, label in (
        (r"Insufficient (\w[\w./-]*\w)", "not enough {0} on any node"),
        (r"untolerated taint|had taint", "node taints the pod does not tolerate"),
        (r"didn't match (?:Pod's )?node (?:affinity|selector)", "no node matches the pod's node selector/affinity"),
        (r"didn't match pod (?:anti-)?affinity", "pod (anti-)affinity rules"),
        (r"Too many pods", "nodes are full (max pods)"),
        (r"node\(s\) had volume node affinity conflict", "volume node affinity conflict"),
    ):
        m = re.search(rx, msg, re.I)
        if m:
            reasons.append(label.format(*m.groups()))
    return "; ".join(reasons) or msg[:160]


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for pod in scoped_pods(ev):
        if status(pod).get("phase") not in (None, "Pending"):
            continue
        cond = condition(pod, "PodScheduled")
        events = [e for e in events_of(ev, pod) if e.reason == "FailedScheduling"]
        if not events and not (cond and cond.get("status") == "False" and cond.get("reason") == "Unschedulable"):
            continue
        msg = (events[-1].message if events else "") or str((cond or {}).get("message", ""))
        pvc_related = bool(PVC_MSG.search(msg))
        total, filtered = reasons(msg)
        wl = workload_of(ev, pod)
        out.append(
            finding(
                Category.UNSCHEDULABLE,
                wl,
                f"pods of {wl} cannot be scheduled: {why(msg)}",
                confidence=0.6 if pvc_related else 0.85,
                chain=(f"{wl} is not available", f"Pod {pod['metadata']['name']} Pending (Unschedulable)", why(msg)),
                evidence=[
                    *(
                        [
                            status_line(
                                pod,
                                "status.conditions[PodScheduled]",
                                f"{cond.get('reason')}: {cond.get('message', '')}",
                            )
                        ]
                        if cond
                        else []
                    ),
                    *[event_line(e) for e in events[-2:]],
                ],
                detector="unschedulable",
                affects=affects(ev, pod),
                details={
                    "message": msg,
                    "pod": pod["metadata"]["name"],
                    "nodes_total": total,
                    "reasons": filtered,
                },
            )
        )
    return out


DETECTOR = Detector("unschedulable", (Category.UNSCHEDULABLE,), detect, "FailedScheduling / PodScheduled=False")
