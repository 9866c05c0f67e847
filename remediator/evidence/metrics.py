"""Prometheus (or VictoriaMetrics) query answers among the probes: ``GET .../api/v1/query?query=...``
and ``.../api/v1/query_range?...``, body as the HTTP API answers
(``{"status": "success", "data": {"resultType": "vector" | "matrix", "result": [...]}}``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from remediator.evidence.store import Evidence, Probe


@dataclass(frozen=True)
class Series:
    """One series of a query answer: the query (PromQL as asked), its labels, its sample values."""

    query: str
    labels: dict[str, str]
    values: tuple[float, ...]
    source: str

    def label(self, *names: str) -> str:
        """The first of ``names`` the series carries (cAdvisor's ``container`` / older ``container_name``)."""
        return next((self.labels[n] for n in names if n in self.labels), "")


def query_of(url: str) -> str | None:
    """The PromQL of a query URL, or None when the URL is not a Prometheus query."""
    parts = urlsplit(url)
    if not parts.path.rstrip("/").endswith(("/api/v1/query", "/api/v1/query_range")):
        return None
    q = parse_qs(parts.query).get("query")
    return q[0] if q else ""


def _number(x: object) -> float | None:
    try:
        v = float(str(x))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def series_of(p: Probe) -> list[Series]:
    query = query_of(p.url)
    if query is None or p.error or p.status not in (None, 200) or not isinstance(p.body, dict):
        return []
    data = p.body.get("data")
    if p.body.get("status") != "success" or not isinstance(data, dict) or not isinstance(data.get("result"), list):
        return []
    out: list[Series] = []
    for item in data["result"]:
        if not isinstance(item, dict):
            continue
        metric = item.get("metric")
        labels = {str(k): str(v) for k, v in metric.items()} if isinstance(metric, dict) else {}
        raw = item.get("values")
        samples: list[object] = raw if isinstance(raw, list) else [item.get("value")]
        values = []
        for s in samples:
            if isinstance(s, list) and len(s) == 2:
                v = _number(s[1])
                if v is not None:
                    values.append(v)
        if values:
            out.append(Series(query, labels, tuple(values), p.source))
    return out


def prometheus_series(ev: Evidence) -> list[Series]:
    """Every series of every Prometheus query answer in the evidence (memoised per store)."""
    memo = ev.memo("prometheus_series")
    if "all" not in memo:
        memo["all"] = [s for p in ev.probes for s in series_of(p)]
    found: list[Series] = memo["all"]
    return found
