"""Prometheus (or VictoriaMetrics) query answers among the probes: ``GET .../api/v1/query?query=...``
and ``.../api/v1/query_range?...``, body as the HTTP API answers
(``{"status": "success", "data": {"resultType": "vector" | "matrix", "result": [...]}}``).

A probe is recognised by the PromQL in its URL, whatever its file name. PromQL is read just enough:
the metric names of its selectors (never a name inside a label value string) and their label
matchers, and the window of a ``[1h]`` range or of a ``query_range`` span."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from remediator.evidence.store import Evidence, Probe

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.I)
_RANGE = re.compile(r"\[([^\[\]]*)\]")
_IDENT = re.compile(r"(?<![\w.:\"])([A-Za-z_:][\w:]*)\s*(\{[^{}]*\})?")
_BARE = re.compile(r"(?<![\w:])\{([^{}]*)\}")
_MATCHER = re.compile(r"(?<!\w)([A-Za-z_][\w]*)\s*(=~|!~|!=|=)\s*(\x00\d+\x00)")
_CALL = re.compile(r"\s*\(")  # a function call follows a name
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS |= {"inf", "nan", "atan2", "start", "end"}

MEMORY = ("container_memory_working_set_bytes", "container_memory_rss")
CPU_USAGE = ("container_cpu_usage_seconds_total",)
THROTTLED = "container_cpu_cfs_throttled_periods_total"
PERIODS = "container_cpu_cfs_periods_total"
VOLUME_USED = "kubelet_volume_stats_used_bytes"
VOLUME_AVAILABLE = "kubelet_volume_stats_available_bytes"
VOLUME_CAPACITY = "kubelet_volume_stats_capacity_bytes"
LIMITS = ("kube_pod_container_resource_limits", "container_spec_cpu_quota")


@dataclass(frozen=True)
class Selector:
    """One vector selector of a query: its metric name ("" when none) and its label matchers."""

    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)


def duration_seconds(text: str) -> float | None:
    """``5m`` -> 300, ``1h30m`` -> 5400; None when ``text`` is not a PromQL duration."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def human_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def selectors(query: str) -> list[Selector]:
    """The vector selectors of ``query``. String literals are masked first, so a metric name inside a
    label value (``job="container_memory_rss"``) is not taken for a selector."""
    strings: list[str] = []

    def mask(m: re.Match[str]) -> str:
        strings.append(m.group(0)[1:-1])
        return f"\x00{len(strings) - 1}\x00"

    q = _STRING.sub(mask, query)
    q = _GROUPING.sub(" ", q)
    q = _RANGE.sub(" ", q)

    def matchers(body: str) -> tuple[tuple[str, str, str], ...]:
        return tuple((n, op, strings[int(v.strip("\x00"))]) for n, op, v in _MATCHER.findall(body))

    braces = [(m.start(), m.end()) for m in re.finditer(r"\{[^{}]*\}", q)]
    starts = [a for a, _ in braces]
    out: list[Selector] = []
    for m in _IDENT.finditer(q):
        name, body = m.group(1), m.group(2)
        i = bisect_left(starts, m.start()) - 1  # the last brace opened before this name
        if i >= 0 and m.start() < braces[i][1]:
            continue  # a label name inside a selector's braces
        if name.lower() in _KEYWORDS or (body is None and _CALL.match(q, m.end())):
            continue
        out.append(Selector(name, matchers(body or "")))
    for m in _BARE.finditer(q):
        ms = matchers(m.group(1))
        name = next((v for n, op, v in ms if n == "__name__" and op == "="), "")
        if name or ms:
            out.append(Selector(name, tuple(x for x in ms if x[0] != "__name__")))
    return out


def query_of(url: str) -> str | None:
    """The PromQL of a query URL, or None when the URL is not a Prometheus query."""
    parts = urlsplit(url)
    if not parts.path.rstrip("/").endswith(("/api/v1/query", "/api/v1/query_range")):
        return None
    q = parse_qs(parts.query).get("query")
    return q[0] if q else ""


