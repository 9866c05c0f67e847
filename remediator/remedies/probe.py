"""probe-failure: align a failing probe with what the container serves, or give it the time it needs.

One remedy, four cases, each under its policy switch:

* **port** (``probe-port``): the probe's port (number or name) is not a containerPort of the container
  -> the port of a probe of the same container that works, else a declared port whose name is one or
  two edits from the probe's name, else the container's only port; otherwise a person chooses.
* **path** (``probe-port``): ``HTTP probe failed with statuscode: 404`` while another httpGet probe of
  the same container, on the same port, with another path works -> that path; no such probe -> report
  (the app's health endpoint decides).
* **timeout** (``probe-timing``): ``context deadline exceeded`` / ``Client.Timeout exceeded`` with a
  short ``timeoutSeconds``: raise it when the logs show the endpoint answering slowly (the longest
  answer x 1.5, at least 5 s, at most 10 s), or to 5 s when the kubelet repeatedly waited for headers
  of a connection the app accepted; never when the container is CPU-throttled (cpu-throttling).
* **start-up** (``probe-timing``): the app needs longer to start than the probe allows. When a run in the
  logs shows how long start-up takes, a ``startupProbe`` with the liveness probe's handler whose
  ``failureThreshold x periodSeconds`` covers 1.5x that time; otherwise ``initialDelaySeconds`` doubled
  (at least +30 s), bounded by ``probes.max_initial_delay_seconds``.

A probe "works" when no Unhealthy event names it on the workload's pods (the kubelet records one
for every failure). The events' messages are the kubelet's (``prober.go``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from remediator.evidence.relations import condition, dig, workload_of
from remediator.evidence.store import Obj, ref_of
from remediator.model import Category, Finding, ObjectRef
from remediator.remedies.base import (
    Change,
    Check,
    Context,
    Proposal,
    Refusal,
    Remedy,
    SetField,
    container_of,
    container_path,
)

KINDS = ("liveness", "readiness", "startup")
HANDLERS = ("httpGet", "tcpSocket", "grpc")
PROBE_EVENT = re.compile(r"\b(Liveness|Readiness|Startup) probe (?:failed|errored)", re.I)
STATUS_404 = re.compile(r"statuscode:\s*404\b", re.I)
TIMEOUT = re.compile(
    r"context deadline exceeded|Client\.Timeout exceeded|i/o timeout|timed out|did not complete within", re.I
)
AWAITING_HEADERS = re.compile(r"Client\.Timeout exceeded while awaiting headers", re.I)
# How long a request took, as access logs print it: "200 2.31s", "took 1843ms", "duration=2.4s".
DURATION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(ms|s)\b")
# Start-up completed, as frameworks print it.
STARTED_IN = re.compile(
    r"Started \S+ in (\d+(?:\.\d+)?) seconds(?: \((?:process|JVM) running for (\d+(?:\.\d+)?)\))?"
    r"|\bstarted in (\d+(?:\.\d+)?)s\b",
)
READY_LINE = re.compile(
    r"(?:Tomcat|Netty|Jetty|Undertow) started on port|\b[Ll]istening on\b|[Ss]erver started|"
    r"ready to accept connections|Started \S+ in \d"
)
TIMESTAMP = re.compile(r"^\W*(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)")

TIMEOUT_MIN = 5  # seconds: a probe timeout raised from evidence is at least this ...
TIMEOUT_MAX = 10  # ... and never more: a longer timeout hides a hung app
STARTUP_MARGIN = 1.5


# ----- evidence ---------------------------------------------------------------------------------


def _pods(ctx: Context, ref: ObjectRef) -> list[Obj]:
    return [p for p in ctx.ev.all("Pod", ref.namespace or None) if workload_of(ctx.ev, p) == ref]


def _failures(ctx: Context, pods: list[Obj]) -> dict[str, list[tuple[str, int]]]:
    """The kubelet's Unhealthy messages per probe kind (with their counts) over the workload's pods."""
    out: dict[str, list[tuple[str, int]]] = {}
    for pod in pods:
        for e in ctx.ev.events_for(ref_of(pod)):
            m = PROBE_EVENT.search(e.message)
            if m:
                out.setdefault(m.group(1).lower(), []).append((e.message, max(e.count, 1)))
    return out


def _ready(pods: list[Obj]) -> bool:
    return any(str((condition(p, "Ready") or {}).get("status")) == "True" for p in pods)


def _handler(probe: dict[str, Any]) -> str | None:
    return next((h for h in HANDLERS if isinstance(probe.get(h), dict)), None)


def _ports(c: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in c.get("ports") or [] if isinstance(p, dict) and p.get("containerPort") is not None]


def _resolve(c: dict[str, Any], port: Any) -> int | None:
    """A probe port (number or name) as the number the container declares, None when it declares none such."""
    for p in _ports(c):
        if str(p.get("name") or "") == str(port) or str(p.get("containerPort")) == str(port):
            return int(p["containerPort"])
    return None


def _edits(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _seconds(ts: str) -> float | None:
    try:
        return datetime.fromisoformat(ts.replace(",", ".").replace("Z", "+00:00").replace(" ", "T")).timestamp()
    except ValueError:
        return None


def startup_seconds(ctx: Context, pods: list[Obj], container: str) -> float | None:
    """The longest completed start-up the container's logs show: a framework's own "started in" figure,
    else the time from the run's first line to the line that says it serves."""
    best: float | None = None
    for pod in pods:
        ref = ref_of(pod)
        for log in ctx.ev.logs_for(ref.namespace, ref.name):
            if log.container != container:
                continue
            first: float | None = None
            took: float | None = None
            for _, line in log.numbered():
                ts = TIMESTAMP.match(line)
                t = _seconds(ts.group(1)) if ts else None
                if first is None and t is not None:
                    first = t
                m = STARTED_IN.search(line)
                if m:  # the framework's own figure wins over the time to the first "serving" line
                    took = float(m.group(2) or m.group(1) or m.group(3))
                    break
                if took is None and READY_LINE.search(line) and first is not None and t is not None:
                    took = t - first
            if took is not None and took > 0:
                best = took if best is None else max(best, took)
    return best


