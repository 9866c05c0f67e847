"""Metrics as evidence: queries to any server that speaks the Prometheus HTTP API (Prometheus,
VictoriaMetrics, Thanos, Mimir), scoped to the app's failing pods and containers. Every answer, or
error, becomes a ``Probe`` exactly as a snapshot's ``probes/`` folder records it
(``{"url": <query URL>, "status": 200, "body": <as the API answered>}`` or ``{"url", "error"}``),
so ``diagnose``/``fix`` read live and recorded metrics the same way. An error never fails a run.

Why httpx and not a client library such as prometheus-api-client: we need two documented GET
endpoints (``/api/v1/query``, ``/api/v1/query_range``) whose JSON we keep verbatim; httpx is a
dependency we already have (registries, model servers, Argo CD), and it gives us the control a
probe needs: per-request timeouts, bearer/basic auth from env vars, a byte bound on the answer
read as a stream, and a test transport. prometheus-api-client pulls in pandas/numpy/matplotlib,
converts answers into its own objects (we would have to turn them back into the API's JSON) and
hides timeouts and errors we must record.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import httpx

from remediator.evidence.store import Evidence, Obj, Probe
from remediator.policy import Metrics

SOURCE = "prometheus"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_MAX_PODS = 20  # pod patterns per query: a bounded URL


def seconds(duration: str) -> float:
    """A Prometheus duration (``1h30m``, ``5m``, ``30s``) in seconds."""
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))


def regex_escape(name: str) -> str:
    """A literal for an RE2 regex (Kubernetes names only ever need ``.`` escaped, but be exact)."""
    return "".join("\\" + ch if ch in "\\.^$|?*+()[]{}" else ch for ch in name)


def string_literal(value: str) -> str:
    """A PromQL double-quoted string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class PrometheusClient:
    """Instant and range queries; each returns the Probe to record."""

    def __init__(self, cfg: Metrics, transport: httpx.BaseTransport | None = None) -> None:
        if not cfg.url:
            raise ValueError("metrics.url is not set")
        self.base = cfg.url.rstrip("/")
        self.cfg = cfg
        self.warnings: list[str] = []
        headers: dict[str, str] = {"Accept": "application/json"}
        auth: httpx.BasicAuth | None = None
        if cfg.bearer_token_env:
            token = os.environ.get(cfg.bearer_token_env, "")
            if token:
                headers["Authorization"] = f"Bearer {token}"
            else:
                self.warnings.append(f"metrics: ${cfg.bearer_token_env} is not set; querying without a token")
        if cfg.basic_auth is not None:
            password = os.environ.get(cfg.basic_auth.password_env)
            if password is None:
                self.warnings.append(f"metrics: ${cfg.basic_auth.password_env} is not set; querying without a password")
            else:
                auth = httpx.BasicAuth(cfg.basic_auth.username, password)
        self._client = httpx.Client(
            timeout=cfg.timeout_seconds, transport=transport, headers=headers, auth=auth, follow_redirects=False
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def instant(self, query: str, at: float | None = None) -> Probe:
        params = {"query": query} | ({"time": _ts(at)} if at is not None else {})
        return self._get("/api/v1/query", params)

    def range(self, query: str, start: float, end: float, step: str) -> Probe:
        return self._get("/api/v1/query_range", {"query": query, "start": _ts(start), "end": _ts(end), "step": step})

    def _get(self, path: str, params: dict[str, str]) -> Probe:
        url = f"{self.base}{path}?{urlencode(params)}"
        try:
            with self._client.stream("GET", url) as r:
                raw = bytearray()
                for chunk in r.iter_bytes():
                    raw += chunk
                    if len(raw) > self.cfg.max_bytes:
                        return Probe(url, None, None, f"answer larger than {self.cfg.max_bytes} bytes", SOURCE)
                status = r.status_code
        except httpx.HTTPError as e:
            return Probe(url, None, None, f"{type(e).__name__}: {e}"[:300], SOURCE)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = bytes(raw[:500]).decode("utf-8", "replace")
        if status == 200 and not isinstance(body, dict):
            return Probe(url, None, None, "answer is not a Prometheus API JSON object", SOURCE)
        return Probe(url, status, self._bounded(body), None, SOURCE)

    def _bounded(self, body: Any) -> Any:
        """At most ``max_series`` series, the API's own ``warnings`` saying how many were left out."""
        data = body.get("data") if isinstance(body, dict) else None
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, list) and len(result) > self.cfg.max_series:
            kept = self.cfg.max_series
            warning = f"remediator: kept {kept} of {len(result)} series"
            body = {**body, "data": {**data, "result": result[:kept]}}  # type: ignore[dict-item]
            body["warnings"] = [*body.get("warnings", []), warning]
        return body


def _ts(t: float) -> str:
    return f"{t:.3f}"


# --- what to ask ----------------------------------------------------------------------------------


