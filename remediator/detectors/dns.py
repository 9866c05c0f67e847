"""dns-resolution: an app cannot resolve the host name of a dependency."""

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
from remediator.detectors.signatures import HOST, LOG_SIGNATURES
from remediator.evidence.relations import workload_of
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

HOST_KW = re.compile(r"host='([^']+)'(?:, port=(\d+))?")

# Lookups that get no answer at all (the resolver's packets to port 53 are dropped), as opposed to an
# answer that the name does not exist (NXDOMAIN, "no such host"): Go's resolver, glibc (EAI_AGAIN),
# Node, curl, dig/nslookup.
DNS_TIMEOUTS = Signatures(
    {
        "dns-timeout": [
            r"lookup (?P<host>" + HOST + r")(?: on [^\s]+:53)?: .*(?:i/o timeout|timed out|deadline exceeded)",
            r"dial udp (?P<addr>[^\s]+:53): (?:i/o timeout|operation timed out)",
            r"read udp [^\s]+->[^\s]+:53: i/o timeout",
            r"getaddrinfo EAI_AGAIN (?P<host>" + HOST + r")",
            r"Temporary failure in name resolution",
            r"Resolving timed out after \d+ milliseconds",
            r"connection timed out; no servers could be reached",
        ]
    },
    ["timeout", "timed out", "deadline", "eai_again", "temporary failure"],
)


def host_of(hit: LogHit) -> tuple[str, str | None] | None:
    gd = hit.match.groupdict()
    if gd.get("host"):
        port = gd.get("port")
        if not port:
            m = re.search(re.escape(gd["host"]) + r"[:'\"]*(?:, port=)?(\d{2,5})", hit.line)
            port = m.group(1) if m else None
        return gd["host"], port
    m = HOST_KW.search(hit.line) or HOST_RE.search(hit.line)
    if m:
        return m.group(1), m.group(2)
    return None


def dns_timeouts(ev: Evidence) -> dict[tuple[str, str, str], list[LogHit]]:
    """Lookups that time out (no answer from port 53) per (namespace, pod, host)."""
    out: dict[tuple[str, str, str], list[LogHit]] = {}
    for h in scan_logs(ev, DNS_TIMEOUTS, "dns-timeout")["dns-timeout"]:
        hp = host_of(h) if not h.match.groupdict().get("addr") else None
        out.setdefault((h.log.namespace, h.log.pod, hp[0] if hp else ""), []).append(h)
    return out


def dns_hosts(ev: Evidence) -> dict[tuple[str, str, str], list[LogHit]]:
    """Failing host names per (namespace, pod, host): names that do not resolve, and lookups that time out."""
    out: dict[tuple[str, str, str], list[LogHit]] = {}
    seen: set[tuple[str, int]] = set()
    for h in scan_logs(ev, LOG_SIGNATURES, "core")["dns"]:
        hp = host_of(h)
        host = hp[0] if hp else ""
        out.setdefault((h.log.namespace, h.log.pod, host), []).append(h)
        seen.add((h.log.path, h.lineno))
    for key, hits in dns_timeouts(ev).items():
        new = [h for h in hits if (h.log.path, h.lineno) not in seen]
        if new:
            out.setdefault(key, []).extend(new)
            out[key].sort(key=lambda h: (h.log.path, h.lineno))
    return out


@dataclass
class _Acc:
    host: str
    port: str | None
    hits: list[LogHit] = field(default_factory=list)
    touched: set[ObjectRef] = field(default_factory=set)
    clients: set[ObjectRef] = field(default_factory=set)


def detect(ev: Evidence) -> list[Finding]:
    per_svc: dict[ObjectRef, _Acc] = {}
    for (ns, pod_name, host), hits in dns_hosts(ev).items():
        pod = ev.get("Pod", ns, pod_name)
        if pod is None:
            continue
        wl = workload_of(ev, pod)
        port = next((hp[1] for h in hits if (hp := host_of(h)) and hp[1]), None)
        svc = service_ref_for_host(host, ns) if host and is_cluster_name(host) else wl
        acc = per_svc.setdefault(svc, _Acc(host, port))
        acc.hits += hits
        acc.touched |= {ref_of(pod), wl}
        acc.clients.add(wl)
        acc.port = acc.port or port
    out = []
    for svc, e in per_svc.items():
        hits = e.hits
        host = e.host
        exists = svc.kind == "Service" and ev.get_ref(svc) is not None
        clients = sorted(e.clients)
        probe_lines = [
            EvidenceLine(f"probe {p.source}", f"{p.url}: {p.error}")
            for p in ev.probes
            if p.error and host and host in p.url
        ]
        if svc.kind == "Service" and not exists:
            cause = f"no Service {svc.name} in namespace {svc.namespace}: the name exists only outside the cluster or nowhere"
            conf = 0.9
        elif svc.kind == "Service":
            cause = f"Service {svc.name} exists, so cluster DNS itself is failing for the pod"
            conf = 0.55
        else:
            cause = f"host {host or '(unnamed)'} is not a cluster Service and does not resolve from the pod"
            conf = 0.7
        out.append(
            finding(
                Category.DNS_RESOLUTION,
                svc,
                f"{', '.join(c.name for c in clients)} cannot resolve {host or 'a dependency'}"
                f"{':' + e.port if e.port else ''}: {cause}",
                confidence=conf,
                chain=(
                    *(f"{c} fails its calls" for c in clients[:2]),
                    f"name resolution of {host} fails (NameResolutionError / no such host)",
                    cause,
                ),
                evidence=[*[log_line(h.log, h.lineno, h.line) for h in hits[-3:]], *probe_lines[:2]],
                detector="dns",
                affects=e.touched,
                details={
                    "host": host,
                    "port": int(e.port) if e.port else None,
                    "service_exists": exists,
                    "clients": [c.as_dict() for c in clients],
                },
            )
        )
    return out


DETECTOR = Detector("dns", (Category.DNS_RESOLUTION,), detect, "NameResolutionError / no such host in logs")
