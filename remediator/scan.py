"""The daily inspection: every app of a cluster's evidence, loaded once, scoped per app in memory.

A non-Healthy app gets its diagnosis (the same :func:`remediator.diagnose.diagnose` as ``remediator
diagnose``); a Healthy app gets its at-risk findings from the same evidence: containers OOM-killed
or restarted within the window, PVCs above the usage threshold (when the evidence holds kubelet
volume stats), pods Pending for long, and, when required, workloads without a memory limit.

Pure: evidence in, :class:`ScanResult` out. The evidence is partitioned once (by namespace, plus
the cluster-scoped objects), so each app's store holds only its namespaces: the detectors never
walk the whole cluster once per app.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from remediator.detectors.storage_full import volume_usage
from remediator.diagnose import Diagnosis, diagnose
from remediator.evidence.health import Health, health_of
from remediator.evidence.relations import dig, labels, meta, owner_refs, pod_template
from remediator.evidence.scope import INSTANCE_LABEL, TRACKING_ANNOTATION, apply_scope
from remediator.evidence.store import Event, Evidence, LogFile, Obj, ref_of
from remediator.model import ObjectRef


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 3, "warning": 2, "info": 1}[self.value]


def worst(severities: Iterable[Severity | None]) -> Severity | None:
    best: Severity | None = None
    for s in severities:
        if s is not None and (best is None or s.rank > best.rank):
            best = s
    return best


@dataclass(frozen=True)
class ScanOptions:
    window: timedelta = timedelta(hours=24)  # OOM kills and restarts younger than this count
    restarts_warning: int = 5  # restarts within the window from which a restart is a warning
    pvc_threshold: float = 0.8  # used share of a PVC that is a warning (>= 0.95: critical)
    pending: timedelta = timedelta(minutes=10)  # a pod Pending longer than this is a warning
    require_memory_limits: bool = False  # a container without a memory limit is a warning
    now: datetime | None = None  # None: the newest time in the evidence (a snapshot's moment)


@dataclass(frozen=True)
class Risk:
    """An at-risk finding on a Healthy app."""

    rule: str  # oom-killed, restarts, pvc-usage, pending, no-memory-limit
    severity: Severity
    object: ObjectRef
    message: str


@dataclass
class AppScan:
    name: str
    namespace: str
    health: str
    sync: str | None
    severity: Severity | None  # None: nothing to report
    diagnosis: Diagnosis | None = None
    risks: list[Risk] = field(default_factory=list)


@dataclass
class ScanResult:
    apps: list[AppScan]
    mode: str  # "argocd" (one entry per Application) or "namespaces"
    now: str
    errors: list[str] = field(default_factory=list)

    @property
    def severity(self) -> Severity | None:
        return worst(a.severity for a in self.apps)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity} | {"ok": 0}
        for a in self.apps:
            out[a.severity.value if a.severity else "ok"] += 1
        return out


# --- time ---------------------------------------------------------------------------------------


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _pod_times(pod: Obj) -> Iterable[object]:
    yield meta(pod).get("creationTimestamp")
    for c in dig(pod, "status", "conditions") or []:
        if isinstance(c, dict):
            yield c.get("lastTransitionTime")
    for cs in dig(pod, "status", "containerStatuses") or []:
        if isinstance(cs, dict):
            for state in ("state", "lastState"):
                for v in (cs.get(state) or {}).values():
                    if isinstance(v, dict):
                        yield v.get("startedAt")
                        yield v.get("finishedAt")


def evidence_time(ev: Evidence) -> datetime:
    """The newest time the evidence shows (events, pods); the current time when it shows none."""
    newest: datetime | None = None
    times: list[object] = [e.time for e in ev.all_events()]
    for pod in ev.all("Pod"):
        times.extend(_pod_times(pod))
    for t in times:
        p = parse_time(t)
        if p is not None and (newest is None or p > newest):
            newest = p
    return newest or datetime.now(UTC)


# --- one pass: partition the evidence ----------------------------------------------------------


class _Partition:
    """The evidence indexed once by namespace, to build each app's store without a cluster walk."""

    def __init__(self, ev: Evidence) -> None:
        self.ev = ev
        self.cluster: list[ObjectRef] = []
        self.by_ns: dict[str, list[ObjectRef]] = defaultdict(list)
        self.instance_ns: dict[str, set[str]] = defaultdict(set)  # app name -> namespaces of its labelled objects
        for ref in ev.refs():
            if ref.kind == "Application":
                continue
            if not ref.namespace:
                self.cluster.append(ref)
                continue
            self.by_ns[ref.namespace].append(ref)
            obj = ev.get_ref(ref)
            if obj is None:
                continue
            inst = labels(obj).get(INSTANCE_LABEL)
            if isinstance(inst, str):
                self.instance_ns[inst].add(ref.namespace)
            ann = meta(obj).get("annotations")
            tid = ann.get(TRACKING_ANNOTATION) if isinstance(ann, dict) else None
            if isinstance(tid, str):
                self.instance_ns[tid.split(":", 1)[0]].add(ref.namespace)
        self.events: dict[str, list[Event]] = defaultdict(list)
        for e in ev.all_events():
            self.events[e.involved.namespace].append(e)
        self.logs: dict[str, list[LogFile]] = defaultdict(list)
        for log in ev.all_logs():
            self.logs[log.namespace].append(log)

    def store(self, namespaces: set[str], extra: Iterable[Obj] = ()) -> Evidence:
        sub = Evidence()
        src = self.ev.sources
        for x in extra:
            sub.add(x, src.get(ref_of(x), ""))
        refs = list(self.cluster)
        for ns in sorted(namespaces):
            refs += self.by_ns.get(ns, [])
        for ref in refs:
            obj = self.ev.get_ref(ref)
            if obj is not None:
                sub.add(obj, src.get(ref, ""))
        for ns in sorted(namespaces):
            for e in self.events.get(ns, []):
                sub.add_event(e)
            for log in self.logs.get(ns, []):
                sub.add_log(log)
        for e in self.events.get("", []):
            sub.add_event(e)
        sub.probes = self.ev.probes
        return sub


