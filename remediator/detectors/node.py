"""node-not-ready: a node is NotReady or under memory/disk/PID pressure."""

from __future__ import annotations

from remediator.detectors.base import (
    Detector,
    container_states,
    event_line,
    events_of,
    finding,
    status_line,
    unhealthy,
)
from remediator.detectors.storage_full import app_caused_pressure
from remediator.evidence.health import BAD_WAITING
from remediator.evidence.relations import conditions, spec, status, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, Finding, ObjectRef

PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def node_problems(node: Obj) -> list[tuple[str, str]]:
    out = []
    for c in conditions(node):
        t, s = c.get("type"), c.get("status")
        if t == "Ready" and s != "True":
            out.append(
                ("NotReady" if s == "False" else "NotReady (Unknown)", str(c.get("message") or c.get("reason") or ""))
            )
        elif t in PRESSURE and s == "True":
            out.append((str(t), str(c.get("message") or c.get("reason") or "")))
    return out


def node_victim(pod: Obj) -> bool:
    """A pod whose trouble a node explains: not ready/unknown/evicted without a container-level cause."""
    if status(pod).get("reason") == "Evicted":
        return True
    if any(c.waiting_reason in BAD_WAITING or c.restarts > 2 for c in container_states(pod)):
        return False
    return unhealthy(pod) or bool(pod.get("metadata", {}).get("deletionTimestamp"))


def detect(ev: Evidence) -> list[Finding]:
    out = []
    nodes = ev.scoped("Node") if ev.focus is not None else ev.all("Node")
    for node in nodes:
        problems = node_problems(node)
        if not problems:
            continue
        ref = ref_of(node)
        pods = [p for p in ev.scoped("Pod") if spec(p).get("nodeName") == ref.name]
        # The app's own pods evicted as the node's top consumers of ephemeral storage caused the disk
        # pressure: the workload is the culprit (storage-full), not the node; they are not its victims.
        offenders = [p for p in pods if "DiskPressure" in dict(problems) and app_caused_pressure(ev, p)]
        victims = [p for p in pods if node_victim(p) and p not in offenders]
        touched: set[ObjectRef] = {ref}
        for p in victims:
            touched |= {ref_of(p), workload_of(ev, p)}
        what = ", ".join(p for p, _ in problems)
        conf = 0.9 if victims else (0.4 if offenders else 0.55 if pods else 0.4)
        out.append(
            finding(
                Category.NODE_NOT_READY,
                ref,
                f"node {ref.name} is {what}"
                + (f"; {len(victims)} pod(s) of the app are affected" if victims else "")
                + ("; the app's own pods are its top consumers of ephemeral storage" if offenders else ""),
                confidence=conf,
                chain=(
                    *(f"{w} is not available" for w in sorted({workload_of(ev, p) for p in victims})[:2]),
                    *([f"{len(victims)} pod(s) on {ref.name} not ready or evicted"] if victims else []),
                    f"Node {ref.name} {what}",
                    problems[0][1][:160],
                ),
                evidence=[
                    *[status_line(node, f"status.conditions[{p}]", m) for p, m in problems[:3]],
                    *[event_line(e) for e in events_of(ev, node) if e.type != "Normal"][-2:],
                ],
                detector="node",
                affects=touched,
                details={"problems": [p for p, _ in problems]},
            )
        )
    return out


DETECTOR = Detector("node", (Category.NODE_NOT_READY,), detect, "Node NotReady or under pressure")
