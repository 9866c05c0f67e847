"""Issue 16: what metrics change in the diagnosis and the fix — PromQL read from probes (whatever the
file name), memory-limit from the observed peak, the post-release OOM rollback from a range query,
the cpu-limit and volume-expand remedies (and what they refuse)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest

from remediator.detectors import cpu_throttling, storage_full
from remediator.detectors.base import finding
from remediator.evidence.metrics import duration_seconds, selectors, series_of, window_of
from remediator.evidence.store import Evidence, Probe
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy, load_policy
from remediator.remedies import REMEDIES, cpu_limit, memory_limit, volume_expand
from remediator.remedies.base import Context, Proposal, Refusal, RemoveField, SetField

from .conftest import SCENARIOS

NS = "shop"
DEPLOY = ObjectRef("Deployment", NS, "web")
PVC = ObjectRef("PersistentVolumeClaim", NS, "data")
MI = 1024 * 1024


def _probe(query: str, result: list[dict[str, Any]], kind: str = "vector", extra: str = "") -> Probe:
    url = f"http://vm.example:8428/prometheus/api/v1/query{'_range' if kind == 'matrix' else ''}?query={quote_plus(query)}{extra}"
    body = {"status": "success", "data": {"resultType": kind, "result": result}}
    return Probe(url, 200, body, None, "probes/anything.json")


def _f(cat: Category, details: dict[str, Any], culprit: ObjectRef = DEPLOY) -> Finding:
    return finding(cat, culprit, "test", confidence=0.9, chain=(), evidence=(), detector="test", details=details)


def _deploy(resources: dict[str, Any], image: str = "acme/web:2") -> dict[str, Any]:
    c = {"name": "app", "image": image, "resources": resources}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"template": {"spec": {"containers": [c]}}},
    }


def _ctx(
    desired: list[dict[str, Any]], *cluster: dict[str, Any], probes: tuple[Probe, ...] = (), **pol: Any
) -> Context:
    ev = Evidence()
    for o in cluster:
        ev.add(o)
    ev.probes.extend(probes)
    return Context(ev, Policy.model_validate(pol), desired)


# --- PromQL, read just enough -------------------------------------------------------------------


def test_a_metric_name_inside_a_label_value_is_not_a_selector() -> None:
    sels = selectors('sum by (pod) (up{job="container_memory_working_set_bytes", pod=~"web-.*"}) offset 5m')
    assert [s.metric for s in sels] == ["up"]
    assert sels[0].matchers == (("job", "=", "container_memory_working_set_bytes"), ("pod", "=~", "web-.*"))


def test_recording_rules_name_selectors_and_grouping_labels_are_skipped() -> None:
    q = (
        "max(node_namespace_pod_container:container_memory_working_set_bytes{namespace='shop'}) by (pod, container)"
        ' / on(pod) {__name__="kube_pod_container_resource_limits", resource="memory"}'
    )
    assert {s.metric for s in selectors(q)} == {
        "node_namespace_pod_container:container_memory_working_set_bytes",
        "kube_pod_container_resource_limits",
    }


@pytest.mark.parametrize(
    ("query", "extra", "window"),
    [
        ("max_over_time(container_memory_working_set_bytes[1h])", "", "1h"),
        ('rollup_max(container_memory_working_set_bytes{pod="x[5m]"}[1d])', "", "1d"),  # a range inside a string
        ("container_memory_working_set_bytes", "&start=1000&end=22600&step=60", "range of 6h"),
        ("rate(container_cpu_usage_seconds_total[5m])", "", "5m"),
    ],
)
def test_the_window_comes_from_the_range_or_the_query_range_span(query: str, extra: str, window: str) -> None:
    base = "http://p/api/v1/query_range" if extra else "http://p/api/v1/query"
    assert window_of(f"{base}?query={quote_plus(query)}{extra}", query) == window


def test_durations() -> None:
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("5x") is None


def test_an_aggregated_answer_takes_its_labels_from_the_equality_matchers() -> None:
    q = 'max(max_over_time(container_memory_working_set_bytes{namespace="shop", pod="web-1", container="app"}[1h]))'
    (s,) = series_of(_probe(q, [{"metric": {}, "value": [1, "1000"]}]))
    assert (s.label("namespace"), s.label("pod"), s.label("container")) == ("shop", "web-1", "app")
    assert s.uses("container_memory_working_set_bytes") and s.window == "1h"
    assert series_of(Probe("http://p/api/tags", 200, {}, None, "x")) == []


# --- memory-limit and oom-rollback --------------------------------------------------------------


def test_memory_limit_uses_the_prometheus_peak_when_above_the_limit_and_cites_it() -> None:
    dep = _deploy({"limits": {"memory": "512Mi"}})
    q = 'max_over_time(container_memory_working_set_bytes{namespace="shop", container="app"}[2h])'
    p = _probe(q, [{"metric": {"pod": "web-7c9-abcde", "container": "app"}, "value": [1, str(900 * MI)]}])
    out = memory_limit.plan(_f(Category.OOM_KILLED, {"container": "app"}), _ctx([dep], dep, probes=(p,)))
    assert isinstance(out, Proposal)
    assert out.changes[0] == SetField(DEPLOY, out.changes[0].path, "1408Mi", current="512Mi", role="memory-limit")  # type: ignore[union-attr]
    assert "900Mi over 2h" in out.reason and "max_over_time(container_memory_working_set_bytes" in out.reason


def test_memory_limit_reports_above_the_policy_maximum() -> None:
    dep = _deploy({"limits": {"memory": "512Mi"}})
    q = 'container_memory_working_set_bytes{namespace="shop", pod="web-1", container="app"}'
    p = _probe(q, [{"metric": {}, "value": [1, str(3000 * MI)]}])
    out = memory_limit.plan(
        _f(Category.OOM_KILLED, {"container": "app"}), _ctx([dep], dep, probes=(p,), memory={"max": "2Gi"})
    )
    assert isinstance(out, Refusal) and out.rule == "memory.max"


def _rs(h: str, rev: int, image: str, created: str) -> dict[str, Any]:
    rs = _deploy({"limits": {"memory": "512Mi"}}, image)
    rs["kind"] = "ReplicaSet"
    rs["metadata"] = {
        "name": f"web-{h}",
        "namespace": NS,
        "creationTimestamp": created,
        "annotations": {"deployment.kubernetes.io/revision": str(rev)},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": True}],
    }
    return rs


def _trend(after_slope: float) -> Probe:
    release, values = 1_000_000, []
    for i in range(20):
        t = release - 10 * 600 + i * 600
        v = 200 * MI if t < release else 200 * MI + (t - release) / 600 * after_slope * MI
        values.append([t, str(int(v))])
    q = 'container_memory_working_set_bytes{namespace="shop", container="app"}'
    return _probe(
        q, [{"metric": {"pod": "web-new-1"}, "values": values}], "matrix", "&start=994000&end=1005400&step=600"
    )


@pytest.mark.parametrize(("slope", "rolled_back"), [(35.0, True), (0.0, False)])
def test_oom_rollback_needs_flat_before_and_climbing_after_the_release(slope: float, rolled_back: bool) -> None:
    from remediator.remedies import oom_rollback

    dep = _deploy({"limits": {"memory": "512Mi"}}, "acme/web:2")
    old, new = _rs("old", 1, "acme/web:1", "1970-01-11T00:00:00Z"), _rs("new", 2, "acme/web:2", "1970-01-12T13:46:40Z")
    ctx = _ctx([dep], dep, old, new, probes=(_trend(slope),))
    out = oom_rollback.plan(_f(Category.OOM_KILLED, {"container": "app", "image": "acme/web:2"}), ctx)
    if rolled_back:
        assert isinstance(out, Proposal) and out.changes[0].value == "acme/web:1"  # type: ignore[union-attr]
        assert (
            "flat at 200-200Mi before revision 2" in out.reason and "container_memory_working_set_bytes" in out.reason
        )
    else:
        assert isinstance(out, Refusal)


# --- cpu-throttling: detector and cpu-limit --------------------------------------------------------


def _pod(limit: str = "500m") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-abc-1", "namespace": NS},
        "spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": limit}}}]},
        "status": {"phase": "Running"},
    }


def _throttle(ratio: str, usage: str) -> tuple[Probe, Probe]:
    t = _probe(
        'rate(container_cpu_cfs_throttled_periods_total{namespace="shop"}[5m]) / rate(container_cpu_cfs_periods_total{namespace="shop"}[5m])',
        [{"metric": {"namespace": NS, "pod": "web-abc-1", "container": "app"}, "value": [1, ratio]}],
    )
    u = _probe(
        'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace="shop"}[5m]))',
        [{"metric": {"namespace": NS, "pod": "web-abc-1", "container": "app"}, "value": [1, usage]}],
    )
    return t, u


@pytest.mark.parametrize(("usage", "found"), [("0.49", True), ("0.1", False)])
def test_throttled_at_the_limit_is_found_from_metrics_alone_citing_queries(usage: str, found: bool) -> None:
    ev = Evidence()
    ev.add(_pod())
    ev.probes.extend(_throttle("0.6", usage))
    out = cpu_throttling.detect(ev)
    assert bool(out) is found
    if found:
        assert out[0].details["usage_at_limit"] and out[0].details["throttled"] == 0.6
        texts = " ".join(e.text for e in out[0].evidence)
        assert "container_cpu_cfs_throttled_periods_total" in texts and "60%" in texts and "0.490 cores" in texts


def _cpu_finding(throttled: float | None = 0.6, at_limit: bool = True) -> Finding:
    return _f(
        Category.CPU_THROTTLING,
        {"container": "app", "throttled": throttled, "usage_at_limit": at_limit, "usage_ratio": 0.98},
    )


def test_cpu_limit_raises_by_the_factor_and_keeps_below_the_max() -> None:
    dep = _deploy({"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}})
    out = cpu_limit.plan(_cpu_finding(), _ctx([dep], dep))
    assert isinstance(out, Proposal) and out.changes[0].value == "1"  # type: ignore[union-attr]
    out = cpu_limit.plan(_cpu_finding(), _ctx([dep], dep, cpu={"factor": 1.5}))
    assert isinstance(out, Proposal) and out.changes[0].value == "800m"  # type: ignore[union-attr]  # rounded up to 100m
    refused = cpu_limit.plan(_cpu_finding(), _ctx([dep], dep, cpu={"max": "800m"}))
    assert isinstance(refused, Refusal) and refused.rule == "cpu.max"


def test_cpu_limit_removed_when_the_policy_says_so() -> None:
    dep = _deploy({"limits": {"cpu": "500m"}})
    out = cpu_limit.plan(_cpu_finding(), _ctx([dep], dep, cpu={"remove_limit_on_throttling": True}))
    assert isinstance(out, Proposal) and isinstance(out.changes[0], RemoveField)
    assert out.changes[0].path[-1] == "cpu"


@pytest.mark.parametrize(
    ("finding_", "rule"),
    [(_cpu_finding(throttled=0.1), "cpu.throttling_threshold"), (_cpu_finding(at_limit=False), "cpu-limit")],
)
def test_cpu_limit_refuses_without_both_signals(finding_: Finding, rule: str) -> None:
    dep = _deploy({"limits": {"cpu": "500m"}})
    out = cpu_limit.plan(finding_, _ctx([dep], dep))
    assert isinstance(out, Refusal) and out.rule == rule


# --- storage-full: kubelet volume stats and volume-expand ------------------------------------------


def _pvc(cls: str | None = "fast", size: str = "10Gi") -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": size}}}
    if cls:
        spec["storageClassName"] = cls
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": NS},
        "spec": spec,
    }


def _sc(name: str, expand: bool | None, default: bool = False) -> dict[str, Any]:
    sc: dict[str, Any] = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name}}
    if default:
        sc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    if expand is not None:
        sc["allowVolumeExpansion"] = expand
    return sc


def test_volume_stats_make_a_storage_full_finding_on_the_pvc() -> None:
    ev = Evidence()
    pod = _pod()
    pod["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
    ev.add(pod)
    ev.probes.append(
        _probe(
            '1 - kubelet_volume_stats_available_bytes{namespace="shop"} / kubelet_volume_stats_capacity_bytes{namespace="shop"}',
            [{"metric": {"namespace": NS, "persistentvolumeclaim": "data"}, "value": [1, "0.95"]}],
        )
    )
    (f,) = storage_full.detect(ev)
    assert f.culprit == PVC and f.details["usage"] == "95.0%"
    assert "kubelet_volume_stats_available_bytes" in f.evidence[0].text and "95.0% used" in f.evidence[0].text


@pytest.mark.parametrize(
    ("pvc", "classes", "expect"),
    [
        (_pvc("fast"), [_sc("fast", True)], "15Gi"),
        (_pvc(None), [_sc("fast", True, default=True)], "15Gi"),
        (_pvc("fast", "1000Gi"), [_sc("fast", True)], "storage.max"),
        (_pvc("slow"), [_sc("slow", None)], "does not allow volume expansion"),
        (_pvc("gone"), [], "is unknown"),
    ],
)
def test_volume_expand(pvc: dict[str, Any], classes: list[dict[str, Any]], expect: str) -> None:
    out = volume_expand.plan(_f(Category.STORAGE_FULL, {}, PVC), _ctx([pvc], pvc, *classes))
    if expect.endswith("Gi"):
        assert isinstance(out, Proposal) and out.changes[0].value == expect  # type: ignore[union-attr]
    else:
        assert isinstance(out, Refusal) and (expect == out.rule or expect in out.reason)


def test_volume_expand_refuses_a_claim_not_in_git() -> None:
    out = volume_expand.plan(_f(Category.STORAGE_FULL, {}, PVC), _ctx([], _pvc(), _sc("fast", True)))
    assert isinstance(out, Refusal) and "not declared" in out.reason


# --- wiring ----------------------------------------------------------------------------------------


def test_registered_and_in_the_default_policy() -> None:
    assert [r.name for r in REMEDIES["cpu-throttling"]] == ["cpu-limit"]
    assert "volume-expand" in [r.name for r in REMEDIES["storage-full"]]
    pol = load_policy(None)
    assert pol.enabled("cpu-limit") and pol.enabled("volume-expand")
    assert pol.cpu.throttling_threshold == 0.25 and not pol.cpu.remove_limit_on_throttling


def test_scenario_probes_are_recognised_whatever_their_file_name() -> None:
    names = {p.name for p in (SCENARIOS / "cpu-limit-throttled-at-limit" / "cluster" / "probes").iterdir()}
    assert names == {"q1.json", "q2.json"}
    for n in names:
        data = json.loads((SCENARIOS / "cpu-limit-throttled-at-limit" / "cluster" / "probes" / n).read_text())
        assert series_of(Probe(data["url"], data["status"], data["body"], None, n))
