"""What a detector is, and the helpers every detector shares.

A detector is a name, the categories it can report and one pure function from evidence to
findings. It does no I/O: everything it reads is in the evidence store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from remediator.evidence.health import Health, health_of
from remediator.evidence.relations import (
    containers,
    dig,
    spec,
    status,
    workload_of,
)
from remediator.evidence.store import Event, Evidence, LogFile, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

DetectFn = Callable[[Evidence], list[Finding]]

MAX_EVIDENCE = 10


@dataclass(frozen=True)
class Detector:
    name: str
    categories: tuple[Category, ...]
    detect: DetectFn
    description: str = ""


# ----- evidence lines -----
def event_line(e: Event) -> EvidenceLine:
    inv = e.involved
    where = f"{inv.namespace}/{inv.name}" if inv.namespace else inv.name
    return EvidenceLine(f"event {inv.kind} {where}", e.line())


def status_line(obj: Obj, path: str, text: str) -> EvidenceLine:
    return EvidenceLine(f"status {ref_of(obj)} .{path}", text)


def log_line(log: LogFile, lineno: int, text: str) -> EvidenceLine:
    return EvidenceLine(f"log {log.path}:{lineno}", text.strip()[:400])


def spec_line(obj: Obj, path: str, text: str) -> EvidenceLine:
    return EvidenceLine(f"spec {ref_of(obj)} .{path}", text)


# ----- pods -----
def scoped_pods(ev: Evidence) -> list[Obj]:
    return ev.scoped("Pod")


def affects(ev: Evidence, pod: Obj) -> frozenset[ObjectRef]:
    return frozenset({ref_of(pod), workload_of(ev, pod)})


def pod_container_specs(pod: Obj) -> dict[str, dict[str, Any]]:
    return {str(c.get("name")): c for c in containers(spec(pod))}


@dataclass(frozen=True)
class ContainerState:
    """One container's present and last state, flattened."""

    pod: Obj
    index: int
    key: str
    name: str
    restarts: int
    waiting_reason: str
    waiting_message: str
    terminated: dict[str, Any]
    last_terminated: dict[str, Any]
    ready: bool

    def path(self, sub: str) -> str:
        return f"status.{self.key}[{self.index}].{sub}"


_STATES: dict[int, tuple[Obj, list[ContainerState]]] = {}


def container_states(pod: Obj) -> list[ContainerState]:
    """The pod's container states (computed once per pod object)."""
    cached = _STATES.get(id(pod))
    if cached is not None and cached[0] is pod:
        return cached[1]
    states = list(_container_states(pod))
    if len(_STATES) > 200_000:
        _STATES.clear()
    _STATES[id(pod)] = (pod, states)
    return states


def _container_states(pod: Obj) -> Iterator[ContainerState]:
    st = status(pod)
    for key in ("initContainerStatuses", "containerStatuses"):
        for i, cs in enumerate(st.get(key) or []):
            if not isinstance(cs, dict):
                continue
            waiting = dig(cs, "state", "waiting") or {}
            yield ContainerState(
                pod=pod,
                index=i,
                key=key,
                name=str(cs.get("name", "")),
                restarts=int(cs.get("restartCount") or 0),
                waiting_reason=str(waiting.get("reason") or ""),
                waiting_message=str(waiting.get("message") or ""),
                terminated=dig(cs, "state", "terminated") or {},
                last_terminated=dig(cs, "lastState", "terminated") or {},
                ready=bool(cs.get("ready")),
            )


def is_crashing(c: ContainerState) -> bool:
    """Keeps exiting: back-off, restarts after a failure, or terminated with an error."""
    if c.waiting_reason == "CrashLoopBackOff":
        return True
    last_code = c.last_terminated.get("exitCode")
    if c.restarts > 0 and last_code not in (None, 0):
        return True
    code = c.terminated.get("exitCode")
    return code not in (None, 0)


def unhealthy(obj: Obj | None) -> bool:
    if obj is None:
        return False
    h = health_of(obj)
    return h is not None and h.status in (Health.DEGRADED, Health.PROGRESSING, Health.MISSING, Health.UNKNOWN)


def events_of(ev: Evidence, obj: Obj) -> list[Event]:
    return ev.events_for(ref_of(obj))


