"""config-error: the app exits because its own configuration (file, flag, env) is invalid."""

from __future__ import annotations

import re

from remediator.detectors.base import (
    Detector,
    LogHit,
    affects,
    container_states,
    finding,
    is_crashing,
    log_line,
    pod_container_specs,
    scan_logs,
    status_line,
)
from remediator.detectors.signatures import LOG_SIGNATURES
from remediator.evidence.relations import dig, spec, status, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, Finding, ObjectRef

PATH_RE = re.compile(r"(/[\w.@-]+(?:/[\w.@-]+)*)")

# A line the app logs below error level (a warning it goes on from) does not explain an exit:
# logfmt/slog `level=WARN`, JSON `"level":"warn"`, nginx `[warn]`, and a leading WARN/INFO token
# (Python logging, log4j/logback, Postgres `WARNING:`). Postgres logs a rejected setting at `LOG:`,
# which is not matched here.
BELOW_ERROR = re.compile(
    r"""\blevel\s*[=:]\s*["']?(?:warn(?:ing)?|info|debug|trace|notice)\b"""
    r"""|"(?:level|severity)"\s*:\s*"(?:warn(?:ing)?|info|debug|trace|notice)"|\[(?:warn|warning|info|notice|debug)\]""",
    re.I,
)
LEADING_LEVEL = re.compile(r"^\s*(?:\S+\s+){0,4}?\[?(?:WARN(?:ING)?|INFO|DEBUG|TRACE|NOTICE)\]?(?:[:\s]|$)")


def below_error(line: str) -> bool:
    return bool(BELOW_ERROR.search(line) or LEADING_LEVEL.match(line))


def config_source(pod: Obj, container: str, text: str) -> ObjectRef | None:
    """The ConfigMap mounted where the log line's file lives, if any."""
    c = pod_container_specs(pod).get(container, {})
    mounts = {m.get("name"): str(m.get("mountPath", "")) for m in c.get("volumeMounts") or [] if isinstance(m, dict)}
    volumes = {v.get("name"): v for v in spec(pod).get("volumes") or [] if isinstance(v, dict)}
    ns = ref_of(pod).namespace
    for path in PATH_RE.findall(text):
        for vname, mpath in mounts.items():
            if mpath and (path == mpath or path.startswith(mpath.rstrip("/") + "/")):
                cm = dig(volumes.get(vname) or {}, "configMap", "name")
                if cm:
                    return ObjectRef("ConfigMap", ns, str(cm))
    return None


def detect(ev: Evidence) -> list[Finding]:
    scanned = scan_logs(ev, LOG_SIGNATURES, "core")
    # A line a more specific signature explains (forbidden, DNS, connect) is not a config error.
    claimed = {
        (h.log.path, h.lineno) for name in ("rbac", "dns", "connect", "model", "exec", "disk") for h in scanned[name]
    }
    hits = [h for h in scanned["config"] if (h.log.path, h.lineno) not in claimed and not below_error(h.line)]
    by_container: dict[tuple[str, str, str], list[LogHit]] = {}
    for h in hits:
        by_container.setdefault((h.log.namespace, h.log.pod, h.log.container), []).append(h)
    out = []
    for (ns, pod_name, cname), chits in by_container.items():
        pod = ev.get("Pod", ns, pod_name)
        if pod is None:
            continue
        states = [c for c in container_states(pod) if c.name == cname]
        failed = status(pod).get("phase") == "Failed"
        if not failed and not any(is_crashing(c) for c in states):
            continue
        state = states[0] if states else None
        wl = workload_of(ev, pod)
        culprit = None
        for h in chits:
            culprit = config_source(pod, cname, h.line)
            if culprit:
                break
        first = chits[-1]
        out.append(
            finding(
                Category.CONFIG_ERROR,
                culprit or wl,
                f"container {cname} of {wl} exits on invalid configuration: {first.line.strip()[:160]}",
                confidence=0.85,
                chain=(
                    f"{wl} is not available",
                    f"Pod {pod_name} crashes ({state.restarts if state else 0} restarts)",
                    f"container {cname} rejects its configuration",
                    *([f"configuration comes from {culprit}"] if culprit else []),
                ),
                evidence=[
                    *(
                        [
                            status_line(
                                pod,
                                state.path("lastState.terminated"),
                                f"exitCode: {(state.last_terminated or state.terminated).get('exitCode')}",
                            )
                        ]
                        if state
                        else []
                    ),
                    *[log_line(h.log, h.lineno, h.line) for h in chits[-3:]],
                ],
                detector="config_error",
                affects=affects(ev, pod),
                details={"container": cname, "message": first.line.strip()[:300]},
            )
        )
    return out


DETECTOR = Detector(
    "config_error", (Category.CONFIG_ERROR,), detect, "crashing containers whose logs reject their config"
)
