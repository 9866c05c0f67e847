"""oom-killed: a container is killed for exceeding its memory limit."""

from __future__ import annotations

from remediator.detectors.base import (
    Detector,
    affects,
    container_states,
    finding,
    last_lines,
    pod_container_specs,
    scoped_pods,
    status_line,
)
from remediator.evidence.relations import dig, workload_of
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, Finding


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for pod in scoped_pods(ev):
        for c in container_states(pod):
            for where, term in (("lastState.terminated", c.last_terminated), ("state.terminated", c.terminated)):
                if term.get("reason") != "OOMKilled":
                    continue
                wl = workload_of(ev, pod)
                res = pod_container_specs(pod).get(c.name, {}).get("resources") or {}
                limit = dig(res, "limits", "memory")
                request = dig(res, "requests", "memory")
                out.append(
                    finding(
                        Category.OOM_KILLED,
                        wl,
                        f"container {c.name} of {wl} is OOMKilled (exit {term.get('exitCode', 137)}) "
                        f"with memory limit {limit or 'unset'}; restarted {c.restarts} times",
                        confidence=0.95,
                        chain=(
                            f"{wl} is not available",
                            f"Pod {ref_of(pod).name} restarts ({c.restarts} restarts)",
                            f"container {c.name} OOMKilled, exit code {term.get('exitCode', 137)}",
                            f"memory limit {limit or 'unset'} is below what the process needs",
                        ),
                        evidence=[
                            status_line(
                                pod, c.path(where), f"reason: OOMKilled, exitCode: {term.get('exitCode', 137)}"
                            ),
                            *(
                                [status_line(pod, c.path("state.waiting"), c.waiting_reason)]
                                if c.waiting_reason
                                else []
                            ),
                            *last_lines(ev, pod, c.name, 2),
                        ],
                        detector="oom",
                        affects=affects(ev, pod),
                        details={
                            "container": c.name,
                            "limit": limit,
                            "request": request,
                            "image": pod_container_specs(pod).get(c.name, {}).get("image"),
                            "pod": ref_of(pod).name,
                        },
                    )
                )
                break
    return out


DETECTOR = Detector("oom", (Category.OOM_KILLED,), detect, "containers terminated with OOMKilled")
