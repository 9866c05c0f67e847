"""The metrics source against a REAL Prometheus, backfilled with OpenMetrics series written here:
a leak after a release, a steady workload near its limit, CPU throttling, a filling volume, ingress
5xx. Errors (wrong URL, 500, timeout) become probe errors and the run goes on; auth headers are sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from remediator.cli import app
from remediator.evidence.metrics import series_of
from remediator.evidence.sources.prometheus import probe_metrics, regex_escape, seconds, string_literal
from remediator.evidence.sources.snapshot import load_snapshot
from remediator.evidence.store import Evidence, Obj, Probe
from remediator.policy import BasicAuth, Metrics
from tests.fakes.kube_api import FakeKubeAPI
from tests.fakes.loopback import LoopbackServer
from tests.realservers import free_port, prometheus_server

MI = 1024 * 1024
GI = 1024 * MI
NOW = int(time.time()) // 60 * 60 - 60  # the last sample; queries are evaluated here
STEP = 60
START = NOW - 2 * 3600  # two hours of history
RELEASE = NOW - 3600  # the new image started here

Labels = dict[str, str]


def family(name: str, kind: str, series: list[tuple[Labels, list[tuple[int, float]]]]) -> str:
    sample = f"{name}_total" if kind == "counter" else name
    out = [f"# TYPE {name} {kind}"]
    for labels, points in series:
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        out += [f"{sample}{{{lab}}} {v} {t}" for t, v in points]
    return "\n".join(out)


def times(start: int = START, end: int = NOW) -> range:
    return range(start, end + 1, STEP)


def c(ns: str, pod: str, container: str) -> Labels:
    return {"namespace": ns, "pod": pod, "container": container}


OLD, NEW = "web-6d8f9c7b5-abcde", "web-7f9c8d6b4-fghij"


def openmetrics() -> str:
    """The four workloads in namespace shop (and the vault example's pod for the snapshot test)."""
    ws: list[tuple[Labels, list[tuple[int, float]]]] = [
        # leak after a release: the old pod flat at 200Mi, the new one climbing 200Mi -> 500Mi
        (c("shop", OLD, "web"), [(t, 200 * MI) for t in times(START, RELEASE)]),
        (c("shop", NEW, "web"), [(t, 200 * MI + (t - RELEASE) * 300 * MI // 3600) for t in times(RELEASE + STEP)]),
        # steady near its 512Mi limit
        (c("shop", "api-0", "api"), [(t, 480 * MI) for t in times()]),
        (c("shop", "worker-5b7c9d8f6-zzzzz", "worker"), [(t, 100 * MI) for t in times()]),
        (c("tmcp-marketing", "mcp-bridge-7ffb4b9965-pgwlb", "mcp-bridge"), [(t, 300 * MI) for t in times()]),
        # a pod of another app with a name the regex must not match (the '.' is escaped)
        (c("shop", "apixx0", "api"), [(t, 999 * MI) for t in times()]),
    ]
    n = (NOW - START) // STEP + 1
    periods = [(t, float(i * 6000)) for i, t in enumerate(times())]  # 100 periods/s
    throttled = [(t, float(i * 3600)) for i, t in enumerate(times())]  # 60 of them throttled
    usage = [(t, i * 60 * 0.5) for i, t in enumerate(times())]  # half a core
    worker = c("shop", "worker-5b7c9d8f6-zzzzz", "worker")
    pvc = {"namespace": "shop", "persistentvolumeclaim": "data-api-0"}
    used = [(t, 5 * GI + i * (4.5 * GI) / (n - 1)) for i, t in enumerate(times())]  # 5Gi -> 9.5Gi of 10Gi
    ing = {"namespace": "shop", "ingress": "web"}
    return (
        "\n".join(
            [
                family("container_memory_working_set_bytes", "gauge", ws),
                family(
                    "kube_pod_container_status_restarts",
                    "counter",
                    [(c("shop", NEW, "web"), [(t, 0 if t < NOW - 1800 else 3) for t in times()])],
                ),
                family("container_cpu_cfs_periods", "counter", [(worker, periods)]),
                family("container_cpu_cfs_throttled_periods", "counter", [(worker, throttled)]),
                family("container_cpu_usage_seconds", "counter", [(worker, usage)]),
                family("kubelet_volume_stats_used_bytes", "gauge", [(pvc, used)]),
                family("kubelet_volume_stats_capacity_bytes", "gauge", [(pvc, [(t, 10 * GI) for t in times()])]),
                family(  # ingress-nginx exposes this counter without the _total suffix
                    "nginx_ingress_controller_requests",
                    "unknown",
                    [
                        ({**ing, "status": "200"}, [(t, i * 60 * 9.0) for i, t in enumerate(times())]),
                        ({**ing, "status": "503"}, [(t, i * 60 * 1.0) for i, t in enumerate(times())]),
                    ],
                ),
            ]
        )
        + "\n# EOF\n"
    )


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prometheus_server(tmp_path_factory.mktemp("prom"), openmetrics=openmetrics()) as url:
        yield url


def pod(
    ns: str, name: str, container: str, owner: tuple[str, str] | None = None, restarts: int = 0, **spec: Any
) -> Obj:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "apiVersion": "apps/v1"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": container, "image": "x"}], **spec},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": container, "ready": restarts == 0, "restartCount": restarts}],
        },
    }


