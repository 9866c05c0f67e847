"""container-start-error: the runtime cannot start the container process (executable, exec format, args)."""

from __future__ import annotations

import re

from remediator.detectors.base import (
    Detector,
    affects,
    container_states,
    finding,
    log_line,
    pod_container_specs,
    scan_logs,
    scoped_pods,
    status_line,
)
from remediator.detectors.signatures import LOG_SIGNATURES
from remediator.evidence.relations import workload_of
from remediator.evidence.store import Evidence
from remediator.model import Category, EvidenceLine, Finding

START_REASONS = {"StartError", "RunContainerError", "CreateContainerError", "ContainerCannotRun"}
START_MSG = re.compile(
    r"executable file not found|no such file or directory|exec format error|permission denied|"
    r"OCI runtime (?:create|exec) failed|error during container init",
    re.I,
)

# runc / containerd / Docker: exec: "pyhton": executable file not found in $PATH
NOT_FOUND = re.compile(r'exec: \\?"([^"\\]+)\\?": executable file not found in \$PATH')


def why(text: str) -> str:
    t = text.lower()
    if "exec format error" in t:
        return "the image is built for another CPU architecture (exec format error)"
    if "executable file not found" in t or "no such file or directory" in t:
        return "the command does not exist in the image"
    if "permission denied" in t:
        return "the command is not executable"
    return "the runtime cannot start the process"


def detect(ev: Evidence) -> list[Finding]:
    hits = scan_logs(ev, LOG_SIGNATURES, "core")["exec"]
    by_container: dict[tuple[str, str, str], list[EvidenceLine]] = {}
    for h in hits:
        by_container.setdefault((h.log.namespace, h.log.pod, h.log.container), []).append(
            log_line(h.log, h.lineno, h.line)
        )
    out = []
    for pod in scoped_pods(ev):
        ns, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
        for c in container_states(pod):
            lines: list[EvidenceLine] = []
            for where, st in (("state.terminated", c.terminated), ("lastState.terminated", c.last_terminated)):
                msg = str(st.get("message") or "")
                if st.get("reason") in START_REASONS or (
                    START_MSG.search(msg) and st.get("exitCode") in (126, 127, 128)
                ):
                    lines.append(status_line(pod, c.path(where), f"{st.get('reason')}: {msg}".strip()))
                elif st.get("exitCode") in (126, 127):
                    lines.append(status_line(pod, c.path(where), f"exitCode {st.get('exitCode')}"))
            if c.waiting_reason in START_REASONS and START_MSG.search(c.waiting_message):
                lines.append(status_line(pod, c.path("state.waiting"), f"{c.waiting_reason}: {c.waiting_message}"))
            logs = by_container.get((ns, name, c.name), [])
            if not lines and not (logs and (c.restarts or c.terminated)):
                continue
            lines += logs[-2:]
            cause = why(" ".join(ln.text for ln in lines))
            wl = workload_of(ev, pod)
            spec_c = pod_container_specs(pod).get(c.name, {})
            out.append(
                finding(
                    Category.CONTAINER_START_ERROR,
                    wl,
                    f"container {c.name} of {wl} cannot start: {cause}",
                    confidence=0.9,
                    chain=(f"{wl} is not available", f"container {c.name} fails to start", cause),
                    evidence=lines,
                    detector="container_start",
                    affects=affects(ev, pod),
                    details={
                        "container": c.name,
                        "image": spec_c.get("image"),
                        "command": spec_c.get("command"),
                        "args": spec_c.get("args"),
                        "missing_executable": next(
                            (m.group(1) for ln in lines for m in [NOT_FOUND.search(ln.text)] if m), None
                        ),
                    },
                )
            )
    return out


DETECTOR = Detector(
    "container_start",
    (Category.CONTAINER_START_ERROR,),
    detect,
    "StartError / exec format error / executable not found",
)
