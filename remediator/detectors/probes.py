"""probe-failure: liveness or readiness probes fail (wrong path/port, too short initial delay)."""

from __future__ import annotations

import re

from remediator.detectors.base import (
    Detector,
    affects,
    container_states,
    event_line,
    events_of,
    finding,
    pod_container_specs,
    scoped_pods,
)
from remediator.evidence.relations import dig, workload_of
from remediator.evidence.store import Evidence
from remediator.model import Category, Finding

PROBE = re.compile(r"(Liveness|Readiness|Startup) probe (?:failed|errored)", re.I)
CONTAINER = re.compile(r"Container (\S+) failed (liveness|startup) probe", re.I)


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for pod in scoped_pods(ev):
        events = [e for e in events_of(ev, pod) if PROBE.search(e.message) or CONTAINER.search(e.message)]
        if not events:
            continue
        states = list(container_states(pod))
        if states and all(c.ready for c in states) and not any(c.restarts for c in states):
            continue  # probes failed once but the pod is ready now
        m = PROBE.search(" ".join(e.message for e in events))
        kind = m.group(1).lower() if m else "liveness"
        cm = CONTAINER.search(" ".join(e.message for e in events))
        specs = pod_container_specs(pod)
        cname = cm.group(1) if cm else next((c.name for c in states if not c.ready), next(iter(specs), ""))
        probe = (specs.get(cname) or {}).get(f"{kind}Probe") or {}
        target = dig(probe, "httpGet", "port") or dig(probe, "tcpSocket", "port") or dig(probe, "grpc", "port")
        ports = [p.get("containerPort") for p in (specs.get(cname) or {}).get("ports") or [] if isinstance(p, dict)]
        names = [p.get("name") for p in (specs.get(cname) or {}).get("ports") or [] if isinstance(p, dict)]
        wrong_port = target is not None and ports and target not in ports and target not in names
        failed = [e for e in events if PROBE.search(e.message)] or events  # the kubelet's own message
        cause = (
            f"{kind} probe targets port {target}, but the container listens on {ports}"
            if wrong_port
            else f"{kind} probe {dig(probe, 'httpGet', 'path') or ''} fails: {failed[-1].message[:140]}"
        )
        wl = workload_of(ev, pod)
        out.append(
            finding(
                Category.PROBE_FAILURE,
                wl,
                f"{wl.name}: {cause}",
                confidence=0.88 if wrong_port else 0.75,
                chain=(
                    f"{wl} is not available",
                    f"container {cname} {'restarted' if kind != 'readiness' else 'not ready'}",
                    cause,
                ),
                evidence=[event_line(e) for e in events[-3:]],
                detector="probes",
                affects=affects(ev, pod),
                details={
                    "container": cname,
                    "probe": kind,
                    "port": target,
                    "initialDelaySeconds": probe.get("initialDelaySeconds"),
                    "port_mismatch": bool(wrong_port),
                    "message": failed[-1].message[:200],
                },
            )
        )
    return out


DETECTOR = Detector("probes", (Category.PROBE_FAILURE,), detect, "Unhealthy events: liveness/readiness probe failed")