def slowest_answer(ctx: Context, pods: list[Obj], container: str, path: str) -> float | None:
    """The longest time the app's own logs show it took to answer ``path`` (the probe's endpoint)."""
    if not path:
        return None
    rx = re.compile(rf"{re.escape(path)}(?=[\s?\"']|$)")
    worst: float | None = None
    for pod in pods:
        ref = ref_of(pod)
        for log in ctx.ev.logs_for(ref.namespace, ref.name):
            if log.container != container:
                continue
            for _, line in log.numbered():
                if not rx.search(line):
                    continue
                rest = TIMESTAMP.sub("", line)
                for m in DURATION.finditer(rest):
                    v = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
                    worst = v if worst is None else max(worst, v)
    return worst


# ----- the plan ---------------------------------------------------------------------------------


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    cname, kind = str(d.get("container") or ""), str(d.get("probe") or "liveness")
    if kind not in KINDS:
        kind = "liveness"
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    c = container_of(obj, cname)
    probe = c.get(f"{kind}Probe")
    if not isinstance(probe, dict):
        return Refusal(cat, f"container {cname} of {f.culprit} declares no {kind}Probe", "probe-timing")
    pods = _pods(ctx, f.culprit)
    failures = _failures(ctx, pods)
    messages = [m for m, _ in failures.get(kind, [])] or [str(d.get("message") or "")]
    handler = _handler(probe)
    port = dig(probe, handler, "port") if handler else None
    if d.get("port_mismatch") or (port is not None and _ports(c) and _resolve(c, port) is None):
        return _gated(ctx, cat, "probe-port") or _port(f, ctx, obj, c, kind, probe, failures)
    if any(STATUS_404.search(m) for m in messages):
        return _gated(ctx, cat, "probe-port") or _path(f, ctx, obj, c, kind, probe, failures, pods)
    if any(TIMEOUT.search(m) for m in messages):
        if d.get("throttled"):
            return Refusal(
                cat,
                f"the {kind} probe of {cname} times out while the container is CPU-throttled: a longer timeout hides "
                "that; the CPU limit is the cause (cpu-throttling)",
                "cpu-throttling",
            )
        return _gated(ctx, cat, "probe-timing") or _timeout(f, ctx, obj, c, kind, probe, failures, pods)
    return _gated(ctx, cat, "probe-timing") or _startup(f, ctx, obj, c, kind, probe, pods)