def _failing(pod: Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") not in ("Running", "Succeeded"):
        return True
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if not cs.get("ready") and (cs.get("state") or {}).get("terminated", {}).get("reason") != "Completed":
            return True
        if cs.get("restartCount", 0) > 0:
            return True
    return False


def _pod_pattern(pod: Obj) -> str:
    """The pod's name as a regex matching its siblings too (pods the same workload ran before a
    rollout: a leak after a release shows in the previous ReplicaSet's pods)."""
    meta = pod.get("metadata") or {}
    name = str(meta.get("name", ""))
    owners = meta.get("ownerReferences") or []
    owner = owners[0] if owners and isinstance(owners[0], dict) else {}
    kind, oname = owner.get("kind"), str(owner.get("name", ""))
    if kind == "ReplicaSet" and "-" in oname and name.startswith(oname + "-"):
        return regex_escape(oname.rsplit("-", 1)[0]) + "-[a-z0-9]+-[a-z0-9]+"
    if kind in ("StatefulSet", "DaemonSet", "Job") and oname and name.startswith(oname + "-"):
        return regex_escape(oname) + "-[a-z0-9]+"
    return regex_escape(name)


def _alternation(items: Iterable[str]) -> str:
    return "|".join(sorted(set(items)))


class Scope:
    """The label matchers of the app's failing pods (all its pods when none fails), per namespace."""

    def __init__(self, ev: Evidence, cfg: Metrics) -> None:
        pods = [p for p in ev.scoped("Pod") if (p.get("metadata") or {}).get("name")]
        failing = [p for p in pods if _failing(p)] or pods
        self.by_ns: dict[str, tuple[set[str], set[str], set[str]]] = {}
        for pod in failing[:_MAX_PODS]:
            ns = str(pod["metadata"].get("namespace") or "default")
            pats, conts, claims = self.by_ns.setdefault(ns, (set(), set(), set()))
            pats.add(_pod_pattern(pod))
            spec = pod.get("spec") or {}
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                if c.get("name"):
                    conts.add(regex_escape(str(c["name"])))
            for v in spec.get("volumes") or []:
                claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    claims.add(regex_escape(str(claim)))
        for pvc in ev.scoped("PersistentVolumeClaim"):
            meta = pvc.get("metadata") or {}
            if meta.get("name"):
                ns = str(meta.get("namespace") or "default")
                self.by_ns.setdefault(ns, (set(), set(), set()))[2].add(regex_escape(str(meta["name"])))
        self.ingresses: dict[str, set[str]] = {}
        for ing in ev.scoped("Ingress"):
            meta = ing.get("metadata") or {}
            if meta.get("name"):
                ns = str(meta.get("namespace") or "default")
                self.ingresses.setdefault(ns, set()).add(regex_escape(str(meta["name"])))
        self.labels = cfg.labels

    def containers(self, ns: str) -> str:
        pods, conts, _ = self.by_ns[ns]
        lb = self.labels
        parts = [f"{lb.namespace}={string_literal(ns)}", f"{lb.pod}=~{string_literal(_alternation(pods))}"]
        if conts:
            parts.append(f"{lb.container}=~{string_literal(_alternation(conts))}")
        return "{" + ", ".join(parts) + "}"

    def volumes(self, ns: str) -> str:
        lb = self.labels
        claims = self.by_ns[ns][2]
        claim = string_literal(_alternation(claims))
        return "{" + f"{lb.namespace}={string_literal(ns)}, {lb.persistentvolumeclaim}=~{claim}" + "}"


def queries(scope: Scope, cfg: Metrics) -> list[tuple[str, str]]:
    """(kind, PromQL) pairs; kind is ``instant``, ``range`` or ``instant-if-any`` (dropped when empty)."""
    w = cfg.window
    out: list[tuple[str, str]] = []
    for ns, (pods, _, claims) in sorted(scope.by_ns.items()):
        if pods:
            sel = scope.containers(ns)
            out += [
                ("instant", f"max_over_time(container_memory_working_set_bytes{sel}[{w}])"),
                ("range", f"container_memory_working_set_bytes{sel}"),
                ("instant", f"kube_pod_container_status_restarts_total{sel}"),
                (
                    "instant",
                    f"rate(container_cpu_cfs_throttled_periods_total{sel}[5m])"
                    f" / rate(container_cpu_cfs_periods_total{sel}[5m])",
                ),
                ("instant", f"rate(container_cpu_usage_seconds_total{sel}[5m])"),
            ]
        if claims:
            by = f"{scope.labels.namespace}, {scope.labels.persistentvolumeclaim}"
            vsel = scope.volumes(ns)
            out.append(
                (
                    "instant",
                    f"max by ({by}) (kubelet_volume_stats_used_bytes{vsel})"
                    f" / max by ({by}) (kubelet_volume_stats_capacity_bytes{vsel})",
                )
            )
    for ns, names in sorted(scope.ingresses.items()):
        sel = f"{scope.labels.namespace}={string_literal(ns)}, ingress=~{string_literal(_alternation(names))}"
        out.append(
            (
                "instant-if-any",
                f'sum by (ingress) (rate(nginx_ingress_controller_requests{{{sel}, status=~"5.."}}[5m]))'
                f" / sum by (ingress) (rate(nginx_ingress_controller_requests{{{sel}}}[5m]))",
            )
        )
    return out


def _empty(p: Probe) -> bool:
    data = p.body.get("data") if p.status == 200 and isinstance(p.body, dict) else None
    return isinstance(data, dict) and data.get("result") == []


def probe_metrics(
    ev: Evidence, cfg: Metrics, transport: httpx.BaseTransport | None = None, now: float | None = None
) -> int:
    """Ask the metrics server about the app's pods; append one Probe per query. Returns how many."""
    if not cfg.url:
        return 0
    scope = Scope(ev, cfg)
    asked = queries(scope, cfg)
    if not asked:
        return 0
    end = time.time() if now is None else now
    n = 0
    with PrometheusClient(cfg, transport) as client:
        ev.errors.extend(client.warnings)
        for kind, q in asked:
            start = end - seconds(cfg.window)
            p = client.range(q, start, end, cfg.step) if kind == "range" else client.instant(q, now)
            if kind == "instant-if-any" and _empty(p):
                continue
            ev.probes.append(p)
            n += 1
            if p.error or p.status != 200:
                ev.errors.append(f"metrics: {p.error or f'HTTP {p.status}'} ({cfg.url})")
                if p.error and ("Connect" in p.error or "Timeout" in p.error):
                    break  # the server is not there: do not wait for every query
    return n