def controller_events(ev: Evidence) -> Iterator[tuple[Obj, Event]]:
    """Events of scoped controllers (ReplicaSets, StatefulSets, Jobs, ...) with the object."""
    for kind in ("ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Deployment", "CronJob"):
        for obj in ev.scoped(kind):
            for e in events_of(ev, obj):
                yield obj, e


# ----- logs -----
@dataclass(frozen=True)
class LogHit:
    log: LogFile
    lineno: int
    line: str
    match: re.Match[str]
    signature: str


class Signatures:
    """Named regexes matched over every scoped log line in one pass.

    ``keywords`` are literal words at least one of which every pattern needs: a file or line
    without any is skipped before the (slower) patterns run.
    """

    def __init__(self, patterns: dict[str, Iterable[str]], keywords: Iterable[str]) -> None:
        self.patterns = {name: [re.compile(p, re.IGNORECASE) for p in ps] for name, ps in patterns.items()}
        self.keywords = tuple(k.lower() for k in keywords)

    def may_match(self, text: str) -> bool:
        """Cheap first test: substring search is far faster than a big regex alternation."""
        low = text.lower()
        return any(k in low for k in self.keywords)


def scan_logs(ev: Evidence, signatures: Signatures, key: str) -> dict[str, list[LogHit]]:
    """Hits per signature over the logs of scoped pods (memoised per evidence store)."""
    cache = ev.memo("log_scan")
    if key in cache:
        hits: dict[str, list[LogHit]] = cache[key]
        return hits
    hits = {name: [] for name in signatures.patterns}
    for pod in scoped_pods(ev):
        ref = ref_of(pod)
        for log in ev.logs_for(ref.namespace, ref.name):
            if not signatures.may_match(log.text()):
                continue
            for lineno, line in log.numbered():
                if not signatures.may_match(line):
                    continue
                for name, regexes in signatures.patterns.items():
                    for rx in regexes:
                        m = rx.search(line)
                        if m:
                            hits[name].append(LogHit(log, lineno, line, m, name))
                            break
    cache[key] = hits
    return hits


def last_lines(ev: Evidence, pod: Obj, container: str, n: int = 3) -> list[EvidenceLine]:
    """The last non-empty lines of a container's previous (else current) log."""
    ref = ref_of(pod)
    logs = [lg for lg in ev.logs_for(ref.namespace, ref.name) if lg.container == container]
    logs.sort(key=lambda lg: not lg.previous)
    for lg in logs:
        numbered = [(i, t) for i, t in lg.numbered() if t.strip()]
        if numbered:
            return [log_line(lg, i, t) for i, t in numbered[-n:]]
    return []


def finding(
    category: Category,
    culprit: ObjectRef,
    summary: str,
    *,
    confidence: float,
    chain: Iterable[str],
    evidence: Iterable[EvidenceLine],
    detector: str,
    affects: Iterable[ObjectRef] = (),
    details: dict[str, Any] | None = None,
) -> Finding:
    seen: list[EvidenceLine] = []
    for line in evidence:
        if line not in seen:
            seen.append(line)
    return Finding(
        category=category,
        culprit=culprit,
        summary=summary,
        confidence=round(max(0.0, min(1.0, confidence)), 2),
        chain=tuple(chain),
        evidence=tuple(seen[:MAX_EVIDENCE]),
        detector=detector,
        affects=frozenset(affects) | {culprit},
        details=details or {},
    )


HOST_RE = re.compile(
    r"(?:https?|grpc|nats|amqp|redis|postgres(?:ql)?|mysql|mongodb|tcp|ws)://([A-Za-z0-9_.-]+)(?::(\d+))?"
)


def service_ref_for_host(host: str, namespace: str) -> ObjectRef:
    """The Service a cluster host name means: ``svc``, ``svc.ns``, ``svc.ns.svc[.cluster.local]``."""
    parts = host.split(".")
    if len(parts) >= 2 and (len(parts) == 2 or parts[2] == "svc"):
        return ObjectRef("Service", parts[1], parts[0])
    return ObjectRef("Service", namespace, parts[0])


def is_cluster_name(host: str) -> bool:
    """A name a cluster DNS would answer (not an IP, not an outside FQDN)."""
    if re.fullmatch(r"[\d.]+|\[?[0-9a-f:]+\]?", host):
        return False
    parts = host.split(".")
    return len(parts) <= 2 or (len(parts) >= 3 and parts[2] == "svc")