def _gated(ctx: Context, cat: str, key: str) -> Refusal | None:
    if ctx.policy.enabled(key):
        return None
    return Refusal(cat, f"the {key} remedy is disabled", f"remedies.{key}")


def _working(
    failures: dict[str, list[tuple[str, int]]], c: dict[str, Any], kind: str
) -> list[tuple[str, dict[str, Any]]]:
    """The other probes of the container that no Unhealthy event names (readiness first)."""
    out = []
    for k in ("readiness", "liveness", "startup"):
        sib = c.get(f"{k}Probe")
        if k != kind and isinstance(sib, dict) and k not in failures:
            out.append((k, sib))
    return out


def _port(
    f: Finding,
    ctx: Context,
    obj: Obj | None,
    c: dict[str, Any],
    kind: str,
    probe: dict[str, Any],
    failures: dict[str, list[tuple[str, int]]],
) -> Proposal | Refusal:
    cat, cname = f.category.value, str(c.get("name") or "")
    handler = _handler(probe)
    if handler is None or "port" not in probe[handler]:
        return Refusal(cat, f"the {kind} probe of {cname} has no port to correct (exec probe)", "probe-port")
    old = probe[handler]["port"]
    ports = _ports(c)
    new: int | str | None = None
    why = ""
    for k, sib in _working(failures, c, kind):
        h = _handler(sib)
        sp = dig(sib, h, "port") if h else None
        if sp is not None and _resolve(c, sp) is not None:
            new, why = sp, f"the {k} probe of the same container, which passes, checks port {sp}"
            break
    if new is None and isinstance(old, str) and not old.isdigit():
        near = [str(p["name"]) for p in ports if p.get("name") and _edits(str(p["name"]), old) <= 2]
        if len(near) == 1:
            new, why = near[0], f"the container declares a port named {near[0]!r}, {_edits(near[0], old)} edit(s) away"
    if new is None and len(ports) == 1:
        p = ports[0]
        new = p["name"] if isinstance(old, str) and not old.isdigit() and p.get("name") else int(p["containerPort"])
        why = f"the container only listens on {p['containerPort']}" + (f" ({p['name']})" if p.get("name") else "")
    if new is None:
        return Refusal(
            cat,
            f"the {kind} probe of {cname} targets port {old}, which the container does not declare; it declares "
            f"{len(ports)} ports and no other probe of it passes: which one serves the health check is a person's "
            "choice",
            "probe-port",
        )
    path = (*container_path(obj, cname), f"{kind}Probe", handler, "port")
    return Proposal.setting(
        remedy="probe-port",
        reason=f"the {kind} probe of container {cname} checks port {old}, which the container does not declare; {why}. "
        f"Every probe fails, so the {'container is restarted' if kind == 'liveness' else 'pod never becomes ready'}.",
        change=SetField(f.culprit, path, new, current=old, role="probe-port"),
        risk="If the app serves its health endpoint on another, undeclared port, the probe keeps failing.",
    )


