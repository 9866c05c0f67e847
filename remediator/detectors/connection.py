"""connection-refused: a dependency's name resolves but the connection is refused or times out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from remediator.detectors.base import (
    HOST_RE,
    Detector,
    LogHit,
    Signatures,
    finding,
    is_cluster_name,
    log_line,
    scan_logs,
    service_ref_for_host,
)
from remediator.detectors.dns import dns_timeouts
from remediator.detectors.signatures import LOG_SIGNATURES
from remediator.evidence.relations import spec, workload_of
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, Finding, ObjectRef

ADDR = re.compile(r"^\[?([A-Za-z0-9_.:-]+?)\]?:(\d+)$")

# A call whose deadline passes before the server answers (Go's net/http and gRPC): a connection
# timeout when the line names the URL it dialled.
DEADLINES = Signatures(
    {"deadline": [r"context deadline exceeded|Client\.Timeout exceeded|code = DeadlineExceeded"]},
    ["deadline", "client.timeout"],
)


def target_of(hit: LogHit) -> tuple[str, str | None]:
    gd = hit.match.groupdict()
    if gd.get("host"):
        return gd["host"], gd.get("port")
    if gd.get("addr"):
        m = ADDR.match(gd["addr"])
        if m:
            named = HOST_RE.search(hit.line)
            if re.fullmatch(r"[\d.]+|[0-9a-fA-F:]+", m.group(1)) and named:
                return named.group(1), named.group(2) or m.group(2)  # the name the app dialled, not the IP
            return m.group(1), m.group(2)
    m = HOST_RE.search(hit.line)
    if m:
        return m.group(1), m.group(2)
    return "", None


def connect_targets(ev: Evidence) -> dict[tuple[str, str, str], list[LogHit]]:
    hits = scan_logs(ev, LOG_SIGNATURES, "core")
    skip = {(h.log.path, h.lineno) for name in ("dns", "model", "rbac") for h in hits[name]}
    skip |= {(h.log.path, h.lineno) for hs in dns_timeouts(ev).values() for h in hs}  # a lookup, not a connection
    out: dict[tuple[str, str, str], list[LogHit]] = {}
    connect = hits["connect"]
    seen = {(h.log.path, h.lineno) for h in connect}
    late = [h for h in scan_logs(ev, DEADLINES, "deadline")["deadline"] if (h.log.path, h.lineno) not in seen]
    for h in [*connect, *late]:
        if (h.log.path, h.lineno) in skip:
            continue
        host, _ = target_of(h)
        if h.signature == "deadline" and not host:
            continue  # a deadline that names no server says nothing about a connection
        out.setdefault((h.log.namespace, h.log.pod, host), []).append(h)
    for hs in out.values():
        hs.sort(key=lambda h: (h.log.path, h.lineno))
    return out


def _by_cluster_ip(ev: Evidence, host: str) -> ObjectRef | None:
    """The Service whose ClusterIP the client dialled (logs often print only the address)."""
    if not host:
        return None
    found = [ref_of(s) for s in ev.all("Service") if str(spec(s).get("clusterIP") or "") == host]
    return found[0] if len(found) == 1 else None


@dataclass
class _Acc:
    cause: str
    conf: float
    host: str
    port: str | None
    timeout: bool
    client: ObjectRef
    hits: list[LogHit] = field(default_factory=list)
    touched: set[ObjectRef] = field(default_factory=set)


def detect(ev: Evidence) -> list[Finding]:
    out = []
    merged: dict[ObjectRef, _Acc] = {}
    for (ns, pod_name, host), hits in connect_targets(ev).items():
        pod = ev.get("Pod", ns, pod_name)
        if pod is None:
            continue
        wl = workload_of(ev, pod)
        port = next((target_of(h)[1] for h in hits if target_of(h)[1]), None)
        svc_ref = service_ref_for_host(host, ns) if host and is_cluster_name(host) else _by_cluster_ip(ev, host)
        svc = ev.get_ref(svc_ref) if svc_ref else None
        svc_ports = (
            [int(p["port"]) for p in spec(svc).get("ports") or [] if isinstance(p, dict) and p.get("port")]
            if svc
            else []
        )
        if svc is not None and svc_ref is not None and port and int(port) not in svc_ports:
            culprit = wl
            cause = f"{wl.name} dials {host}:{port}, but Service {svc_ref.name} exposes port(s) {svc_ports}"
            conf = 0.8
        elif svc is not None and svc_ref is not None:
            culprit = svc_ref
            cause = f"Service {svc_ref.name} resolves, but nothing accepts connections on port {port or '?'}"
            conf = 0.75
        else:
            culprit = wl
            cause = f"{host or 'the dependency'}{':' + port if port else ''} refuses or drops the connection"
            conf = 0.65
        timeout = all(re.search(r"timed? ?out|timeout|deadline", h.line, re.I) for h in hits)
        acc = merged.setdefault(culprit, _Acc(cause, conf, host, port, timeout, wl))
        acc.hits += hits
        acc.touched |= {ref_of(pod), wl}
    for culprit, e in merged.items():
        out.append(
            finding(
                Category.CONNECTION_REFUSED,
                culprit,
                f"{e.client.name} cannot connect to {e.host or 'its dependency'}: {e.cause}",
                confidence=e.conf,
                chain=(
                    f"{e.client} fails or is not ready",
                    f"connection to {e.host}{':' + e.port if e.port else ''} {'times out' if e.timeout else 'refused'}",
                    e.cause,
                ),
                evidence=[log_line(h.log, h.lineno, h.line) for h in e.hits[-3:]],
                detector="connection",
                affects=e.touched,
                details={"host": e.host, "port": int(e.port) if e.port else None, "timeout": e.timeout},
            )
        )
    return out


DETECTOR = Detector("connection", (Category.CONNECTION_REFUSED,), detect, "connection refused / timeouts in logs")