def window_of(url: str, query: str) -> str:
    """What the answer covers: the largest ``[range]`` of the query, and a ``query_range`` span."""
    ranges = [d for r in _RANGE.findall(_STRING.sub('""', query)) if (d := duration_seconds(r.split(":")[0]))]
    parts = []
    if ranges:
        parts.append(human_duration(max(ranges)))
    params = parse_qs(urlsplit(url).query)
    try:
        start, end = float(params["start"][0]), float(params["end"][0])
    except (KeyError, ValueError):
        start = end = 0.0
    if end > start:
        parts.append(f"range of {human_duration(end - start)}")
    return " over a ".join(parts) if len(parts) == 2 else (parts[0] if parts else "instant")


def _number(x: object) -> float | None:
    try:
        v = float(str(x))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class Series:
    """One series of a query answer: the query (PromQL as asked), its labels, its sample values (and
    their times), the metric names and equality matchers of the query, and the window it covers."""

    query: str
    labels: dict[str, str]
    values: tuple[float, ...]
    source: str
    times: tuple[float, ...] = ()
    metrics: frozenset[str] = frozenset()
    matchers: dict[str, str] = field(default_factory=dict)
    window: str = "instant"

    def label(self, *names: str) -> str:
        """The first of ``names`` the series carries (cAdvisor's ``container`` / older ``container_name``);
        else the value every selector of the query matches it with exactly (an aggregated answer)."""
        found = next((self.labels[n] for n in names if n in self.labels), "")
        return found or next((self.matchers[n] for n in names if n in self.matchers), "")

    def uses(self, *names: str) -> bool:
        """The query selects a metric whose name contains one of ``names`` (recording rules included)."""
        return any(n in m for m in self.metrics for n in names)

    def cite(self, value: str) -> str:
        return f"{self.source}: {self.query[:200]} = {value} ({self.window})"


def _equalities(sels: list[Selector]) -> dict[str, str]:
    seen: dict[str, set[str]] = {}
    for s in sels:
        for n, op, v in s.matchers:
            if op == "=":
                seen.setdefault(n, set()).add(v)
    return {n: next(iter(vs)) for n, vs in seen.items() if len(vs) == 1}


def series_of(p: Probe) -> list[Series]:
    query = query_of(p.url)
    if query is None or p.error or p.status not in (None, 200) or not isinstance(p.body, dict):
        return []
    data = p.body.get("data")
    if p.body.get("status") != "success" or not isinstance(data, dict) or not isinstance(data.get("result"), list):
        return []
    sels = selectors(query)
    names = frozenset(s.metric for s in sels if s.metric)
    eq, window = _equalities(sels), window_of(p.url, query)
    out: list[Series] = []
    for item in data["result"]:
        if not isinstance(item, dict):
            continue
        metric = item.get("metric")
        labels = {str(k): str(v) for k, v in metric.items()} if isinstance(metric, dict) else {}
        raw = item.get("values")
        samples: list[object] = raw if isinstance(raw, list) else [item.get("value")]
        values, times = [], []
        for s in samples:
            if isinstance(s, list) and len(s) == 2:
                v, t = _number(s[1]), _number(s[0])
                if v is not None:
                    values.append(v)
                    times.append(t if t is not None else 0.0)
        if values:
            out.append(Series(query, labels, tuple(values), p.source, tuple(times), names, eq, window))
    return out


def prometheus_series(ev: Evidence) -> list[Series]:
    """Every series of every Prometheus query answer in the evidence (memoised per store)."""
    memo = ev.memo("prometheus_series")
    if "all" not in memo:
        memo["all"] = [s for p in ev.probes for s in series_of(p)]
    found: list[Series] = memo["all"]
    return found


def for_container(ev: Evidence, namespace: str, pod_prefix: str, container: str, only_one: bool) -> list[Series]:
    """Series of the container in pods whose names start with ``pod_prefix`` (a workload's name + "-")
    in ``namespace``; a series without a container label counts when the pod has one container."""
    out = []
    for s in prometheus_series(ev):
        ns, pod, c = s.label("namespace"), s.label("pod", "pod_name"), s.label("container", "container_name")
        if ns and ns != namespace:
            continue
        if pod and not pod.startswith(pod_prefix):
            continue
        if not pod and not ns:
            continue
        if c != container and not (not c and only_one):
            continue
        out.append(s)
    return out