def _path(
    f: Finding,
    ctx: Context,
    obj: Obj | None,
    c: dict[str, Any],
    kind: str,
    probe: dict[str, Any],
    failures: dict[str, list[tuple[str, int]]],
    pods: list[Obj],
) -> Proposal | Refusal:
    cat, cname = f.category.value, str(c.get("name") or "")
    get = probe.get("httpGet")
    if not isinstance(get, dict):
        return Refusal(cat, f"the {kind} probe of {cname} is not an httpGet probe", "probe-port")
    old = str(get.get("path") or "/")
    port = _resolve(c, get.get("port")) or get.get("port")
    for k, sib in _working(failures, c, kind):
        sget = sib.get("httpGet")
        if not isinstance(sget, dict):
            continue
        sport = _resolve(c, sget.get("port")) or sget.get("port")
        spath = str(sget.get("path") or "/")
        if str(sport) != str(port) or spath == old:
            continue
        path = (*container_path(obj, cname), f"{kind}Probe", "httpGet", "path")
        ready = " (the pod is Ready)" if k == "readiness" and _ready(pods) else ""
        return Proposal.setting(
            remedy="probe-port",
            reason=f"the {kind} probe of container {cname} asks for {old} on port {port} and the app answers 404 "
            f"(no such endpoint), while its {k} probe on the same port asks for {spath} and passes{ready}; "
            f"checking {spath} probes the endpoint the app serves.",
            change=SetField(f.culprit, path, spath, current=old, role="probe-path"),
            risk=f"The {kind} probe then checks what the {k} probe checks; if {old} was meant to test something "
            f"deeper, that check is lost until the app serves it.",
        )
    return Refusal(
        cat,
        f"the {kind} probe of {cname} asks for {old} and the app answers 404, and no other probe of the container "
        "on that port passes with another path: the app's health endpoint (its documentation or routes) decides",
        "probe-port",
    )


def _timeout(
    f: Finding,
    ctx: Context,
    obj: Obj | None,
    c: dict[str, Any],
    kind: str,
    probe: dict[str, Any],
    failures: dict[str, list[tuple[str, int]]],
    pods: list[Obj],
) -> Proposal | Refusal:
    cat, cname = f.category.value, str(c.get("name") or "")
    old = int(probe.get("timeoutSeconds") or 1)
    endpoint = str(dig(probe, "httpGet", "path") or "")
    slowest = slowest_answer(ctx, pods, cname, endpoint)
    headers = sum(n for m, n in failures.get(kind, []) if AWAITING_HEADERS.search(m))
    if slowest is not None and slowest > old:
        new = max(TIMEOUT_MIN, math.ceil(slowest * 1.5))
        basis = f"the app's logs show {endpoint} answering in up to {slowest:.1f}s"
    elif slowest is None and headers >= 3:
        new = TIMEOUT_MIN
        basis = (
            f"the kubelet gave up {headers} times waiting for the response headers of a connection the app accepted "
            "(Client.Timeout exceeded while awaiting headers)"
        )
    else:
        return Refusal(
            cat,
            f"the {kind} probe of {cname} times out after {old}s, but nothing shows the app answering slowly rather "
            f"than not at all: its response time for {endpoint or 'the probe'} (access logs, metrics) decides",
            "probe-timing",
        )
    if new > TIMEOUT_MAX:
        return Refusal(
            cat,
            f"{basis}; a probe timeout of {new}s (above {TIMEOUT_MAX}s) would hide a hung app: the endpoint itself "
            "must answer faster",
            "probe-timeout-max",
        )
    if new <= old:
        return Refusal(cat, f"{basis}, but timeoutSeconds is already {old}s", "probe-timing")
    path = (*container_path(obj, cname), f"{kind}Probe", "timeoutSeconds")
    return Proposal.setting(
        remedy="probe-timing",
        reason=f"the {kind} probe of container {cname} gives up after {old}s; {basis}. A timeout of {new}s lets the "
        "probe see the answer.",
        change=SetField(f.culprit, path, new, current=old, role="probe-timeout"),
        risk=f"A container that stops answering is detected up to {new - old}s later per failed probe.",
    )


