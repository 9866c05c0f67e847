"""``remediator scan``: a snapshot with a Degraded app, a Healthy app with risks and a clean Healthy app;
per-app results, severities, exit codes and every format; the namespace mode; the live cluster
through the fake Kubernetes API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from remediator.cli import app
from remediator.evidence.sources.snapshot import load_snapshot
from remediator.scan import ScanOptions, Severity, scan
from tests.fakes.kube_api import FakeKubeAPI

Obj = dict[str, Any]
NOW = "2026-01-10T12:00:00Z"
EVIL = "<script>alert(1)</script>"


def application(name: str, health: str, kinds: list[tuple[str, str]]) -> Obj:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"destination": {"namespace": name, "server": "https://kubernetes.default.svc"}},
        "status": {
            "health": {"status": health},
            "sync": {"status": "Synced"},
            "resources": [{"kind": k, "name": n, "namespace": name} for k, n in kinds],
        },
    }


def deployment(ns: str, name: str, memory: str | None, ready: int = 1) -> Obj:
    res = {"limits": {"memory": memory}} if memory else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "generation": 1},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"registry.local/{name}:1", "resources": res}]},
            },
        },
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": ready,
                   "availableReplicas": ready},
    }  # fmt: skip


def pod(d: Obj, sfx: str, status: Obj, created: str = "2026-01-09T00:00:00Z") -> Obj:
    name, ns = d["metadata"]["name"], d["metadata"]["namespace"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-{sfx}",
            "namespace": ns,
            "labels": {"app": name},
            "creationTimestamp": created,
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{name}-5d8f", "controller": True}],
        },
        "spec": {**d["spec"]["template"]["spec"], "nodeName": "node-0"},
        "status": status,
    }


def replicaset(d: Obj) -> Obj:
    name, ns = d["metadata"]["name"], d["metadata"]["namespace"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": f"{name}-5d8f", "namespace": ns, "ownerReferences": [{"kind": "Deployment", "name": name, "controller": True}]},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": d["spec"]["template"]},
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
    }  # fmt: skip


def running(restarts: int = 0, last: Obj | None = None, ready: bool = True) -> Obj:
    cs: Obj = {
        "name": "app",
        "ready": ready,
        "restartCount": restarts,
        "image": "x",
        "state": {"running": {"startedAt": "2026-01-09T00:00:00Z"}},
    }
    if last:
        cs["lastState"] = {"terminated": last}
    return {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}], "containerStatuses": [cs]}  # fmt: skip


def oom(finished: str) -> Obj:
    return {"reason": "OOMKilled", "exitCode": 137, "startedAt": "2026-01-09T00:00:00Z", "finishedAt": finished}


def write_cluster(root: Path, with_apps: bool = True) -> Path:
    """shop: Degraded (OOM crash loop); blog: Healthy, a recent OOM kill, a long-Pending pod, a 90% full PVC
    and a container without a memory limit; docs: Healthy and clean."""
    root.mkdir(parents=True, exist_ok=True)
    shop = deployment("shop", "shop-api", "64Mi", ready=0)
    blog = deployment("blog", "blog-web", "256Mi")
    worker = deployment("blog", "blog-worker", None, ready=0)
    worker["status"] = {
        "observedGeneration": 1,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
    }
    docs = deployment("docs", "docs-web", "128Mi")
    crash = running(7, oom("2026-01-10T11:58:00Z"), ready=False)
    crash["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}
    pending = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
               "message": f"0/3 nodes are available: {EVIL}", "lastTransitionTime": "2026-01-10T09:00:00Z"}]}  # fmt: skip
    objs = [
        shop, replicaset(shop), pod(shop, "a1", crash),
        blog, replicaset(blog), pod(blog, "b1", running(2, oom("2026-01-10T10:00:00Z"))),
        worker, replicaset(worker), pod(worker, "w1", pending, created="2026-01-10T09:00:00Z"),
        docs, replicaset(docs), pod(docs, "d1", running()),
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "blog-data", "namespace": "blog"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
         "status": {"phase": "Bound"}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-0"},
         "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    ]  # fmt: skip
    worker["spec"]["template"]["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "blog-data"}}]
    (root / "objects.yaml").write_text(yaml.safe_dump_all(objs))
    if with_apps:
        apps = [
            application("shop", "Degraded", [("Deployment", "shop-api")]),
            application("blog", "Healthy", [("Deployment", "blog-web"), ("Deployment", "blog-worker"),
                                            ("PersistentVolumeClaim", "blog-data")]),
            application("docs", "Healthy", [("Deployment", "docs-web")]),
        ]  # fmt: skip
        (root / "argocd").mkdir(exist_ok=True)
        (root / "argocd" / "apps.yaml").write_text(yaml.safe_dump_all(apps))
    events = [{"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "shop"},
               "involvedObject": {"kind": "Pod", "name": "shop-api-a1", "namespace": "shop"}, "reason": "BackOff",
               "message": "Back-off restarting failed container app", "type": "Warning", "count": 9,
               "lastTimestamp": NOW}]  # fmt: skip
    (root / "events.yaml").write_text(yaml.safe_dump_all(events))
    q = "kubelet_volume_stats_used_bytes%7Bnamespace%3D%22blog%22%2Cpersistentvolumeclaim%3D%22blog-data%22%7D+%2F+kubelet_volume_stats_capacity_bytes%7Bnamespace%3D%22blog%22%2Cpersistentvolumeclaim%3D%22blog-data%22%7D"
    probe = {"url": f"http://prometheus:9090/api/v1/query?query={q}", "status": 200,
             "body": {"status": "success", "data": {"resultType": "vector", "result": [
                 {"metric": {"namespace": "blog", "persistentvolumeclaim": "blog-data"}, "value": [1768046400, "0.91"]}]}}}  # fmt: skip
    (root / "probes").mkdir(exist_ok=True)
    (root / "probes" / "volume.json").write_text(json.dumps(probe))
    return root


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    return write_cluster(tmp_path / "cluster")


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["scan", *args])
    return res.exit_code, res.output


def test_each_app_gets_its_diagnosis_or_its_risks(cluster: Path) -> None:
    result = scan(load_snapshot(cluster), ScanOptions(require_memory_limits=True))
    assert result.now == NOW  # the snapshot's newest time
    by = {a.name: a for a in result.apps}
    assert [a.name for a in result.apps] == ["shop", "blog", "docs"]  # worst first
    shop, blog, docs = by["shop"], by["blog"], by["docs"]
    assert shop.severity is Severity.CRITICAL and shop.diagnosis is not None and not shop.risks
    assert shop.diagnosis.findings[0].category.value == "oom-killed"
    assert blog.diagnosis is None and blog.severity is Severity.WARNING
    rules = {(r.rule, r.object.name): r.severity for r in blog.risks}
    assert rules == {
        ("oom-killed", "blog-web-b1"): Severity.WARNING,
        ("pending", "blog-worker-w1"): Severity.WARNING,
        ("pvc-usage", "blog-data"): Severity.WARNING,
        ("no-memory-limit", "blog-worker"): Severity.WARNING,
    }
    assert docs.severity is None and not docs.risks and docs.diagnosis is None
    assert result.severity is Severity.CRITICAL
    assert result.counts() == {"critical": 1, "warning": 1, "info": 0, "ok": 1}


def test_window_threshold_and_policy_options_change_the_risks(cluster: Path) -> None:
    from datetime import timedelta

    ev = load_snapshot(cluster)
    opts = ScanOptions(window=timedelta(minutes=30), pvc_threshold=0.95, pending=timedelta(hours=4))
    blog = next(a for a in scan(ev, opts).apps if a.name == "blog")
    assert blog.risks == [] and blog.severity is None
    later = ScanOptions(now=datetime(2026, 1, 20, tzinfo=UTC))
    blog = next(a for a in scan(ev, later).apps if a.name == "blog")
    assert {r.rule for r in blog.risks} == {"pending", "pvc-usage"}  # the OOM kill is out of the window


def test_without_applications_each_namespace_is_an_app(tmp_path: Path) -> None:
    result = scan(load_snapshot(write_cluster(tmp_path / "c", with_apps=False)))
    assert result.mode == "namespaces"
    by = {a.name: a for a in result.apps}
    assert set(by) == {"shop", "blog", "docs"}
    assert by["shop"].health == "Degraded" and by["shop"].severity is Severity.CRITICAL
    assert by["shop"].diagnosis is not None and by["shop"].diagnosis.findings[0].category.value == "oom-killed"
    assert by["docs"].severity is None


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), 6),
        (("--fail-on", "never"), 0),
        (("--app", "blog"), 0),
        (("--app", "blog", "--fail-on", "warning"), 6),
        (("--app", "docs", "--fail-on", "warning"), 0),
    ],
)
def test_exit_code_by_severity(cluster: Path, args: tuple[str, ...], code: int) -> None:
    got, out = run(str(cluster), *args)
    assert got == code, out


def test_bad_input_is_one_line_with_its_code(tmp_path: Path, cluster: Path) -> None:
    code, out = run(str(tmp_path / "nope"))
    assert code == 3 and "does not exist" in out and "Traceback" not in out
    code, out = run(str(cluster), "--app", "ghost")
    assert code == 3 and "ghost" in out
    code, out = run(str(cluster), "--now", "yesterday")
    assert code == 3 and "--now" in out
    code, out = run(str(cluster), "--format", "pdf")
    assert code == 2


def test_text_and_markdown(cluster: Path) -> None:
    code, text = run(str(cluster), "--fail-on", "never")
    assert code == 0
    assert text.startswith("3 Applications scanned at 2026-01-10T12:00:00Z: 1 critical, 1 warning, 0 info, 1 ok")
    assert "[CRITICAL] shop (Degraded, Synced)" in text and "[OK] docs (Healthy, Synced)" in text
    assert "(warning) pvc-usage: PersistentVolumeClaim blog/blog-data: 91% used" in text
    _, md = run(str(cluster), "--format", "markdown", "--fail-on", "never")
    assert "| critical | shop | Degraded | Synced | " in md and "## blog (warning)" in md and "## docs" not in md


def test_json_and_output_file(cluster: Path, tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    code, printed = run(str(cluster), "--format", "json", "--output", str(out), "--require-memory-limits")
    assert code == 6 and printed == ""
    data = json.loads(out.read_text())
    assert data["severity"] == "critical" and data["counts"]["ok"] == 1
    apps = {a["name"]: a for a in data["apps"]}
    assert apps["shop"]["diagnosis"]["findings"][0]["category"] == "oom-killed"
    assert {r["rule"] for r in apps["blog"]["risks"]} == {"oom-killed", "pending", "pvc-usage", "no-memory-limit"}
    assert apps["docs"]["severity"] == "ok" and apps["docs"]["risks"] == []


def test_html_is_self_contained_and_escaped(cluster: Path) -> None:
    _, page = run(str(cluster), "--format", "html", "--fail-on", "never")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "src=" not in page and "http://" not in page.split("</style>")[0]
    assert page.count('<section id="app-') == 3


def test_live_cluster_in_one_pass(cluster: Path, tmp_path: Path) -> None:
    with FakeKubeAPI(cluster) as api:
        cfg = api.kubeconfig(tmp_path / "kubeconfig")
        code, out = run("--kubeconfig", str(cfg), "--format", "json", "--now", NOW, "--fail-on", "never")
        requests = list(api.requests)
    assert code == 0, out
    apps = {a["name"]: a for a in json.loads(out)["apps"]}
    assert apps["shop"]["severity"] == "critical" and apps["docs"]["severity"] == "ok"
    assert {r["rule"] for r in apps["blog"]["risks"]} == {"oom-killed", "pending"}  # no metrics live
    lists = [r.split("?")[0] for r in requests if "/log" not in r]
    assert not any("/namespaces/" in r for r in lists if "applications" not in r)  # never listed per namespace
    assert len(lists) == len(set(lists))  # each kind listed once


def test_cronjob_manifests_are_read_only_and_use_the_service_image() -> None:
    import subprocess

    import kubernetes_validate

    from remediator.edits.render import find_tool

    kubectl = find_tool("kubectl")
    assert kubectl
    root = Path(__file__).resolve().parent.parent / "manifests"

    def render(path: Path) -> list[Obj]:
        out = subprocess.run([kubectl, "kustomize", str(path)], check=True, capture_output=True, text=True).stdout
        return [d for d in yaml.safe_load_all(out) if d]

    objs = render(root / "scan")
    assert sorted(o["kind"] for o in objs) == ["ClusterRoleBinding", "CronJob", "ServiceAccount"]  # no new Role
    for o in objs:
        kubernetes_validate.validate(o, "1.33.0", strict=True)
    base = render(root / "base")
    role = next(o for o in base if o["kind"] == "ClusterRole")
    binding = next(o for o in objs if o["kind"] == "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == "remediator-scan"
    cron = next(o for o in objs if o["kind"] == "CronJob")
    pod_spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod_spec["serviceAccountName"] == "remediator-scan"
    dep = next(o for o in base if o["kind"] == "Deployment")
    image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    assert pod_spec["containers"][0]["image"] == image
    assert pod_spec["containers"][0]["args"][0] == "scan"


def test_the_scheduled_workflow_example_pins_the_ci_actions() -> None:
    root = Path(__file__).resolve().parent.parent
    ci = (root / ".github" / "workflows" / "ci.yml").read_text()
    doc = yaml.safe_load((root / "examples" / "github-actions" / "scan.yml").read_text())
    assert doc["permissions"] == {} and doc["jobs"]["scan"]["permissions"] == {"contents": "read"}
    assert "schedule" in doc[True]  # `on:` is YAML 1.1's true
    steps = doc["jobs"]["scan"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses and all(u in ci for u in uses)  # the same actions at the same SHAs as ci.yml
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    assert any("remediator scan" in s.get("run", "") for s in steps)


def test_notify_sends_the_summary_to_the_policy_channels(
    cluster: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[Obj] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("SCAN_HOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
        policy = tmp_path / "policy.yaml"
        policy.write_text(
            yaml.safe_dump(
                {"notifications": {"channels": [{"name": "ops", "type": "webhook", "url_env": "SCAN_HOOK_URL"}]}}
            )
        )
        code, out = run(str(cluster), "--notify", "--policy", str(policy), "--fail-on", "never")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, out
    assert len(got) == 1
    body = got[0]
    assert body["event"] == "scan.summary" and body["severity"] == "critical" and body["app"] == "*"
    assert body["fields"]["critical"] == "1" and body["fields"]["ok"] == "1"
    assert body["steps"][0].startswith("critical: shop (Degraded): oom-killed")
    assert "1 critical, 1 warning, 0 info, 1 ok" in body["summary"]
