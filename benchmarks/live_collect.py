"""Live collection from the Kubernetes API: one Degraded app of 10 pods (3 of them crash-looping) in a
cluster of 1k and 10k pods (filler pods spread over 50 namespaces, 20 resp. 200 nodes), the app alone
in its namespace and sharing one with filler pods, served by the FAKE Kubernetes API with a
per-request latency of 0, 20 and 100 ms.

For each case: the concurrent, scoped collector (``LiveSource.load``, pool 16) against the minimal
concurrent request set a person would issue with kubectl for the same evidence (``MINIMAL`` below:
the app, its labelled lists, the failing pods' events, logs and nodes), sent over the same fake in
threads. ``findings_equal``: the diagnosis equals the one from the sequential collector's evidence
(every list of the app's namespaces, every cluster list, both logs of every container).

Prints a table; the last line is JSON:
{"requests", "bytes", "wall_s_100ms", "minimal_s_100ms", "ratio", "argocd_wall_s_100ms", "findings_equal"}
(``argocd_wall_s_100ms`` from ``benchmarks/live_collect_argocd.py``'s ``measure`` when that file exists).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from remediator.diagnose import diagnose  # noqa: E402
from remediator.evidence.sources.live import LiveSource  # noqa: E402
from remediator.model import Finding  # noqa: E402
from tests.fakes.kube_api import FakeKubeAPI  # noqa: E402

Obj = dict[str, Any]
APP, CONCURRENCY, NAMESPACES = "shop", 16, 50
INSTANCE = "app.kubernetes.io/instance"
CRASH = ["2026-01-01T00:00:00Z INFO starting worker", "2026-01-01T00:00:01Z ERROR dial tcp db:5432: connection refused",
         "panic: cannot reach the database"]  # fmt: skip


def _meta(ns: str, name: str, app: str, owner: tuple[str, str] | None = None) -> Obj:
    m: Obj = {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}", "labels": {INSTANCE: app, "app": name}}
    if owner:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True}]
    return m


def _pod(ns: str, name: str, app: str, rs: str, node: str, containers: list[str], crash: bool) -> Obj:
    statuses = []
    for c in containers:
        st: Obj = {"name": c, "ready": True, "restartCount": 0, "image": f"registry.local/{c}:2",
                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}  # fmt: skip
        if crash and c == containers[0]:
            st.update(ready=False, restartCount=7, state={"waiting": {"reason": "CrashLoopBackOff",
                      "message": "back-off 5m0s restarting failed container"}},
                      lastState={"terminated": {"reason": "Error", "exitCode": 2}})  # fmt: skip
        statuses.append(st)
    pod: Obj = {"kind": "Pod", "apiVersion": "v1", "metadata": _meta(ns, name, app, ("ReplicaSet", rs))}
    pod["metadata"]["labels"]["app"] = rs.rsplit("-", 1)[0]
    pod["spec"] = {"nodeName": node, "serviceAccountName": "shop",
                   "containers": [{"name": c, "image": f"registry.local/{c}:2",
                                   "envFrom": [{"configMapRef": {"name": "shop-config"}}]} for c in containers]}  # fmt: skip
    ready = "False" if crash else "True"
    pod["status"] = {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": statuses,
                     "conditions": [{"type": "Ready", "status": ready}, {"type": "PodScheduled", "status": "True"}]}  # fmt: skip
    return pod


def _event(ns: str, kind: str, name: str, reason: str, message: str, kind_type: str = "Warning") -> Obj:
    return {"kind": "Event", "apiVersion": "v1", "metadata": {"name": f"{name}.{reason.lower()}", "namespace": ns},
            "involvedObject": {"kind": kind, "name": name, "namespace": ns, "uid": f"uid-{ns}-{name}"},
            "reason": reason, "message": message, "type": kind_type, "count": 5,
            "lastTimestamp": "2026-01-01T00:10:00Z"}  # fmt: skip


def generate(pods: int, shared: bool) -> tuple[list[Obj], dict[tuple[str, str, str, bool], list[str]], list[str]]:
    """The cluster's objects, its logs, and the names of the crash-looping pods."""
    nodes = max(20, pods // 50)
    objs: list[Obj] = [{"kind": "Node", "apiVersion": "v1", "metadata": {"name": f"node-{i:03d}"},
                        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                   "allocatable": {"cpu": "8", "memory": "32Gi"}}} for i in range(nodes)]  # fmt: skip
    objs.append({"kind": "StorageClass", "apiVersion": "storage.k8s.io/v1", "metadata": {"name": "standard"},
                 "provisioner": "rancher.io/local-path"})  # fmt: skip
    for i in range(pods):  # filler: healthy pods of 50 other apps, each with a Normal event
        ns = f"team-{i % NAMESPACES:02d}"
        objs.append(_pod(ns, f"filler-{i:05d}", ns, f"filler-{ns}-7d9f", f"node-{i % nodes:03d}", ["app"], False))
        objs.append(_event(ns, "Pod", f"filler-{i:05d}", "Pulled", "Container image already present", "Normal"))
    ns = "team-00" if shared else APP
    resources = []
    for dep, containers, crashing in (("api", ["api", "proxy"], 0), ("worker", ["worker"], 3)):
        rs = f"{dep}-6c9f8d7b55"
        d: Obj = {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {**_meta(ns, dep, APP), "generation": 1},
                  "spec": {"replicas": 5, "selector": {"matchLabels": {"app": dep}},
                           "template": {"metadata": {"labels": {"app": dep}},
                                        "spec": {"serviceAccountName": "shop",
                                                 "containers": [{"name": c, "image": f"registry.local/{c}:2"}
                                                                for c in containers]}}},
                  "status": {"observedGeneration": 1, "replicas": 5, "updatedReplicas": 5,
                             "readyReplicas": 5 - crashing, "availableReplicas": 5 - crashing,
                             "unavailableReplicas": crashing}}  # fmt: skip
        if crashing:
            d["status"]["conditions"] = [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}
            ]
        r: Obj = {"kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": _meta(ns, rs, APP, ("Deployment", dep)),
                  "spec": {"replicas": 5}, "status": {"replicas": 5, "readyReplicas": 5 - crashing}}  # fmt: skip
        objs += [d, r]
        resources.append({"kind": "Deployment", "group": "apps", "version": "v1", "namespace": ns, "name": dep,
                          "health": {"status": "Degraded" if crashing else "Healthy"}})  # fmt: skip
        for j in range(5):
            name = f"{rs}-{dep[0]}{j}x2m"
            objs.append(_pod(ns, name, APP, rs, f"node-{(j * 37 + len(dep)) % nodes:03d}", containers, j < crashing))
    for kind, name, extra in (
        ("Service", "api", {"spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
        ("ConfigMap", "shop-config", {"data": {"DB_HOST": "db"}}),
        ("ServiceAccount", "shop", {}),
    ):
        objs.append({"kind": kind, "apiVersion": "v1", "metadata": _meta(ns, name, APP), **extra})
        resources.append({"kind": kind, "version": "v1", "namespace": ns, "name": name})
    objs.append({"kind": "Endpoints", "apiVersion": "v1", "metadata": _meta(ns, "api", APP),
                 "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 8080}]}]})  # fmt: skip
    objs.append({"kind": "Application", "apiVersion": "argoproj.io/v1alpha1",
                 "metadata": {"name": APP, "namespace": "argocd"},
                 "spec": {"destination": {"namespace": ns, "server": "https://kubernetes.default.svc"},
                          "source": {"repoURL": "https://git.local/shop.git", "path": "deploy", "targetRevision": "main"}},
                 "status": {"health": {"status": "Degraded"}, "sync": {"status": "Synced"}, "resources": resources}})  # fmt: skip
    logs: dict[tuple[str, str, str, bool], list[str]] = {}
    crashing_pods = []
    for o in objs:
        if o["kind"] == "Pod" and o["metadata"]["labels"].get(INSTANCE) == APP:
            for cs in o["status"]["containerStatuses"]:
                logs[(ns, o["metadata"]["name"], cs["name"], False)] = ["2026-01-01T00:00:00Z INFO started"] * 50
                if cs["restartCount"]:
                    logs[(ns, o["metadata"]["name"], cs["name"], True)] = CRASH
                    crashing_pods.append(o["metadata"]["name"])
                    objs.append(_event(ns, "Pod", o["metadata"]["name"], "BackOff",
                                       "Back-off restarting failed container worker"))  # fmt: skip
    return objs, logs, crashing_pods


def minimal(api: FakeKubeAPI, ns: str, crashing: list[str], nodes: list[str]) -> list[tuple[str, str]]:
    """What a person types, as (path, Accept): ``kubectl get app``, ``get pods,deploy,rs,svc,ep,cm,sa,pvc
    -l instance=shop``, ``get secrets`` (names only), ``get events --field-selector involvedObject.name=…``
    for each failing pod and the Degraded Deployment, ``logs`` and ``logs --previous`` of each failing
    container, ``get node`` of each failing pod's node."""
    sel = "?" + urllib.parse.urlencode({"labelSelector": f"{INSTANCE}={APP}"})
    meta = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    out = [(f"/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{APP}", "application/json")]
    core = ["pods", "services", "endpoints", "configmaps", "serviceaccounts", "persistentvolumeclaims"]
    out += [(f"/api/v1/namespaces/{ns}/{p}{sel}", "application/json") for p in core]
    out += [(f"/apis/apps/v1/namespaces/{ns}/{p}{sel}", "application/json") for p in ("deployments", "replicasets")]
    out.append((f"/api/v1/namespaces/{ns}/secrets{sel}", meta))
    for name in [*crashing, "worker"]:
        q = urllib.parse.urlencode({"fieldSelector": f"involvedObject.name={name}"})
        out.append((f"/api/v1/namespaces/{ns}/events?{q}", "application/json"))
    for pod in crashing:
        for prev in ("false", "true"):
            q = urllib.parse.urlencode({"container": "worker", "tailLines": 500, "previous": prev})
            out.append((f"/api/v1/namespaces/{ns}/pods/{pod}/log?{q}", "text/plain"))
    out += [(f"/api/v1/nodes/{n}", "application/json") for n in nodes]
    return out


def _fetch(url: str, accept: str) -> int:
    req = urllib.request.Request(url, headers={"Authorization": "Bearer fake-token", "Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return len(resp.read())


def key(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.category.value, str(f.culprit), f.summary) for f in findings]


def case(pods: int, shared: bool, latencies: tuple[float, ...], kc: Path) -> list[dict[str, Any]]:
    objs, logs, crashing = generate(pods, shared)
    ns = "team-00" if shared else APP
    rows = []
    with FakeKubeAPI(None, objects=objs) as api:
        api.logs = logs
        reference = key(diagnose(api.sequential_evidence(APP), APP).findings)
        nodes = sorted(
            {o["spec"]["nodeName"] for o in objs if o["kind"] == "Pod" and o["metadata"]["name"] in crashing}
        )
        plan = minimal(api, ns, crashing, nodes)
        for latency in latencies:
            api.latency = latency
            api.reset_counters()
            t0 = time.perf_counter()
            ev = LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(kc), concurrency=CONCURRENCY).load(APP)
            wall = time.perf_counter() - t0
            requests, sent = len(api.requests), api.bytes_sent
            found = key(diagnose(ev, APP).findings)
            api.reset_counters()
            t0 = time.perf_counter()
            _fetch(api.url + plan[0][0], plan[0][1])  # the app first: it names the namespace
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                list(pool.map(lambda p: _fetch(api.url + p[0], p[1]), plan[1:]))
            min_wall = time.perf_counter() - t0
            rows.append({"pods": pods, "shared": shared, "latency_ms": round(latency * 1000), "requests": requests,
                         "bytes": sent, "wall_s": round(wall, 3), "minimal_requests": len(api.requests),
                         "minimal_bytes": api.bytes_sent, "minimal_s": round(min_wall, 3),
                         "findings_equal": found == reference and bool(found), "top": found[0][0] if found else None})  # fmt: skip
    return rows


def argocd_wall(latency: float) -> float | None:
    path = ROOT / "benchmarks" / "live_collect_argocd.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("live_collect_argocd", path)
    if spec is None or spec.loader is None:
        return None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    got = mod.measure(latency)
    wall = got.get("wall_s", got.get("wall_s_100ms"))
    return float(wall) if wall is not None else None


def main() -> None:
    rows: list[dict[str, Any]] = []
    print(f"{'pods':>6} {'namespace':>9} {'lat':>6} {'req':>4} {'bytes':>9} {'wall':>7} | "
          f"{'min req':>7} {'min bytes':>9} {'min wall':>8} {'ratio':>5}  findings_equal")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for pods in (1000, 10_000):
            for shared in (False, True):
                for r in case(pods, shared, (0.0, 0.02, 0.1), Path(tmp) / "kc"):
                    rows.append(r)
                    ratio = r["wall_s"] / r["minimal_s"] if r["minimal_s"] else 0.0
                    print(f"{r['pods']:>6} {'shared' if shared else 'own':>9} {r['latency_ms']:>4}ms {r['requests']:>4} "
                          f"{r['bytes']:>9} {r['wall_s']:>6.3f}s | {r['minimal_requests']:>7} {r['minimal_bytes']:>9} "
                          f"{r['minimal_s']:>7.3f}s {ratio:>5.2f}  {r['findings_equal']} ({r['top']})", flush=True)  # fmt: skip
    at100 = [r for r in rows if r["latency_ms"] == 100]
    timed = [r for r in rows if r["latency_ms"] >= 20]
    try:
        argocd = argocd_wall(0.1)
    except Exception as e:  # the other source's benchmark must not hide this one's figures
        print(f"argocd benchmark failed: {type(e).__name__}: {e}")
        argocd = None
    summary = {
        "requests": max(r["requests"] for r in rows),
        "bytes": max(r["bytes"] for r in rows),
        "bytes_vs_minimal": round(max(r["bytes"] / r["minimal_bytes"] for r in rows), 2),
        "wall_s_100ms": max(r["wall_s"] for r in at100),
        "minimal_s_100ms": max(r["minimal_s"] for r in at100),
        "ratio": round(max(r["wall_s"] / r["minimal_s"] for r in timed), 2),
        "argocd_wall_s_100ms": argocd,
        "findings_equal": all(r["findings_equal"] for r in rows),
    }  # fmt: skip
    print(json.dumps(summary))
    # CI fails on the deterministic targets; wall-time ratios (target <= 2) are reported, not enforced
    if not summary["findings_equal"] or summary["requests"] > 30 or summary["bytes_vs_minimal"] > 2:
        sys.exit(1)


if __name__ == "__main__":
    main()
