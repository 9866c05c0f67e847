"""A live ``remediator scan`` with metrics: ONE Prometheus query for every PVC's used share of the
cluster (not one per app), fed to the scan as a probe. The cluster is the FAKE Kubernetes API; the
metrics server is a loopback HTTP server answering the Prometheus HTTP API's instant-query shape
(``/api/v1/query``, a ``vector`` result), not a real Prometheus."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from remediator.cli import app
from tests.fakes.kube_api import FakeKubeAPI
from tests.fakes.loopback import LoopbackServer
from tests.test_scan import NOW, write_cluster


class FakePrometheus(LoopbackServer):
    """Answers every instant query with the used share of blog/blog-data (91%) and docs/scratch (10%)."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self._serve(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/api/v1/query":
                    self.send_response(404)
                    self.end_headers()
                    return
                fake.queries.append(parse_qs(parts.query)["query"][0])
                result = [
                    {"metric": {"namespace": ns, "persistentvolumeclaim": pvc}, "value": [1768046400, share]}
                    for ns, pvc, share in (("blog", "blog-data", "0.91"), ("docs", "scratch", "0.1"))
                ]
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """The scan's cluster without recorded probes: metrics can only come from the live query."""
    root = write_cluster(tmp_path / "cluster")
    shutil.rmtree(root / "probes")
    return root


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    with FakePrometheus() as p:
        yield p


def scan(kube: FakeKubeAPI, tmp_path: Path, *args: str) -> dict[str, Any]:
    cfg = kube.kubeconfig(tmp_path / "kubeconfig")
    res = CliRunner().invoke(
        app, ["scan", "--kubeconfig", str(cfg), "--format", "json", "--now", NOW, "--fail-on", "never", *args]
    )
    assert res.exit_code == 0, res.output
    return {a["name"]: a for a in json.loads(res.output)["apps"]}


def pvc_risks(apps: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(n, r["severity"], r["message"]) for n, a in apps.items() for r in a["risks"] if r["rule"] == "pvc-usage"]


def test_live_scan_queries_pvc_usage_once(
    live: Path, tmp_path: Path, prometheus: FakePrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    with FakeKubeAPI(live) as kube:
        without = scan(kube, tmp_path)
        assert not pvc_risks(without) and not prometheus.queries  # no metrics URL: no query, no PVC risk
        apps = scan(kube, tmp_path, "--prometheus-url", prometheus.url)
    assert len(prometheus.queries) == 1  # one query for the whole cluster, not one per app
    q = prometheus.queries[0]
    assert "kubelet_volume_stats_used_bytes" in q and "kubelet_volume_stats_capacity_bytes" in q and "{" not in q
    risks = pvc_risks(apps)
    assert [(n, sev) for n, sev, _ in risks] == [("blog", "warning")], risks
    assert "91% used" in risks[0][2]


def test_live_scan_uses_the_policy_metrics_url(
    live: Path, tmp_path: Path, prometheus: FakePrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"metrics:\n  url: {prometheus.url}\n")
    with FakeKubeAPI(live) as kube:
        apps = scan(kube, tmp_path, "--policy", str(policy), "--pvc-threshold", "0.95")
        assert len(prometheus.queries) == 1 and not pvc_risks(apps)  # 91% is under the threshold
        apps = scan(kube, tmp_path, "--policy", str(policy))
    assert len(prometheus.queries) == 2 and [n for n, _, _ in pvc_risks(apps)] == ["blog"]


def test_unreachable_metrics_do_not_fail_the_scan(live: Path, tmp_path: Path) -> None:
    with FakeKubeAPI(live) as kube:
        apps = scan(kube, tmp_path, "--prometheus-url", "http://127.0.0.1:9")
    assert apps["shop"]["severity"] == "critical" and not pvc_risks(apps)
