"""Concurrent, scoped live collection (issue 18) against the FAKE Kubernetes API: the diagnosis equals the
sequential collector's on every scenario, and the requests are the few the app needs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.live_collect import APP, generate, key
from remediator.diagnose import diagnose
from remediator.errors import InputError
from remediator.eval import find_scenarios
from remediator.evidence.sources.live import LiveSource
from tests.conftest import EXAMPLES, SCENARIOS
from tests.fakes.kube_api import FakeKubeAPI

ALL = find_scenarios([SCENARIOS, EXAMPLES])


def source(api: FakeKubeAPI, tmp_path: Path, **kw: Any) -> LiveSource:
    return LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kubeconfig"), **kw)


@pytest.mark.parametrize("scenario", ALL, ids=[p.name for p in ALL])
def test_findings_equal_the_sequential_collection(scenario: Path, tmp_path: Path) -> None:
    app = yaml.safe_load((scenario / "truth.yaml").read_text())["app"]
    with FakeKubeAPI(scenario / "cluster") as api:
        argocd_ns = next(ns for (k, ns), objs in api.objects.items() if k == "Application"
                         for o in objs if o["metadata"]["name"] == app)  # fmt: skip
        reference = key(diagnose(api.sequential_evidence(app, argocd_ns), app).findings)
        ev = source(api, tmp_path, argocd_namespace=argocd_ns).load(app)
    assert key(diagnose(ev, app).findings) == reference
    assert not api.unexpected
    events = [r for r in api.requests if "/events" in r]
    assert all("fieldSelector=involvedObject.name" in r for r in events), "never a whole namespace's events"
    assert not any(r.startswith(("/api/v1/nodes?", "/api/v1/persistentvolumes?")) for r in api.requests)


def _bench(tmp_path: Path, shared: bool, **kw: Any) -> tuple[FakeKubeAPI, list[str]]:
    objs, logs, crashing = generate(1000, shared)
    api = FakeKubeAPI(None, objects=objs, **kw)
    api.logs = logs
    return api, crashing


@pytest.mark.parametrize("shared", [False, True])
def test_few_scoped_requests_for_the_ten_pod_app(tmp_path: Path, shared: bool) -> None:
    api, _ = _bench(tmp_path, shared)
    with api:
        reference = key(diagnose(api.sequential_evidence(APP), APP).findings)
        ev = source(api, tmp_path).load(APP)
    assert key(diagnose(ev, APP).findings) == reference and reference
    assert len(api.requests) <= 30, api.requests
    logs = [r for r in api.requests if "/log?" in r]
    # logs of the failing containers only (2 sampled of the 3 failing alike), previous ones only where restarted
    assert all("container=worker" in r for r in logs) and len(logs) == 4
    assert not any(r.endswith("/log") for r in api.requests)
    ns = "team-00" if shared else APP
    pods = [r for r in api.requests if r.startswith(f"/api/v1/namespaces/{ns}/pods?")]
    assert pods and all("labelSelector=app.kubernetes.io/instance%3Dshop" in r for r in pods)
    assert {p["metadata"]["name"] for p in ev.all("Pod")} == {
        o["metadata"]["name"] for (k, _), objs in api.objects.items() if k == "Pod" for o in objs
        if o["metadata"]["labels"].get("app.kubernetes.io/instance") == APP
    }  # fmt: skip
    nodes = [r for r in api.requests if r.startswith("/api/v1/nodes/")]
    assert 1 <= len(nodes) <= 2  # the sampled failing pods' nodes, by name
    assert not any("externalsecrets" in r or "secretstores" in r for r in api.requests), "not served: skipped"


def test_waves_run_concurrently(tmp_path: Path) -> None:
    api, _ = _bench(tmp_path, False, latency=0.05)
    with api:
        t0 = time.perf_counter()
        source(api, tmp_path, concurrency=16).load(APP)
        wall = time.perf_counter() - t0
        n, overlapped = len(api.requests), api.max_in_flight
        api.reset_counters()
        t1 = time.perf_counter()
        source(api, tmp_path, concurrency=1).load(APP)
        sequential = time.perf_counter() - t1
    assert api.max_in_flight <= 2  # pool of 1 (+ the Application read beside discovery)
    assert overlapped >= 8, overlapped  # the waves' requests were in flight together (structural)
    # and it shows in time: a few round trips, not one per request (loose: CI machines are shared)
    assert n * 0.05 > 2 * wall, (n, wall)
    assert sequential > 1.5 * wall


def test_discovery_is_cached_and_the_cache_is_used(tmp_path: Path) -> None:
    class Cache:
        def __init__(self, api: FakeKubeAPI) -> None:
            self.objects = api.objects
            self.asked: list[str] = []

        def cached(self, kind: str) -> list[dict[str, Any]] | None:
            self.asked.append(kind)
            if kind not in ("Node", "ClusterRole", "ClusterRoleBinding"):
                return None
            return [{"kind": kind, **o} for o in self.objects.get((kind, ""), [])]

    api, _ = _bench(tmp_path, False)
    with api:
        cache = Cache(api)
        src = source(api, tmp_path, cache=cache)
        first = src.load(APP)
        second = src.load(APP)
    assert api.requests.count("/apis") == 1
    assert not any(r.startswith(("/api/v1/nodes", "/apis/rbac.authorization.k8s.io/v1/cluster")) for r in api.requests)
    assert {"Node", "ClusterRole"} <= set(cache.asked)
    assert key(diagnose(first, APP).findings) == key(diagnose(second, APP).findings)
    assert first.all("Node") and len(first.all("Node")) <= 2


def test_concurrency_must_be_positive(tmp_path: Path) -> None:
    with FakeKubeAPI(None, objects=[]) as api, pytest.raises(InputError, match="at least 1"):
        source(api, tmp_path, concurrency=0)


def test_fake_honours_selectors_and_serves_discovery(tmp_path: Path) -> None:
    import json
    import urllib.request

    api, crashing = _bench(tmp_path, True)

    def get(path: str) -> Any:
        req = urllib.request.Request(api.url + path, headers={"Authorization": "Bearer fake-token"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    with api:
        sel = get("/api/v1/namespaces/team-00/pods?labelSelector=app.kubernetes.io/instance%3Dshop")["items"]
        assert len(sel) == 10
        ev = get(f"/api/v1/namespaces/team-00/events?fieldSelector=involvedObject.name%3D{crashing[0]}")["items"]
        assert [e["reason"] for e in ev] == ["BackOff"]
        uid = get(f"/api/v1/namespaces/team-00/events?fieldSelector=involvedObject.uid%3Duid-team-00-{crashing[0]}")
        assert len(uid["items"]) == 1
        assert len(get("/api/v1/nodes?fieldSelector=metadata.name%3Dnode-001")["items"]) == 1
        groups = {g["name"] for g in get("/apis")["groups"]}
        assert "apps" in groups and "external-secrets.io" not in groups
        assert get("/api")["versions"] == ["v1"]
        assert any(r["name"] == "deployments" for r in get("/apis/apps/v1")["resources"])
    assert api.bytes_sent > 0 and len(api.requests) == 7


def test_cli_concurrency_flag_and_policy(vault_example: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from remediator.cli import app
    from remediator.policy import load_policy

    runner = CliRunner()
    with FakeKubeAPI(vault_example / "cluster", latency=0.02) as api:
        kc = str(api.kubeconfig(tmp_path / "kc"))
        r = runner.invoke(app, ["diagnose", "--app", "tmcp-marketing", "--kubeconfig", kc, "--concurrency", "1",
                                "--no-probe-models", "--format", "json"])  # fmt: skip
        assert r.exit_code == 0, r.output
        assert '"external-secret-sync"' in r.output
        assert api.max_in_flight <= 2
        bad = runner.invoke(app, ["diagnose", "--app", "tmcp-marketing", "--kubeconfig", kc, "--concurrency", "0"])
        assert bad.exit_code == 2 and "--concurrency" in bad.output
    assert load_policy(None).collection.concurrency == 16
    p = tmp_path / "policy.yaml"
    p.write_text("collection: {concurrency: 0}\n")
    with pytest.raises(InputError, match=r"collection.concurrency"):
        load_policy(p)
