"""The Argo CD API path concurrent and scoped: the same Evidence as the sequential walk when it asks
the same questions, the same diagnosis when it asks only the scoped ones (managed-resources in one
call, events of the failing nodes, logs of the containers that fail), against the FAKE Argo CD."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from remediator.diagnose import diagnose
from remediator.errors import ForbiddenError
from remediator.evidence.sources.argocd import ArgoCDSource
from remediator.evidence.sources.argocd_api import ArgoCDClient
from remediator.evidence.sources.snapshot import load_snapshot
from remediator.evidence.store import Evidence
from tests.fakes.argocd_api import FakeArgoCD

from .conftest import EXAMPLES

ROOT = Path(__file__).parent
CLUSTERS = sorted(
    [*(EXAMPLES / "tmcp-marketing").glob("*/cluster"), *(ROOT / "scenarios").glob("*/cluster")],
    key=lambda p: str(p),
)


def _app_name(cluster: Path) -> str | None:
    apps = load_snapshot(cluster).all("Application")
    return str((apps[0].get("metadata") or {}).get("name") or "") or None if len(apps) == 1 else None


def dump(ev: Evidence) -> dict[str, Any]:
    """Everything a detector can read, in a comparable form."""
    return {
        "objects": sorted((str(r), repr(ev.get_ref(r)), ev.sources.get(r)) for r in ev.refs()),
        "events": sorted(repr(e) for e in ev.all_events()),
        "logs": sorted(
            (lf.namespace, lf.pod, lf.container, lf.previous, lf.path, tuple(lf.lines)) for lf in ev.all_logs()
        ),
        "errors": sorted(ev.errors),
        "focus": sorted(str(r) for r in ev.focus or ()),
    }


def findings(ev: Evidence, app: str) -> list[tuple[str, str]]:
    return [(str(f.category), str(f.culprit)) for f in diagnose(ev, app).findings]


def collect(api: FakeArgoCD, app: str, concurrency: int, scoped: bool) -> Evidence:
    client = ArgoCDClient(api.url, token=api.token, max_connections=concurrency)
    try:
        return ArgoCDSource(client, concurrency=concurrency, scoped=scoped).load(app)
    finally:
        client.close()


@pytest.mark.parametrize("cluster", CLUSTERS, ids=lambda p: p.parent.name)
def test_concurrent_equals_sequential(cluster: Path) -> None:
    app = _app_name(cluster)
    if app is None:
        pytest.skip("no Application in the snapshot")
    with FakeArgoCD(cluster, app) as api:
        sequential = collect(api, app, 1, scoped=False)
        n_sequential = len(api.requests)
        api.reset_counters()
        concurrent = collect(api, app, 16, scoped=False)
        api.reset_counters()
        scoped = collect(api, app, 16, scoped=True)
        n_scoped = len(api.requests)
    assert not api.unexpected
    assert dump(concurrent) == dump(sequential)  # the same questions: the same Evidence
    assert findings(scoped, app) == findings(sequential, app)  # the scoped questions: the same diagnosis
    assert n_scoped <= n_sequential


def test_scoped_requests_use_managed_resources_and_failing_nodes() -> None:
    cluster = EXAMPLES / "tmcp-marketing" / "fluentd-rbac" / "cluster"
    with FakeArgoCD(cluster, "tmcp-gitops") as api:
        ev = collect(api, "tmcp-gitops", 16, scoped=True)
        reqs = list(api.requests)
    assert sum("/managed-resources" in r for r in reqs) == 1
    resources = [r for r in reqs if "/resource?" in r]
    assert resources and all("kind=Pod" in r or "kind=ReplicaSet" in r for r in resources)  # children only
    assert not any("/events?" in r and "kind" not in r and "resourceName=fluentd" not in r and "resourceName" in r
                   and "Healthy" in r for r in reqs)  # fmt: skip
    for r in reqs:
        if "/logs?" in r and "previous=true" in r:
            pod = r.split("podName=")[1].split("&")[0]
            obj = ev.get("Pod", r.split("namespace=")[1].split("&")[0], pod)
            assert obj is not None
            assert any(int(cs.get("restartCount") or 0) > 0 for cs in obj["status"].get("containerStatuses") or [])


def test_app_level_events_are_the_applications_own() -> None:
    cluster = EXAMPLES / "tmcp-marketing" / "fluentd-rbac" / "cluster"
    with FakeArgoCD(cluster, "tmcp-gitops") as api:
        client = ArgoCDClient(api.url, token=api.token)
        items = client.events("tmcp-gitops")
        client.close()
    assert all(e["involvedObject"]["kind"] == "Application" for e in items)


def test_follow_ups_run_concurrently_within_the_pool() -> None:
    cluster = EXAMPLES / "tmcp-marketing" / "fluentd-rbac" / "cluster"
    with FakeArgoCD(cluster, "tmcp-gitops", latency=0.05) as api:
        t0 = time.perf_counter()
        collect(api, "tmcp-gitops", 1, scoped=True)
        sequential_s = time.perf_counter() - t0
        n = len(api.requests)
        t0 = time.perf_counter()
        collect(api, "tmcp-gitops", 16, scoped=True)
        concurrent_s = time.perf_counter() - t0
    assert n >= 5
    assert sequential_s >= 0.05 * n
    assert concurrent_s < sequential_s / 2


def test_a_refused_session_is_one_permanent_error() -> None:
    cluster = EXAMPLES / "tmcp-marketing" / "fluentd-rbac" / "cluster"
    with FakeArgoCD(cluster, "tmcp-gitops") as api:
        wrong = ArgoCDClient(api.url, token="expired-token-7")
        with pytest.raises(ForbiddenError) as e:
            ArgoCDSource(wrong).load("tmcp-gitops")
        wrong.close()
    assert "401" in str(e.value) and "expired-token-7" not in str(e.value) and "\n" not in str(e.value)


def test_a_running_state_without_started_at_counts_as_running() -> None:
    from remediator.evidence.sources.argocd import _ran

    pod = {"status": {"containerStatuses": [{"name": "app", "ready": False, "state": {"running": {}}}]}}
    assert _ran(pod, "app")
    assert not _ran({"status": {"containerStatuses": [{"name": "app", "state": {"waiting": {}}}]}}, "app")
