"""cpu-throttling: a container throttled at its CPU limit (CFS) misses its probes.

Probes that fail by timing out (``context deadline exceeded (Client.Timeout exceeded while awaiting
headers)``, ``command timed out``) while the metrics show the same container throttled: a
Prometheus answer on cAdvisor's ``container_cpu_cfs_throttled_periods_total`` /
``container_cpu_cfs_periods_total`` above 25 %, or a CPU usage at the container's CPU limit (at least
90 % of it: PodMetrics, or a Prometheus answer on ``container_cpu_usage_seconds_total`` or its
kube-prometheus-stack recording rules). Without probe failures, a container both throttled above 25 %
and using its whole limit is still reported (less certain). Every metric line cites its query and value.
"""

from __future__ import annotations

import re
from decimal import Decimal

from remediator.detectors.base import (
    Detector,
    affects,
    event_line,
    events_of,
    finding,
    pod_container_specs,
    scoped_pods,
)
from remediator.evidence.metrics import CPU_USAGE, LIMITS, PERIODS, THROTTLED, Series, prometheus_series
from remediator.evidence.relations import dig, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding
from remediator.quantity import parse_quantity

PROBE = re.compile(r"(Liveness|Readiness|Startup) probe (?:failed|errored)", re.I)
TIMEOUT = re.compile(
    r"context deadline exceeded|Client\.Timeout exceeded|timed out|timeout: failed to connect|DeadlineExceeded", re.I
)
THRESHOLD = 0.25  # share of CFS periods throttled
AT_LIMIT = Decimal("0.9")  # usage / limit that counts as "at the limit"


def _ratio_query(s: Series) -> bool:
    return (s.uses(THROTTLED) and s.uses(PERIODS)) or any("throttl" in m and "ratio" in m for m in s.metrics)


def _as_ratio(v: float, q: str) -> float:
    return v / 100 if v > 1 and "100" in q else v


def _matches(ev: Evidence, s: Series, pod: Obj, container: str) -> bool:
    ref = ref_of(pod)
    ns, name, c = s.label("namespace"), s.label("pod", "pod_name"), s.label("container", "container_name")
    if ns and ns != ref.namespace:
        return False
    if c != container and not (not c and len(pod_container_specs(pod)) == 1):
        return False
    if not name or name == ref.name:
        return True
    other = ev.get("Pod", ref.namespace, name)  # another pod of the same workload counts too
    return other is not None and workload_of(ev, other) == workload_of(ev, pod)


def throttled_share(ev: Evidence, pod: Obj, container: str) -> tuple[float, str] | None:
    """The largest throttled share of the container's CFS periods the Prometheus answers show."""
    best: tuple[float, str] | None = None
    series = [s for s in prometheus_series(ev) if _matches(ev, s, pod, container)]
    periods = [s for s in series if s.uses(PERIODS) and not s.uses(THROTTLED)]
    for s in series:
        share: float | None = None
        if _ratio_query(s):
            share = max(_as_ratio(v, s.query) for v in s.values)
        elif s.uses(THROTTLED):
            for p in periods:
                pairs = [(t, n) for t, n in zip(s.values, p.values, strict=False) if n > 0]
                if pairs:
                    share = max(t / n for t, n in pairs)
        if share is not None and (best is None or share > best[0]):
            best = (share, s.cite(f"{share:.0%}"))
    return best


def prometheus_usage(ev: Evidence, pod: Obj, container: str, limit: str | None) -> tuple[Decimal, str] | None:
    """The container's largest CPU usage as a share of its limit, from a Prometheus answer on
    ``container_cpu_usage_seconds_total`` (a rate in cores, or already divided by the limit)."""
    try:
        cap = parse_quantity(limit).value if limit else None
    except ValueError:
        cap = None
    best: tuple[Decimal, str] | None = None
    for s in prometheus_series(ev):
        if not s.uses(*CPU_USAGE) or s.uses(THROTTLED, PERIODS) or not _matches(ev, s, pod, container):
            continue
        peak = Decimal(str(max(s.values)))
        if s.uses(*LIMITS) or "limit" in s.query.lower():
            share, text = peak, f"{peak:.0%} of its limit"
        elif cap:
            share, text = peak / cap, f"{peak:.3f} cores of limit {limit}"
        else:
            continue
        if best is None or share > best[0]:
            best = (share, s.cite(text))
    return best


