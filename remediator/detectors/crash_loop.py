"""crash-loop: a container keeps exiting and nothing more specific explains why."""

from __future__ import annotations

from remediator.detectors.base import (
    Detector,
    affects,
    container_states,
    event_line,
    events_of,
    finding,
    is_crashing,
    last_lines,
    scoped_pods,
    status_line,
)
from remediator.evidence.relations import spec, workload_of
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, Finding


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for pod in scoped_pods(ev):
        if spec(pod).get("restartPolicy", "Always") != "Always":
            continue
        for c in container_states(pod):
            if not is_crashing(c) or "OOMKilled" in (c.last_terminated.get("reason"), c.terminated.get("reason")):
                continue
            wl = workload_of(ev, pod)
            term = c.last_terminated or c.terminated
            code = term.get("exitCode")
            backoff = [e for e in events_of(ev, pod) if e.reason == "BackOff"]
            out.append(
                finding(
                    Category.CRASH_LOOP,
                    wl,
                    f"container {c.name} of {wl} keeps exiting (exit code {code}, {c.restarts} restarts)",
                    confidence=0.6 if c.restarts >= 2 or c.waiting_reason == "CrashLoopBackOff" else 0.45,
                    chain=(
                        f"{wl} is not available",
                        f"Pod {ref_of(pod).name} {c.waiting_reason or 'restarting'}",
                        f"container {c.name} exits with code {code}",
                    ),
                    evidence=[
                        status_line(
                            pod, c.path("lastState.terminated"), f"exitCode: {code}, reason: {term.get('reason', '')}"
                        ),
                        *[event_line(e) for e in backoff[:1]],
                        *last_lines(ev, pod, c.name, 3),
                    ],
                    detector="crash_loop",
                    affects=affects(ev, pod),
                    details={"container": c.name, "exit_code": code},
                )
            )
    return out


DETECTOR = Detector("crash_loop", (Category.CRASH_LOOP,), detect, "containers in CrashLoopBackOff")