def shop() -> Evidence:
    ev = Evidence()
    ev.add(pod("shop", NEW, "web", ("ReplicaSet", "web-7f9c8d6b4"), restarts=3))
    ev.add(
        pod(
            "shop",
            "api-0",
            "api",
            ("StatefulSet", "api"),
            restarts=1,
            volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data-api-0"}}],
        )
    )
    ev.add(pod("shop", "worker-5b7c9d8f6-zzzzz", "worker", ("ReplicaSet", "worker-5b7c9d8f6"), restarts=2))
    ev.add(pod("shop", "healthy-1", "healthy"))
    ev.add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"}})
    return ev


def answer(ev: Evidence, *needles: str) -> list[Probe]:
    return [p for p in ev.probes if all(n in p.url for n in needles)]


def by_pod(p: Probe) -> dict[str, tuple[float, ...]]:
    return {
        s.labels.get("pod") or s.labels.get("persistentvolumeclaim") or s.labels.get("ingress", ""): s.values
        for s in series_of(p)
    }


def test_queries_against_real_prometheus(prometheus: str) -> None:
    ev = shop()
    n = probe_metrics(ev, Metrics(url=prometheus, window="1h", step="5m"), now=NOW)
    assert ev.errors == [] and n == len(ev.probes) == 7
    assert all(p.status == 200 and p.error is None and p.source == "prometheus" for p in ev.probes)

    peak = by_pod(answer(ev, "max_over_time")[0])
    assert peak[NEW] == (500 * MI,)  # the leak peaked at 500Mi
    assert peak["api-0"] == (480 * MI,)  # steady near its limit
    assert "apixx0" not in peak and "healthy-1" not in peak  # escaped regex, failing pods only

    (rng,) = answer(ev, "query_range")
    curve = by_pod(rng)
    assert set(curve[OLD]) == {200 * MI}  # flat before the release ...
    assert curve[NEW][0] < curve[NEW][-1] == 500 * MI  # ... climbing after it
    assert len(curve[NEW]) == 12

    assert by_pod(answer(ev, "restarts")[0])[NEW] == (3,)
    assert by_pod(answer(ev, "cfs_throttled")[0])["worker-5b7c9d8f6-zzzzz"] == pytest.approx((0.6,))
    assert by_pod(answer(ev, "cpu_usage")[0])["worker-5b7c9d8f6-zzzzz"] == pytest.approx((0.5,))
    assert by_pod(answer(ev, "kubelet_volume_stats")[0])["data-api-0"] == pytest.approx((0.95,))
    assert by_pod(answer(ev, "nginx_ingress")[0])["web"] == pytest.approx((0.1,))


def test_no_ingress_metric_no_probe_and_bounds(prometheus: str) -> None:
    ev = shop()
    ev.add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "x"}})
    probe_metrics(ev, Metrics(url=prometheus, max_series=1), now=NOW)
    assert len(answer(ev, "nginx_ingress")) == 1  # namespace x has no such metric: not recorded
    (rng,) = answer(ev, "query_range")
    assert len(rng.body["data"]["result"]) == 1 and "kept 1 of 4 series" in rng.body["warnings"][0]
    ev2 = shop()
    probe_metrics(ev2, Metrics(url=prometheus, max_bytes=100), now=NOW)
    assert ev2.probes[0].error == "answer larger than 100 bytes" and ev2.errors