def usage_at_limit(ev: Evidence, pod: Obj, container: str, limit: str | None) -> str | None:
    """A PodMetrics line when the container's CPU usage is at its limit."""
    if not limit:
        return None
    ref = ref_of(pod)
    pm = ev.get("PodMetrics", ref.namespace, ref.name)
    for c in (pm or {}).get("containers") or []:
        if not isinstance(c, dict) or c.get("name") != container:
            continue
        try:
            used, cap = parse_quantity(str(dig(c, "usage", "cpu"))).value, parse_quantity(limit).value
        except ValueError:
            return None
        if cap > 0 and used >= cap * AT_LIMIT:
            return f"PodMetrics {ref.namespace}/{ref.name} container {container}: cpu {dig(c, 'usage', 'cpu')} of limit {limit}"
    return None


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for pod in scoped_pods(ev):
        events = [e for e in events_of(ev, pod) if PROBE.search(e.message) and TIMEOUT.search(e.message)]
        for cname, spec in pod_container_specs(pod).items():
            limit = dig(spec, "resources", "limits", "cpu")
            limit = str(limit) if limit is not None else None
            share = throttled_share(ev, pod, cname)
            lines: list[EvidenceLine] = []
            if share is not None and share[0] > THRESHOLD:
                lines.append(EvidenceLine("metrics", share[1]))
            at_limit = usage_at_limit(ev, pod, cname, limit)
            prom = prometheus_usage(ev, pod, cname, limit)
            if at_limit:
                lines.append(EvidenceLine("metrics", at_limit))
            if prom is not None and prom[0] >= AT_LIMIT:
                lines.append(EvidenceLine("metrics", prom[1]))
            usage_full = bool(at_limit) or (prom is not None and prom[0] >= AT_LIMIT)
            if not lines or (not events and not (len(lines) >= 2 and share and usage_full)):
                continue
            if not events:
                out.append(_metrics_only(ev, pod, cname, spec, limit, share, lines, prom))
                continue
            m = PROBE.search(events[-1].message)
            probe = m.group(1).lower() if m else "liveness"
            wl = workload_of(ev, pod)
            how = f"{share[0]:.0%} of its CFS periods throttled" if share and share[0] > THRESHOLD else "at its limit"
            cause = f"container {cname} is throttled at its CPU limit {limit or '(unknown)'} ({how})"
            out.append(
                finding(
                    Category.CPU_THROTTLING,
                    wl,
                    f"{cause}; its {probe} probe times out",
                    confidence=0.85,
                    chain=(f"{wl} is not available", f"the {probe} probe of {cname} times out", cause),
                    evidence=[*(event_line(e) for e in events[-2:]), *lines],
                    detector="cpu_throttling",
                    affects=affects(ev, pod),
                    details={
                        "container": cname,
                        "probe": probe,
                        "cpu_limit": limit,
                        "cpu_request": dig(spec, "resources", "requests", "cpu"),
                        "throttled": round(share[0], 3) if share else None,
                        "usage_ratio": float(round(prom[0], 3)) if prom else None,
                        "usage_at_limit": usage_full,
                    },
                )
            )
    return out


def _metrics_only(
    ev: Evidence,
    pod: Obj,
    cname: str,
    spec: dict[str, object],
    limit: str | None,
    share: tuple[float, str] | None,
    lines: list[EvidenceLine],
    prom: tuple[Decimal, str] | None,
) -> Finding:
    wl = workload_of(ev, pod)
    cause = f"container {cname} is throttled at its CPU limit {limit or '(unknown)'} ({share[0] if share else 0:.0%} of its CFS periods)"
    return finding(
        Category.CPU_THROTTLING,
        wl,
        f"{cause}; it uses all the CPU its limit allows",
        confidence=0.6,
        chain=(f"{wl} is slowed down", cause),
        evidence=lines,
        detector="cpu_throttling",
        affects=affects(ev, pod),
        details={
            "container": cname,
            "probe": None,
            "cpu_limit": limit,
            "cpu_request": dig(spec, "resources", "requests", "cpu"),
            "throttled": round(share[0], 3) if share else None,
            "usage_ratio": float(round(prom[0], 3)) if prom else None,
            "usage_at_limit": True,
        },
    )


DETECTOR = Detector(
    "cpu_throttling",
    (Category.CPU_THROTTLING,),
    detect,
    "probe timeouts while the container is CFS-throttled at its CPU limit (Prometheus, PodMetrics)",
)
