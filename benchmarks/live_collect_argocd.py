"""Live collection through the Argo CD API: one Degraded app of 10 crash-looping pods in a cluster of
1k and 10k pods (filler pods spread over 50 namespaces), served by the FAKE Argo CD API with a
per-request latency of 0, 20 and 100 ms.

For each cluster and latency: the scoped concurrent collection (``ArgoCDSource``, pool 16) against the
exhaustive sequential walk (one ``/resource`` per tree node, the events of every workload node, both
logs of every container, one request at a time). Prints one line per case; the last line is JSON:
{"cases": [...], "argocd_wall_s_100ms", "sequential_wall_s_100ms", "requests", "bytes", "findings_equal"}.

``measure(latency_s)`` runs the 1k-pod cluster at one latency and returns
{"requests", "bytes", "wall_s", "findings_equal", ...}.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remediator.diagnose import diagnose
from remediator.evidence.sources.argocd import ArgoCDSource
from remediator.evidence.sources.argocd_api import ArgoCDClient
from tests.fakes.argocd_api import FakeArgoCD

Obj = dict[str, Any]
APP, NS, PODS = "shop", "shop", 10
CONCURRENCY = 16


def _pod(ns: str, name: str, owner: str, ready: bool, restarts: int, node: str, labels: dict[str, str]) -> Obj:
    status: Obj = {"name": "app", "ready": ready, "restartCount": restarts, "image": "registry.local/shop:2"}
    if restarts:
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting"}}
        status["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1}}
    else:
        status["state"] = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{ns}-{name}",
            "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "controller": True}],
        },
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.local/shop:2"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [status],
        },
    }


def _deploy(ns: str, name: str, replicas: int, ready: int, labels: dict[str, str]) -> list[Obj]:
    d = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "generation": 1, "labels": labels, "uid": f"uid-d-{ns}-{name}"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.local/shop:2"}]},
            },
        },
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready,
                   "availableReplicas": ready, "unavailableReplicas": replicas - ready},
    }  # fmt: skip
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-7c9d8f6b5",
            "namespace": ns,
            "uid": f"uid-rs-{ns}-{name}",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "controller": True}],
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
        "status": {"replicas": replicas, "readyReplicas": ready},
    }
    return [d, rs]


def generate(root: Path, pods: int) -> None:
    track = {"app.kubernetes.io/instance": APP}
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": APP, "namespace": "argocd"},
        "spec": {"destination": {"namespace": NS, "server": "https://kubernetes.default.svc"},
                 "source": {"repoURL": "https://git.example/shop.git", "path": "deploy", "targetRevision": "main"}},
        "status": {"health": {"status": "Degraded"}, "sync": {"status": "Synced"},
                   "resources": [{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": NS, "name": APP},
                                 {"version": "v1", "kind": "Service", "namespace": NS, "name": APP},
                                 {"version": "v1", "kind": "ConfigMap", "namespace": NS, "name": f"{APP}-config"}]},
    }  # fmt: skip
    objs: list[Obj] = [app, *_deploy(NS, APP, PODS, 0, track)]
    objs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": APP, "namespace": NS, "labels": track},
                 "spec": {"selector": {"app": APP}, "ports": [{"port": 80, "targetPort": 8080}]}})  # fmt: skip
    objs.append({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"{APP}-config", "namespace": NS, "labels": track}, "data": {"DB_HOST": "db"}})  # fmt: skip
    objs += [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}"},
              "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for i in range(200)]  # fmt: skip
    events: list[Obj] = []
    for i in range(PODS):
        name = f"{APP}-7c9d8f6b5-{i:05d}"
        objs.append(_pod(NS, name, f"{APP}-7c9d8f6b5", False, 5, f"node-{i}", {"app": APP}))
        events.append({"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.backoff", "namespace": NS},
                       "involvedObject": {"kind": "Pod", "namespace": NS, "name": name}, "reason": "BackOff",
                       "message": "Back-off restarting failed container app", "type": "Warning", "count": 12})  # fmt: skip
        d = root / "logs" / NS / name
        d.mkdir(parents=True)
        (d / "app.log").write_text("starting shop 2.0\n")
        (d / "app.previous.log").write_text(
            "starting shop 2.0\npanic: open /etc/shop/config.yaml: no such file or directory\n"
        )
    for i in range(pods - PODS):
        ns, name = f"team-{i % 50}", f"svc-{i // 5}"
        if i % 5 == 0:
            objs += _deploy(ns, name, 5, 5, {})
        objs.append(
            _pod(ns, f"{name}-7c9d8f6b5-{i:05d}", f"{name}-7c9d8f6b5", True, 0, f"node-{i % 200}", {"app": name})
        )
    for i in range(0, len(objs), 500):  # files of 500 objects (the snapshot reader bounds a file's size)
        (root / f"objects-{i // 500:03d}.yaml").write_text(yaml.dump_all(objs[i : i + 500], Dumper=yaml.CSafeDumper))
    (root / "events.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": events}))


def _collect(api: FakeArgoCD, concurrency: int, scoped: bool) -> tuple[Any, dict[str, Any]]:
    api.reset_counters()
    client = ArgoCDClient(api.url, token=api.token, max_connections=concurrency)
    t0 = time.perf_counter()
    try:
        ev = ArgoCDSource(client, concurrency=concurrency, scoped=scoped).load(APP)
    finally:
        client.close()
    wall = time.perf_counter() - t0
    found = [(str(f.category), str(f.culprit)) for f in diagnose(ev, APP).findings]
    return found, {"requests": len(api.requests), "bytes": api.bytes_sent, "wall_s": round(wall, 3)}


def _case(root: Path, latency_s: float) -> dict[str, Any]:
    with FakeArgoCD(root, APP, latency=latency_s) as api:
        want, seq = _collect(api, 1, scoped=False)
        got, fig = _collect(api, CONCURRENCY, scoped=True)
    return {**fig, "latency_ms": round(latency_s * 1000), "findings_equal": got == want and bool(got),
            "sequential": seq, "top": got[0] if got else None}  # fmt: skip


def measure(latency_s: float, pods: int = 1000) -> dict[str, Any]:
    """The app in a cluster of ``pods`` pods at one latency: {"requests", "bytes", "wall_s", "findings_equal",
    "sequential": {...}}."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), pods)
        return _case(Path(tmp), latency_s)


def main() -> None:
    cases: list[dict[str, Any]] = []
    for pods in (1000, 10_000):
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp), pods)
            for latency in (0.0, 0.02, 0.1):
                c = {"pods": pods, **_case(Path(tmp), latency)}
                cases.append(c)
                s = c["sequential"]
                print(f"{pods:>6} pods {c['latency_ms']:>3} ms: {c['requests']:>3} requests {c['bytes']:>8} B "
                      f"{c['wall_s']:.3f} s  (sequential: {s['requests']} requests {s['bytes']} B {s['wall_s']:.3f} s)"
                      f"  findings_equal={c['findings_equal']}", flush=True)  # fmt: skip
    at100 = [c for c in cases if c["latency_ms"] == 100]
    print(json.dumps({
        "cases": cases,
        "argocd_wall_s_100ms": max(c["wall_s"] for c in at100),
        "sequential_wall_s_100ms": max(c["sequential"]["wall_s"] for c in at100),
        "requests": max(c["requests"] for c in cases),
        "bytes": max(c["bytes"] for c in cases),
        "findings_equal": all(c["findings_equal"] for c in cases),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