def test_snapshot_probes_round_trip(prometheus: str, vault_example: Path, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    with FakeKubeAPI(vault_example / "cluster") as api:
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        args = ["snapshot", "--app", "tmcp-marketing", "-o", str(out), "--kubeconfig", str(kc), "--no-probe-models"]
        r = CliRunner().invoke(app, [*args, "--prometheus-url", prometheus])
        assert r.exit_code == 0, r.output
        policy = tmp_path / "policy.yaml"
        policy.write_text(f"metrics: {{url: {prometheus}}}\n")
        r2 = CliRunner().invoke(
            app, ["diagnose", "--app", "tmcp-marketing", "--kubeconfig", str(kc), "--policy", str(policy)]
        )
        assert r2.exit_code == 0, r2.output
    files = sorted((out / "probes").glob("*.json"))
    assert files and all("/api/v1/query" in json.loads(f.read_text())["url"] for f in files)
    ev = load_snapshot(out)
    peak = [s for p in ev.probes for s in series_of(p) if "max_over_time" in s.query]
    assert [(s.labels["pod"], s.values) for s in peak] == [("mcp-bridge-7ffb4b9965-pgwlb", (300.0 * MI,))]
    assert 'pod=~"kibana-[a-z0-9]+-[a-z0-9]+|mcp-bridge-[a-z0-9]+-[a-z0-9]+"' in peak[0].query
    assert any(s.values and "query_range" in p.url for p in ev.probes for s in series_of(p))


# --- errors never fail a run; credentials are sent ----------------------------------------------


class Recorder(LoopbackServer):
    """A tiny loopback server: answers `status` (after `delay` seconds) and records the headers."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.headers.append(dict(self.headers))
                time.sleep(delay)
                body = json.dumps(
                    {"status": "success", "data": {"resultType": "vector", "result": []}}
                    if status == 200
                    else {"status": "error", "errorType": "internal", "error": "boom"}
                ).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self._serve(Handler)
        self._lock = threading.Lock()


def test_wrong_url_is_a_probe_error(tmp_path: Path) -> None:
    ev = shop()
    probe_metrics(ev, Metrics(url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2))
    assert len(ev.probes) == 1 and ev.probes[0].error and "ConnectError" in ev.probes[0].error
    assert ev.probes[0].url.startswith("http://127.0.0.1:") and "/api/v1/query?query=" in ev.probes[0].url


def test_500_and_timeout_are_recorded() -> None:
    with Recorder(status=500) as server:
        ev = shop()
        probe_metrics(ev, Metrics(url=server.url))
    assert ev.probes and all(p.status == 500 and p.body["error"] == "boom" for p in ev.probes)
    assert all(series_of(p) == [] for p in ev.probes) and "HTTP 500" in ev.errors[0]
    with Recorder(delay=1.5) as slow:
        ev = shop()
        probe_metrics(ev, Metrics(url=slow.url, timeout_seconds=0.3))
    assert len(ev.probes) == 1 and "ReadTimeout" in str(ev.probes[0].error)


def test_cli_run_succeeds_when_metrics_fail(vault_example: Path, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with FakeKubeAPI(vault_example / "cluster") as api:
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        args = ["diagnose", "--app", "tmcp-marketing", "--kubeconfig", str(kc), "--no-probe-models"]
        r = CliRunner().invoke(app, [*args, "--prometheus-url", closed])
    assert r.exit_code == 0, r.output


def test_bearer_and_basic_auth_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_TOKEN", "s3cr3t")
    monkeypatch.setenv("PROM_PASSWORD", "pw")
    with Recorder() as server:
        probe_metrics(shop(), Metrics(url=server.url + "/select/0/prometheus", bearer_token_env="PROM_TOKEN"))
        probe_metrics(
            shop(), Metrics(url=server.url, basic_auth=BasicAuth(username="bot", password_env="PROM_PASSWORD"))
        )
        ev = shop()
        probe_metrics(ev, Metrics(url=server.url, bearer_token_env="UNSET_PROM_TOKEN"))
    auth = [h.get("Authorization") for h in server.headers]
    assert auth[0] == "Bearer s3cr3t" and "Basic Ym90OnB3" in auth and auth[-1] is None
    assert any("UNSET_PROM_TOKEN is not set" in e for e in ev.errors)


def test_policy_and_helpers() -> None:
    assert seconds("1h30m") == 5400 and seconds("30s") == 30
    assert regex_escape("a.b-c") == r"a\.b-c" and string_literal('a\\."') == r'"a\\.\""'
    with pytest.raises(ValueError):
        Metrics(window="an hour")
    with pytest.raises(ValueError):
        Metrics(url="prometheus:9090")
    with pytest.raises(ValueError):
        Metrics.model_validate({"url": "http://p", "bearer_token": "x"})  # no credentials in the policy