def _app_namespaces(app: Obj, part: _Partition) -> set[str]:
    name = str(meta(app).get("name") or "")
    out = {str(dig(app, "spec", "destination", "namespace") or "")}
    for r in dig(app, "status", "resources") or []:
        if isinstance(r, dict) and r.get("namespace"):
            out.add(str(r["namespace"]))
    out |= part.instance_ns.get(name, set())
    out.discard("")
    return out


# --- at-risk findings ----------------------------------------------------------------------------


def _container_risks(pod: Obj, now: datetime, opts: ScanOptions) -> list[Risk]:
    out: list[Risk] = []
    ref = ref_of(pod)
    for cs in dig(pod, "status", "containerStatuses") or []:
        if not isinstance(cs, dict):
            continue
        restarts = cs.get("restartCount")
        restarts = restarts if isinstance(restarts, int) and not isinstance(restarts, bool) else 0
        last = dig(cs, "lastState", "terminated") or {}
        cur = dig(cs, "state", "terminated") or {}
        term = cur if cur else last
        if not isinstance(term, dict) or not term:
            continue
        finished = parse_time(term.get("finishedAt"))
        if finished is None or now - finished > opts.window:
            continue
        cname = str(cs.get("name") or "")
        ago = _ago(now - finished)
        if term.get("reason") == "OOMKilled":
            out.append(
                Risk(
                    "oom-killed",
                    Severity.WARNING,
                    ref,
                    f"container {cname} was OOM-killed {ago} ago (restarts: {restarts})",
                )
            )
        elif restarts > 0:
            sev = Severity.WARNING if restarts >= opts.restarts_warning else Severity.INFO
            reason = str(term.get("reason") or "terminated")
            out.append(
                Risk("restarts", sev, ref, f"container {cname} restarted {ago} ago ({reason}, restarts: {restarts})")
            )
    return out


def _pending_risk(pod: Obj, now: datetime, opts: ScanOptions) -> Risk | None:
    if dig(pod, "status", "phase") != "Pending":
        return None
    since = parse_time(meta(pod).get("creationTimestamp"))
    if since is None or now - since < opts.pending:
        return None
    why = ""
    for c in dig(pod, "status", "conditions") or []:
        if isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("status") == "False":
            why = f": {c.get('reason') or 'unschedulable'} {c.get('message') or ''}".rstrip()
    return Risk("pending", Severity.WARNING, ref_of(pod), f"Pending for {_ago(now - since)}{why}")


def _memory_risks(ev: Evidence) -> list[Risk]:
    out: list[Risk] = []
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod"):
        for obj in ev.scoped(kind):
            if kind in ("Job", "Pod") and owner_refs(obj):
                continue  # judged on its owner
            ps = pod_template(obj)
            for c in ps.get("containers") or []:
                if not isinstance(c, dict):
                    continue
                if not dig(c, "resources", "limits", "memory"):
                    out.append(
                        Risk(
                            "no-memory-limit",
                            Severity.WARNING,
                            ref_of(obj),
                            f"container {c.get('name')} has no memory limit (the policy requires one)",
                        )
                    )
    return out


