"""The resource remedies (issue 13, family 6): oom-rollback, hpa-requests, limitrange-bounds,
quota-raise, ephemeral-storage — what each proposes from the evidence, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from remediator.detectors.base import finding
from remediator.diagnose import diagnose
from remediator.edits.plan import plan_fix
from remediator.eval import fix_scenario, load_scenario
from remediator.evidence.store import Evidence, Probe
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import REMEDIES, ephemeral_storage, hpa_requests, limitrange_bounds, oom_rollback, quota_raise
from remediator.remedies.base import Context, Proposal, Refusal, SetField
from remediator.remedies.limitrange_bounds import parse_bounds

from .conftest import SCENARIOS

NS = "shop"
DEPLOY = ObjectRef("Deployment", NS, "web")


def _f(cat: Category, details: dict[str, Any], culprit: ObjectRef = DEPLOY) -> Finding:
    return finding(cat, culprit, "test", confidence=0.9, chain=(), evidence=(), detector="test", details=details)


def _deploy(containers: list[dict[str, Any]], volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers, **({"volumes": volumes} if volumes else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": 2, "template": {"spec": spec}},
    }


def _ctx(desired: list[dict[str, Any]], *cluster: dict[str, Any], policy: Policy | None = None) -> Context:
    ev = Evidence()
    for o in cluster:
        ev.add(o)
    return Context(ev, policy or Policy(), desired)


def _sets(p: Proposal | Refusal) -> dict[str, Any]:
    assert isinstance(p, Proposal), p
    return {
        ".".join(str(x) for x in ch.path[-2:] if isinstance(x, str)): ch.value
        for ch in p.changes
        if isinstance(ch, SetField)
    }


def _rs(name: str, image: str, rev: str, limit: str = "512Mi") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": NS,
            "annotations": {"deployment.kubernetes.io/revision": rev},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "app", "image": image, "resources": {"limits": {"memory": limit}}}]}
            }
        },
    }


def _pod(rs: str, image: str, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{rs}-x", "namespace": NS, "ownerReferences": [{"kind": "ReplicaSet", "name": rs}]},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {"containerStatuses": [{"name": "app", "image": image, **status}]},
    }


RUNNING = {"restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}
OOM = {"restartCount": 4, "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}
APP = {"name": "app", "image": "r/web:2", "resources": {"limits": {"memory": "512Mi"}}}


# ----- oom-rollback -----
def test_oom_rollback_is_tried_before_memory_limit() -> None:
    assert [r.name for r in REMEDIES["oom-killed"]][:2] == ["oom-rollback", "memory-limit"]


def test_oom_rollback_restores_the_image_whose_pods_ran_within_the_limit() -> None:
    ctx = _ctx(
        [_deploy([APP])],
        _rs("web-new", "r/web:2", "5"),
        _rs("web-old", "r/web:1", "4"),
        _pod("web-new", "r/web:2", OOM),
        _pod("web-old", "r/web:1", RUNNING),
    )
    p = oom_rollback.plan(_f(Category.OOM_KILLED, {"container": "app", "image": "r/web:2"}), ctx)
    assert _sets(p) == {"image": "r/web:1"}
    assert isinstance(p, Proposal) and "release problem" in p.reason


@pytest.mark.parametrize(
    ("old_status", "old_limit"),
    [(OOM, "512Mi"), ({**RUNNING, "restartCount": 3}, "512Mi"), (RUNNING, "1Gi")],
    ids=["old-pods-oomkilled-too", "old-pods-restarted", "old-image-had-more-memory"],
)
def test_oom_rollback_refuses_without_proof_the_old_image_fit(old_status: dict[str, Any], old_limit: str) -> None:
    ctx = _ctx(
        [_deploy([APP])],
        _rs("web-new", "r/web:2", "5"),
        _rs("web-old", "r/web:1", "4", limit=old_limit),
        _pod("web-old", "r/web:1", old_status),
    )
    p = oom_rollback.plan(_f(Category.OOM_KILLED, {"container": "app", "image": "r/web:2"}), ctx)
    assert isinstance(p, Refusal) and p.rule == "oom-rollback"


def test_oom_rollback_from_a_memory_metric_per_image() -> None:
    ctx = _ctx([_deploy([APP])])
    url = "http://prom:9090/api/v1/query_range?query=container_memory_working_set_bytes"
    result = [
        {"metric": {"namespace": NS, "pod": "web-a-1", "container": "app", "image": img}, "values": [[1, v], [2, v]]}
        for img, v in (("r/web:1", str(200 * 2**20)), ("r/web:2", str(510 * 2**20)))
    ]
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    ctx.ev.probes.append(Probe(url, 200, body, None, "probes/prom.json"))
    p = oom_rollback.plan(_f(Category.OOM_KILLED, {"container": "app", "image": "r/web:2"}), ctx)
    assert _sets(p) == {"image": "r/web:1"}


# ----- hpa-requests -----
HPA_DETAILS = {"resource": "cpu", "container": "app", "hpa": {"name": "web"}}


def test_hpa_requests_prefers_a_limitrange_default_then_falls_back_to_the_policy() -> None:
    dep = _deploy([{"name": "app", "image": "r/web:1"}])
    lr = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "defaults", "namespace": NS},
        "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "250m"}}]},
    }
    assert list(_sets(hpa_requests.plan(_f(Category.AUTOSCALING, HPA_DETAILS), _ctx([dep], lr))).values()) == ["250m"]
    assert list(_sets(hpa_requests.plan(_f(Category.AUTOSCALING, HPA_DETAILS), _ctx([dep]))).values()) == ["100m"]


def test_hpa_requests_refuses_when_metrics_are_the_problem() -> None:
    f = _f(Category.AUTOSCALING, {"resource": None, "container": None})
    p = hpa_requests.plan(f, _ctx([_deploy([APP])]))
    assert isinstance(p, Refusal) and p.rule == "hpa-requests"


def test_the_autoscaling_culprit_is_the_target_when_requests_are_missing() -> None:
    ev, _ = load_scenario(SCENARIOS / "autoscaling-missing-requests")
    top = diagnose(ev, "store").top
    assert top is not None and top.culprit == ObjectRef("Deployment", "store", "api")
    assert top.details["container"] == "api" and top.details["resource"] == "cpu"


# ----- limitrange-bounds -----
def test_limitrange_messages_are_parsed_as_the_limitranger_prints_them() -> None:
    msg = (
        'pods "x" is forbidden: [minimum memory usage per Container is 128Mi, but request is 64Mi, '
        "maximum cpu usage per Container is 2, but limit is 4, maximum memory usage per Pod is 1Gi.  No limit is specified]"
    )
    assert [(b.kind, b.resource, b.scope, b.value) for b in parse_bounds(msg)] == [
        ("minimum", "memory", "Container", "128Mi"),
        ("maximum", "cpu", "Container", "2"),
        ("maximum", "memory", "Pod", "1Gi"),
    ]


def test_limitrange_minimum_raises_request_and_a_limit_below_it() -> None:
    c = {"name": "app", "image": "i", "resources": {"requests": {"memory": "64Mi"}, "limits": {"memory": "96Mi"}}}
    msg = "minimum memory usage per Container is 128Mi, but request is 64Mi"
    p = limitrange_bounds.plan(_f(Category.QUOTA_EXCEEDED, {"message": msg}), _ctx([_deploy([c])]))
    assert _sets(p) == {"requests.memory": "128Mi", "limits.memory": "128Mi"}


def test_limitrange_refuses_ratio_and_ambiguous_pod_bounds() -> None:
    two = _deploy(
        [
            {"name": "a", "image": "i", "resources": {"limits": {"memory": "1Gi"}}},
            {"name": "b", "image": "i", "resources": {"limits": {"memory": "1Gi"}}},
        ]
    )
    for msg in (
        "memory max limit to request ratio per Container is 2, but provided ratio is 4.000000",
        "maximum memory usage per Pod is 1Gi, but limit is 2Gi",
    ):
        p = limitrange_bounds.plan(_f(Category.QUOTA_EXCEEDED, {"message": msg}), _ctx([two]))
        assert isinstance(p, Refusal) and p.rule == "limitrange-bounds", msg


# ----- quota-raise -----
QUOTA_MSG = (
    'Error creating: pods "web-1" is forbidden: exceeded quota: compute, requested: limits.memory=1Gi, '
    "used: limits.memory=3584Mi, limited: limits.memory=4Gi"
)


def _quota() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "compute", "namespace": NS},
        "spec": {"hard": {"limits.memory": "4Gi", "pods": "10"}},
    }


def test_quota_raise_raises_a_quota_the_app_declares_to_used_plus_requested() -> None:
    f = _f(Category.QUOTA_EXCEEDED, {"quota": "compute", "message": QUOTA_MSG})
    p = quota_raise.plan(f, _ctx([_deploy([APP]), _quota()]))
    assert isinstance(p, Proposal) and [(c.target.kind, c.value) for c in p.changes if isinstance(c, SetField)] == [
        ("ResourceQuota", "4608Mi")
    ]


def test_quota_raise_refuses_a_platform_quota_and_is_off_by_default() -> None:
    f = _f(Category.QUOTA_EXCEEDED, {"quota": "compute", "message": QUOTA_MSG})
    p = quota_raise.plan(f, _ctx([_deploy([APP])], _quota()))
    assert isinstance(p, Refusal) and "platform" in p.reason
    assert not Policy().enabled("quota-raise")


def test_own_quota_scenario_is_not_edited_with_the_default_policy() -> None:
    sc = SCENARIOS / "quota-raise-own-quota-plain"
    ev, _ = load_scenario(sc)
    d = diagnose(ev, "reports")
    res = plan_fix(d, ev, sc / "repo", Policy())
    assert not res.edits and any(r.rule == "out-of-band" for r in res.refused)
    with_policy = fix_scenario(sc, ev, d)
    assert with_policy is not None and with_policy.edits


# ----- ephemeral-storage -----
def test_ephemeral_storage_raises_the_container_limit_the_kubelet_names() -> None:
    c = {"name": "app", "image": "i", "resources": {"limits": {"ephemeral-storage": "1Gi"}}}
    msg = 'Container app exceeded its local ephemeral storage limit "1Gi". '
    p = ephemeral_storage.plan(_f(Category.STORAGE_FULL, {"evicted": msg}), _ctx([_deploy([c])]))
    assert _sets(p) == {"limits.ephemeral-storage": "2Gi"}


def test_ephemeral_storage_is_bounded_by_the_policy_and_refuses_node_pressure() -> None:
    vols = [{"name": "cache", "emptyDir": {"sizeLimit": "16Gi"}}]
    msg = 'Usage of EmptyDir volume "cache" exceeds the limit "16Gi". '
    p = ephemeral_storage.plan(_f(Category.STORAGE_FULL, {"evicted": msg}), _ctx([_deploy([APP], vols)]))
    assert isinstance(p, Refusal) and p.rule == "resources.ephemeral_max"
    pressure = "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 9Gi. "
    p = ephemeral_storage.plan(_f(Category.STORAGE_FULL, {"evicted": pressure}), _ctx([_deploy([APP], vols)]))
    assert isinstance(p, Refusal) and p.rule == "ephemeral-storage"
