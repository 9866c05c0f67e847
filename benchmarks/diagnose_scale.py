"""Diagnosis at scale: 10,000 pods, 50,000 events, 2,000 other objects, 1,000 logs, 25 planted failures.

Prints the figures; the last line is JSON:
{"pods", "events", "parse_s", "diagnose_s", "ratio", "peak_mib", "planted", "found", "false_positives"}

``parse_s`` is the baseline measured in the same run: merely parsing every file with the fastest
parsers the project uses (libyaml's C loader, json). ``diagnose_s`` is reading the snapshot into
the evidence store plus running every detector and the ranking. The measurement runs in a child
process so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]
PODS, EVENTS, OTHERS, LOGS = 10_000, 50_000, 2_000, 1_000
FILLER_LOG = [
    "2025-10-02T09:00:00Z INFO starting server version=1.2.3",
    "2025-10-02T09:00:01Z INFO listening on :8080",
    "2025-10-02T09:00:05Z INFO GET /healthz 200 0.4ms",
    "2025-10-02T09:01:00Z INFO processed batch size=128 took=41ms",
] * 40


def deploy(ns: str, name: str, containers: list[Obj], spec_extra: Obj | None = None, ready: int = 1) -> Obj:
    spec: Obj = {"containers": containers, **(spec_extra or {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "generation": 1},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": ready,
            "availableReplicas": ready,
        },
    }


def pod(
    d: Obj,
    sfx: str,
    statuses: list[Obj] | None,
    phase: str = "Running",
    ready: bool = False,
    node: str | None = "node-0",
    extra_status: Obj | None = None,
) -> Obj:
    name, ns = d["metadata"]["name"], d["metadata"]["namespace"]
    spec = dict(d["spec"]["template"]["spec"])
    if node:
        spec["nodeName"] = node
    kind = "Job" if d["kind"] == "Job" else "ReplicaSet"
    owner = name if kind == "Job" else f"{name}-7c9d8f6b5"
    st: Obj = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        **(extra_status or {}),
    }
    if statuses is not None:
        st["containerStatuses"] = statuses
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{owner}-{sfx}",
            "namespace": ns,
            "labels": {**d["spec"]["template"]["metadata"]["labels"], "pod-template-hash": "7c9d8f6b5"},
            "ownerReferences": [{"kind": kind, "name": owner, "controller": True}],
        },
        "spec": spec,
        "status": st,
    }


def cstat(
    name: str,
    ready: bool = True,
    restarts: int = 0,
    waiting: str | None = None,
    wmsg: str = "",
    last: Obj | None = None,
) -> Obj:
    s: Obj = {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"waiting": {"reason": waiting, "message": wmsg}} if waiting else {"running": {}},
    }
    if last:
        s["lastState"] = {"terminated": last}
    return s


def ev(kind: str, ns: str, name: str, reason: str, msg: str, typ: str = "Warning") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{reason}", "namespace": ns},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name},
        "reason": reason,
        "message": msg,
        "type": typ,
        "count": 3,
    }


def plant(
    root: Path,
) -> tuple[list[Obj], list[Obj], dict[tuple[str, str, str], str], list[tuple[str, str, str, list[str]]]]:
    """Objects, events, the expected (kind, ns, name) -> category, and logs of 25 planted failures."""
    objs: list[Obj] = []
    events: list[Obj] = []
    want: dict[tuple[str, str, str], str] = {}
    logs: list[tuple[str, str, str, list[str]]] = []

    def c(name: str = "app", **kw: Any) -> Obj:
        return {"name": name, "image": "registry.local/app:1", **kw}

    def add(cat: str, ref: tuple[str, str, str], *o: Obj) -> None:
        objs.extend(o)
        want[ref] = cat

    ns = "p-oom"
    d = deploy(ns, "eater", [c(resources={"limits": {"memory": "64Mi"}})], ready=0)
    add(
        "oom-killed",
        ("Deployment", ns, "eater"),
        d,
        pod(d, "a", [cstat("app", False, 4, "CrashLoopBackOff", last={"reason": "OOMKilled", "exitCode": 137})]),
    )
    ns = "p-crash"
    d = deploy(ns, "crasher", [c()], ready=0)
    add(
        "crash-loop",
        ("Deployment", ns, "crasher"),
        d,
        pod(d, "a", [cstat("app", False, 6, "CrashLoopBackOff", last={"reason": "Error", "exitCode": 3})]),
    )
    ns = "p-image"
    d = deploy(ns, "puller", [c(image="registry.local/nope:404")], ready=0)
    p = pod(
        d,
        "a",
        [cstat("app", False, 0, "ImagePullBackOff", 'Back-off pulling image "registry.local/nope:404"')],
        phase="Pending",
    )
    add("image-pull", ("Deployment", ns, "puller"), d, p)
    ns = "p-secret"
    d = deploy(ns, "needs-secret", [c(envFrom=[{"secretRef": {"name": "creds"}}])], ready=0)
    add(
        "missing-secret",
        ("Secret", ns, "creds"),
        d,
        pod(
            d, "a", [cstat("app", False, 0, "CreateContainerConfigError", 'secret "creds" not found')], phase="Pending"
        ),
    )
    ns = "p-cm"
    d = deploy(ns, "needs-cm", [c(envFrom=[{"configMapRef": {"name": "settings"}}])], ready=0)
    add(
        "missing-configmap",
        ("ConfigMap", ns, "settings"),
        d,
        pod(
            d,
            "a",
            [cstat("app", False, 0, "CreateContainerConfigError", 'configmap "settings" not found')],
            phase="Pending",
        ),
    )
    ns = "p-rbac"
    d = deploy(ns, "lister", [c()], {"serviceAccountName": "lister"}, ready=1)
    p = pod(d, "a", [cstat("app")], ready=True)
    add("rbac-forbidden", ("ServiceAccount", ns, "lister"), d, p)
    logs.append(
        (
            ns,
            p["metadata"]["name"],
            "app",
            [
                f'E1002 reflector.go:147 failed to list *v1.Node: nodes is forbidden: User "system:serviceaccount:{ns}:lister" cannot list resource "nodes" in API group "" at the cluster scope'
            ],
        )
    )
    ns = "p-dns"
    d = deploy(ns, "caller", [c(env=[{"name": "UPSTREAM", "value": "http://upstream-api:8080"}])])
    p = pod(d, "a", [cstat("app")], ready=True)
    add("dns-resolution", ("Service", ns, "upstream-api"), d, p)
    logs.append(
        (
            ns,
            p["metadata"]["name"],
            "app",
            ["request failed: dial tcp: lookup upstream-api on 10.43.0.10:53: no such host"],
        )
    )
    ns = "p-conn"
    d = deploy(ns, "dialer", [c()])
    p = pod(d, "a", [cstat("app")], ready=True)
    broker = deploy(ns, "broker", [c(ports=[{"containerPort": 5672}])])
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "queue", "namespace": ns},
        "spec": {"selector": {"app": "broker"}, "ports": [{"port": 5672}]},
    }
    eps = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "queue", "namespace": ns},
        "subsets": [{"addresses": [{"ip": "10.42.3.3"}], "ports": [{"port": 5672}]}],
    }
    add(
        "connection-refused",
        ("Service", ns, "queue"),
        d,
        p,
        svc,
        eps,
        broker,
        pod(broker, "b", [cstat("app")], ready=True),
    )
    logs.append(
        (
            ns,
            p["metadata"]["name"],
            "app",
            ["amqp connect failed: dial tcp 10.43.9.9:5672: connect: connection refused url=amqp://queue:5672"],
        )
    )
    ns = "p-model"
    d = deploy(ns, "asker", [c(env=[{"name": "LLM_MODEL", "value": "llama3"}])])
    p = pod(d, "a", [cstat("app")], ready=True)
    add("model-not-found", ("Deployment", ns, "asker"), d, p)
    logs.append(
        (
            ns,
            p["metadata"]["name"],
            "app",
            ['ollama error: {"error":"model \\"llama3\\" not found, try pulling it first"}'],
        )
    )
    ns = "p-pvc"
    add(
        "pvc-pending",
        ("PersistentVolumeClaim", ns, "data"),
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": ns},
            "spec": {"storageClassName": "missing-class", "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"},
        },
    )
    events.append(
        ev(
            "PersistentVolumeClaim",
            ns,
            "data",
            "ProvisioningFailed",
            'storageclass.storage.k8s.io "missing-class" not found',
        )
    )
    ns = "p-sched"
    d = deploy(ns, "giant", [c(resources={"requests": {"cpu": "64"}})], ready=0)
    p = pod(d, "a", None, phase="Pending", node=None)
    add("unschedulable", ("Deployment", ns, "giant"), d, p)
    events.append(
        ev("Pod", ns, p["metadata"]["name"], "FailedScheduling", "0/40 nodes are available: 40 Insufficient cpu.")
    )
    ns = "p-probe"
    d = deploy(
        ns,
        "prober",
        [c(ports=[{"containerPort": 8080}], livenessProbe={"httpGet": {"path": "/h", "port": 9999}})],
        ready=0,
    )
    p = pod(d, "a", [cstat("app", False, 3)])
    add("probe-failure", ("Deployment", ns, "prober"), d, p)
    events.append(
        ev("Pod", ns, p["metadata"]["name"], "Unhealthy", "Liveness probe failed: connect: connection refused")
    )
    ns = "p-svc"
    d = deploy(ns, "backend", [c(ports=[{"containerPort": 8080}])])
    add(
        "service-no-endpoints",
        ("Service", ns, "backend"),
        d,
        pod(d, "a", [cstat("app")], ready=True),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "backend", "namespace": ns},
            "spec": {"selector": {"app": "backendd"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "backend", "namespace": ns}, "subsets": []},
    )
    ns = "p-quota"
    d = deploy(ns, "greedy", [c()], ready=0)
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "greedy-7c9d8f6b5",
            "namespace": ns,
            "ownerReferences": [{"kind": "Deployment", "name": "greedy"}],
        },
        "spec": {},
    }
    add("quota-exceeded", ("Deployment", ns, "greedy"), d, rs)
    events.append(
        ev(
            "ReplicaSet",
            ns,
            "greedy-7c9d8f6b5",
            "FailedCreate",
            'Error creating: pods "greedy-x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=5, limited: pods=5',
        )
    )
    ns = "p-job"
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once", "namespace": ns},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "once"}},
                "spec": {"restartPolicy": "Never", "containers": [c()]},
            }
        },
        "status": {
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ]
        },
    }
    add("job-failed", ("Job", ns, "once"), job)
    ns = "p-node"
    d = deploy(ns, "stranded", [c()], ready=0)
    add(
        "node-not-ready",
        ("Node", "", "node-dead"),
        d,
        pod(d, "a", [cstat("app", False)], node="node-dead"),
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-dead"},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "Unknown", "message": "Kubelet stopped posting node status."}
                ]
            },
        },
    )
    ns = "p-invalid"
    d = deploy(ns, "classy", [c()], {"priorityClassName": "gold"}, ready=0)
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "classy-7c9d8f6b5",
            "namespace": ns,
            "ownerReferences": [{"kind": "Deployment", "name": "classy"}],
        },
        "spec": {},
    }
    add("invalid-spec", ("Deployment", ns, "classy"), d, rs)
    events.append(
        ev(
            "ReplicaSet",
            ns,
            "classy-7c9d8f6b5",
            "FailedCreate",
            'Error creating: pods "classy-" is forbidden: no PriorityClass with name gold was found',
        )
    )
    ns = "p-start"
    d = deploy(ns, "noexec", [c(command=["/bin/serve"])], ready=0)
    add(
        "container-start-error",
        ("Deployment", ns, "noexec"),
        d,
        pod(
            d,
            "a",
            [
                cstat(
                    "app",
                    False,
                    2,
                    "CrashLoopBackOff",
                    last={
                        "reason": "StartError",
                        "exitCode": 128,
                        "message": 'failed to create containerd task: exec: "/bin/serve": stat /bin/serve: no such file or directory',
                    },
                )
            ],
        ),
    )
    ns = "p-sec"
    d = deploy(ns, "rooty", [c()], {"securityContext": {"runAsNonRoot": True}}, ready=0)
    add(
        "security-context",
        ("Deployment", ns, "rooty"),
        d,
        pod(
            d,
            "a",
            [
                cstat(
                    "app",
                    False,
                    0,
                    "CreateContainerConfigError",
                    "container has runAsNonRoot and image will run as root",
                )
            ],
            phase="Pending",
        ),
    )
    ns = "p-hook"
    d = deploy(ns, "blocked", [c()], ready=0)
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "blocked-7c9d8f6b5",
            "namespace": ns,
            "ownerReferences": [{"kind": "Deployment", "name": "blocked"}],
        },
        "spec": {},
    }
    add(
        "admission-webhook",
        ("ValidatingWebhookConfiguration", "", "gatekeeper"),
        d,
        rs,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "gatekeeper"},
            "webhooks": [{"name": "check.gatekeeper.sh"}],
        },
    )
    events.append(
        ev(
            "ReplicaSet",
            ns,
            "blocked-7c9d8f6b5",
            "FailedCreate",
            'Error creating: Internal error occurred: failed calling webhook "check.gatekeeper.sh": context deadline exceeded',
        )
    )
    ns = "p-attach"
    d = deploy(
        ns, "sharer", [c()], {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "shared"}}]}, ready=0
    )
    p = pod(d, "a", [cstat("app", False, 0, "ContainerCreating")], phase="Pending")
    add("volume-attach", ("PersistentVolumeClaim", ns, "shared"), d, p)
    events.append(
        ev(
            "Pod",
            ns,
            p["metadata"]["name"],
            "FailedAttachVolume",
            'Multi-Attach error for volume "pvc-123" Volume is already used by pod(s) other-1',
        )
    )
    ns = "p-disk"
    d = deploy(
        ns,
        "writer",
        [c(volumeMounts=[{"name": "d", "mountPath": "/data"}])],
        {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "scratch"}}]},
        ready=0,
    )
    p = pod(d, "a", [cstat("app", False, 2, "CrashLoopBackOff", last={"reason": "Error", "exitCode": 1})])
    add(
        "storage-full",
        ("PersistentVolumeClaim", ns, "scratch"),
        d,
        p,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "scratch", "namespace": ns},
            "spec": {},
            "status": {"phase": "Bound"},
        },
    )
    logs.append((ns, p["metadata"]["name"], "app.previous", ["write /data/out.bin: No space left on device"]))
    ns = "p-ing"
    add(
        "ingress",
        ("Ingress", ns, "site"),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "site", "namespace": ns},
            "spec": {
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {"path": "/", "backend": {"service": {"name": "no-such-svc", "port": {"number": 80}}}}
                            ]
                        }
                    }
                ]
            },
        },
    )
    ns = "p-hpa"
    add(
        "autoscaling",
        ("HorizontalPodAutoscaler", ns, "scaler"),
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "scaler", "namespace": ns},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}},
            "status": {
                "conditions": [
                    {
                        "type": "ScalingActive",
                        "status": "False",
                        "reason": "FailedGetResourceMetric",
                        "message": "failed to get cpu utilization: missing request for cpu in container app",
                    }
                ]
            },
        },
    )
    ns = "p-eso"
    add(
        "external-secret-sync",
        ("ExternalSecret", ns, "vault-creds"),
        {
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "metadata": {"name": "vault-creds", "namespace": ns},
            "spec": {"secretStoreRef": {"name": "vault"}, "target": {"name": "vault-creds"}},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "SecretSyncedError",
                        "message": "could not get secret data from provider",
                    }
                ]
            },
        },
    )
    return objs, events, want, logs


def generate(root: Path) -> dict[tuple[str, str, str], str]:
    objs, planted_events, want, planted_logs = plant(root)
    planted_pods = [o for o in objs if o["kind"] == "Pod"]
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": f"node-{i}"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
        for i in range(40)
    ]
    others: list[Obj] = nodes + [o for o in objs if o["kind"] != "Pod"]
    filler_pods = PODS - len(planted_pods)
    deployments = []
    pods: list[Obj] = list(planted_pods)
    for i in range(filler_pods):
        ns = f"team-{i % 50}"
        name = f"svc-{i // 5}"
        if i % 5 == 0:
            deployments.append(
                deploy(
                    ns,
                    name,
                    [
                        {
                            "name": "app",
                            "image": f"registry.local/{name}:1",
                            "resources": {"limits": {"memory": "256Mi"}},
                        }
                    ],
                    ready=5,
                )
            )
        pods.append(pod(deployments[-1], f"{i:05d}", [cstat("app")], ready=True, node=f"node-{i % 40}"))
    others += deployments[: max(0, OTHERS - len(others))]
    while len(others) < OTHERS:
        k = len(others)
        others.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cfg-{k}", "namespace": f"team-{k % 50}"},
                "data": {"key": "value"},
            }
        )
    (root / "pods").mkdir(parents=True)
    for i in range(0, len(pods), 500):
        items = [{k: v for k, v in p.items() if k not in ("kind", "apiVersion")} for p in pods[i : i + 500]]
        (root / "pods" / f"pods-{i // 500:02d}.yaml").write_text(
            yaml.dump({"apiVersion": "v1", "kind": "PodList", "items": items}, Dumper=yaml.CSafeDumper)
        )
    (root / "objects.yaml").write_text(yaml.dump_all(others, Dumper=yaml.CSafeDumper))
    events = list(planted_events)
    for i in range(EVENTS - len(events)):
        p = pods[len(planted_pods) + i % filler_pods]
        events.append(
            ev(
                "Pod",
                p["metadata"]["namespace"],
                p["metadata"]["name"],
                ("Pulled", "Created", "Started", "Scheduled")[i % 4],
                "Container image already present on machine",
                "Normal",
            )
        )
    (root / "events").mkdir()
    for i in range(0, len(events), 5000):
        (root / "events" / f"events-{i // 5000:02d}.json").write_text(
            json.dumps({"apiVersion": "v1", "kind": "List", "items": events[i : i + 5000]})
        )
    written = 0
    for ns, pname, container, lines in planted_logs:
        d = root / "logs" / ns / pname
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{container}.log").write_text("\n".join(FILLER_LOG[:20] + lines) + "\n")
        written += 1
    for p in pods[len(planted_pods) : len(planted_pods) + LOGS - written]:
        d = root / "logs" / p["metadata"]["namespace"] / p["metadata"]["name"]
        d.mkdir(parents=True, exist_ok=True)
        (d / "app.log").write_text("\n".join(FILLER_LOG) + "\n")
    return want


def measure(root: Path) -> dict[str, Any]:
    """Run in a child process: the baseline parse, then the full diagnosis."""
    from remediator.diagnose import diagnose
    from remediator.evidence.sources.snapshot import _Loader, load_snapshot

    files = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".json") and "logs" not in p.parts]
    logs = [p for p in root.rglob("*.log")]
    t0 = time.perf_counter()
    for p in files:
        text = p.read_text()
        if p.suffix == ".json":
            json.loads(text)
        else:
            list(yaml.load_all(text, Loader=_Loader))
    for p in logs:
        p.read_bytes().decode().splitlines()
    parse_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    ev = load_snapshot(root)
    d = diagnose(ev)
    diagnose_s = time.perf_counter() - t1
    found = [(f.culprit.kind, f.culprit.namespace, f.culprit.name, f.category.value) for f in d.findings]
    return {
        "parse_s": parse_s,
        "diagnose_s": diagnose_s,
        "pods": len(ev.all("Pod")),
        "events": ev.event_count(),
        "found": found,
        "errors": d.errors[:5],
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "snapshot"
        t = time.perf_counter()
        want = generate(root)
        print(
            f"generated {PODS} pods, {EVENTS} events, {OTHERS} other objects, {LOGS} logs, {len(want)} planted in {time.perf_counter() - t:.1f}s"
        )
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(root)], check=True, capture_output=True, text=True
        )
        m = json.loads(out.stdout.strip().splitlines()[-1])
    got = {(k, ns, n): cat for k, ns, n, cat in m["found"]}
    hits = [ref for ref, cat in want.items() if got.get(ref) == cat]
    misses = [f"{cat} {ref}" for ref, cat in want.items() if got.get(ref) != cat]
    extra = [f"{cat} {ref}" for ref, cat in got.items() if ref not in want]
    for line in misses:
        print("missed:", line)
    for line in extra:
        print("false positive:", line)
    for line in m["errors"]:
        print("evidence error:", line)
    ratio = m["diagnose_s"] / m["parse_s"]
    print(
        f"parse {m['parse_s']:.2f}s, diagnose {m['diagnose_s']:.2f}s (ratio {ratio:.2f}, target <= 2), peak {m['peak_mib']:.0f} MiB (target < 1024)"
    )
    print(
        json.dumps(
            {
                "pods": m["pods"],
                "events": m["events"],
                "parse_s": round(m["parse_s"], 3),
                "diagnose_s": round(m["diagnose_s"], 3),
                "ratio": round(ratio, 3),
                "peak_mib": round(m["peak_mib"], 1),
                "planted": len(want),
                "found": len(hits),
                "false_positives": len(extra),
            }
        )
    )


if __name__ == "__main__":
    main()