def _pvc_risks(ev: Evidence, opts: ScanOptions) -> list[Risk]:
    out: list[Risk] = []
    if not ev.probes:
        return out
    for claim in ev.scoped("PersistentVolumeClaim"):
        ref = ref_of(claim)
        used = volume_usage(ev, ref.namespace, ref.name)
        if used is None or used[0] < opts.pvc_threshold:
            continue
        sev = Severity.CRITICAL if used[0] >= 0.95 else Severity.WARNING
        out.append(Risk("pvc-usage", sev, ref, f"{used[0]:.0%} used (threshold {opts.pvc_threshold:.0%}): {used[1]}"))
    return out


def risks_of(ev: Evidence, now: datetime, opts: ScanOptions) -> list[Risk]:
    """The at-risk findings of the app in focus, worst first."""
    out: list[Risk] = []
    for pod in ev.scoped("Pod"):
        out += _container_risks(pod, now, opts)
        pending = _pending_risk(pod, now, opts)
        if pending is not None:
            out.append(pending)
    out += _pvc_risks(ev, opts)
    if opts.require_memory_limits:
        out += _memory_risks(ev)
    out.sort(key=lambda r: (-r.severity.rank, r.rule, r.object))
    return out


def _ago(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


# --- the scan -----------------------------------------------------------------------------------


def _health_severity(health: str) -> Severity | None:
    if health == Health.HEALTHY:
        return None
    if health in (Health.DEGRADED, Health.MISSING):
        return Severity.CRITICAL
    return Severity.WARNING


def _judge(
    name: str, namespace: str, health: str, sync: str | None, sub: Evidence, now: datetime, o: ScanOptions
) -> AppScan:
    sev = _health_severity(health)
    if sev is not None:
        d = diagnose(sub, name)
        d.errors = []  # the evidence errors are reported once, for the whole scan
        d.app = name
        return AppScan(name, namespace, health, sync, sev, diagnosis=d)
    risks = risks_of(sub, now, o)
    return AppScan(name, namespace, health, sync, worst(r.severity for r in risks), risks=risks)


def _namespace_health(sub: Evidence, ns: str) -> str:
    order = [Health.DEGRADED, Health.MISSING, Health.PROGRESSING, Health.SUSPENDED, Health.UNKNOWN]
    seen: set[Health] = set()
    for ref in sub.refs():
        if ref.namespace != ns:
            continue
        obj = sub.get_ref(ref)
        h = health_of(obj) if obj is not None else None
        if h is None or obj is None:
            continue
        # Like Argo CD, judge what is deployed, not what a controller made; a crashing pod still counts.
        if not owner_refs(obj) or (ref.kind == "Pod" and h.status == Health.DEGRADED):
            seen.add(h.status)
    for status in order:
        if status in seen:
            return status.value
    return Health.HEALTHY.value


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")


def scan(ev: Evidence, opts: ScanOptions | None = None, apps: Iterable[str] | None = None) -> ScanResult:
    """Scan every Application in the evidence (every namespace with workloads when there is none).

    ``apps`` limits the scan to those Application names."""
    o = opts or ScanOptions()
    now = o.now or evidence_time(ev)
    part = _Partition(ev)
    results: list[AppScan] = []
    applications = sorted(ev.all("Application"), key=lambda a: str(meta(a).get("name")))
    wanted = set(apps) if apps is not None else None
    if applications:
        for app in applications:
            name = str(meta(app).get("name") or "")
            if wanted is not None and name not in wanted:
                continue
            sub = part.store(_app_namespaces(app, part), [app])
            apply_scope(sub, name)
            health = str(dig(app, "status", "health", "status") or Health.UNKNOWN.value)
            sync = dig(app, "status", "sync", "status")
            dest = str(dig(app, "spec", "destination", "namespace") or "")
            results.append(_judge(name, dest, health, str(sync) if sync else None, sub, now, o))
        mode = "argocd"
    else:
        for ns in sorted(part.by_ns):
            if wanted is not None and ns not in wanted:
                continue
            if not any(r.kind in WORKLOADS for r in part.by_ns[ns]):
                continue
            sub = part.store({ns})
            sub.focus = {r for r in sub.refs() if r.namespace == ns}
            results.append(_judge(ns, ns, _namespace_health(sub, ns), None, sub, now, o))
        mode = "namespaces"
    results.sort(key=lambda a: (-(a.severity.rank if a.severity else 0), a.name))
    return ScanResult(results, mode, now.isoformat().replace("+00:00", "Z"), errors=list(ev.errors))