def _startup(
    f: Finding,
    ctx: Context,
    obj: Obj | None,
    c: dict[str, Any],
    kind: str,
    probe: dict[str, Any],
    pods: list[Obj],
) -> Proposal | Refusal:
    cat, cname = f.category.value, str(c.get("name") or "")
    cap = ctx.policy.probes.max_initial_delay_seconds
    took = startup_seconds(ctx, pods, cname)
    cpath = container_path(obj, cname)
    handler = _handler(probe)
    simple = handler is not None and all(not isinstance(v, (dict, list)) for v in probe[handler].values())
    if (
        took is not None
        and kind == "liveness"
        and not isinstance(c.get("startupProbe"), dict)
        and simple
        and ctx.desired_obj(f.culprit) is not None  # declared in Git (a Helm chart's objects are not)
    ):
        assert handler is not None
        period = int(probe.get("periodSeconds") or 10)
        budget = math.ceil(took * STARTUP_MARGIN)
        threshold = max(math.ceil(budget / period), 3)
        if threshold * period > cap:
            return Refusal(
                cat,
                f"container {cname} takes {took:.0f}s to start; a start-up budget of {threshold * period}s is above the "
                f"policy maximum {cap}s",
                "probes.max_initial_delay_seconds",
            )
        base = (*cpath, "startupProbe")
        changes: list[Change] = [
            SetField(f.culprit, (*base, handler, k), v, role="probe-startup") for k, v in probe[handler].items()
        ]
        changes += [
            SetField(f.culprit, (*base, "periodSeconds"), period, role="probe-startup"),
            SetField(f.culprit, (*base, "failureThreshold"), threshold, role="probe-startup"),
        ]
        return Proposal(
            remedy="probe-timing",
            reason=f"container {cname} takes {took:.0f}s to start (its logs), longer than its liveness probe allows, "
            f"so it is restarted before it serves. A startupProbe with the liveness probe's {handler} check, every "
            f"{period}s up to {threshold} times ({threshold * period}s >= 1.5 x {took:.0f}s), holds the liveness probe "
            "back until the app has started, and keeps it as strict as before afterwards.",
            changes=changes,
            risk=f"A container that hangs at start-up is restarted only after {threshold * period}s.",
            checks=[
                Check(f.culprit, (*base, "failureThreshold"), threshold),
                *[Check(f.culprit, (*base, handler, k), v) for k, v in probe[handler].items()],
            ],
        )
    probe_key = f"{kind}Probe"
    old = int(probe.get("initialDelaySeconds") or 0)
    new = min(max(old * 2, old + 30, 30, math.ceil(took * STARTUP_MARGIN) if took else 0), cap)
    if new <= old:
        return Refusal(
            cat,
            f"{probe_key}.initialDelaySeconds is already {old}, at the policy maximum {cap}",
            "probes.max_initial_delay_seconds",
        )
    path = (*cpath, probe_key, "initialDelaySeconds")
    period = int(dig(probe, "periodSeconds") or 10)
    seen = f" (it took {took:.0f}s to start)" if took else ""
    return Proposal.setting(
        remedy="probe-timing",
        reason=f"the {kind} probe of container {cname} fails while the app starts{seen} and the app answers later; "
        f"starting it after {new}s instead of {old}s gives the start-up time it needs (period {period}s).",
        change=SetField(f.culprit, path, new, current=old, role="probe-delay"),
        risk=f"A container that hangs at start-up is detected {new - old}s later.",
    )


REMEDY = Remedy(
    "probe-timing",
    (Category.PROBE_FAILURE.value,),
    plan,
    "align a failing probe with the container's working probe (port, path) or give it the time it needs",
    switches=(),  # probe-port (port, path) and probe-timing (timeout, start-up) are checked by the plan, per case
)
