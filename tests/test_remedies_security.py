"""security-context and rollout-recreate: parsing the admission / kubelet / attach-detach messages, what the
remedies set and what they refuse, and removing a field with a minimal diff."""

from __future__ import annotations

from typing import Any

import pytest

from remediator.detectors import volume_attach
from remediator.detectors.security_context import parse_non_root, parse_pod_security
from remediator.edits.yamlfile import EditError, YamlFile
from remediator.evidence.store import Event, Evidence
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import rollout_recreate, security_context
from remediator.remedies.base import Context, Proposal, Refusal, RemoveField, SetField

RESTRICTED = (
    'Error creating: pods "web-7d9c5-abcde" is forbidden: violates PodSecurity "restricted:latest": '
    'allowPrivilegeEscalation != false (containers "init", "web" must set securityContext.allowPrivilegeEscalation=false), '
    'unrestricted capabilities (containers "init", "web" must set securityContext.capabilities.drop=["ALL"]), '
    'runAsNonRoot != true (pod or containers "init", "web" must set securityContext.runAsNonRoot=true), '
    'seccompProfile (pod or containers "init", "web" must set securityContext.seccompProfile.type to '
    '"RuntimeDefault" or "Localhost") (x4)'
)
BASELINE = (
    'pods "agent-x" is forbidden: violates PodSecurity "baseline:v1.30": host namespaces (hostNetwork=true, '
    'hostPID=true), privileged (container "agent" must not set securityContext.privileged=true), hostPath volumes '
    '(volumes "proc", "sys")'
)
WL = ObjectRef("Deployment", "ns", "web")


def deployment(spec_extra: dict[str, Any] | None = None, **pod: Any) -> dict[str, Any]:
    pod_spec = {"containers": [{"name": "web", "image": "r/web:1"}], **pod}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": 1, **(spec_extra or {}), "template": {"spec": pod_spec}},
    }


def ctx(*objs: dict[str, Any], cluster: tuple[dict[str, Any], ...] = ()) -> Context:
    ev = Evidence()
    for o in cluster:
        ev.add(o)
    return Context(ev, Policy(), list(objs))


def sc_finding(message: str) -> Finding:
    details: dict[str, Any] = {"message": message[:300]}
    if (psa := parse_pod_security(message)) is not None:
        details["pod_security"] = psa
    if (nr := parse_non_root(message)) is not None:
        details["non_root"] = nr
    return Finding(Category.SECURITY_CONTEXT, WL, "x", 0.9, (), (), "security_context", frozenset(), details)


def sets(p: Proposal | Refusal) -> dict[str, Any]:
    assert isinstance(p, Proposal), p
    return {".".join(str(x) for x in c.path): c.value for c in p.changes if isinstance(c, SetField)}


# --- parsing --------------------------------------------------------------------------------------


def test_restricted_message_parses_into_fields_values_and_containers() -> None:
    psa = parse_pod_security(RESTRICTED)
    assert psa is not None and psa["level"] == "restricted:latest"
    reqs = {r["field"]: r for v in psa["violations"] for r in v["requirements"]}
    assert reqs["allowPrivilegeEscalation"]["value"] is False
    assert reqs["allowPrivilegeEscalation"]["names"] == ["init", "web"]
    assert reqs["capabilities.drop"]["value"] == ["ALL"]
    assert reqs["runAsNonRoot"]["scope"] == "pod or container"
    assert reqs["seccompProfile.type"]["value"] == ["RuntimeDefault", "Localhost"]  # the repeat count is not a value


def test_baseline_message_has_no_field_to_set() -> None:
    psa = parse_pod_security(BASELINE)
    assert psa is not None
    assert [v["reason"] for v in psa["violations"]] == ["host namespaces", "privileged", "hostPath volumes"]
    assert not any("field" in r for v in psa["violations"] for r in v["requirements"])


def test_kubelet_messages_name_the_container_and_the_problem() -> None:
    pod = '(pod: "web-1_ns(1f2e)", container: web)'
    assert parse_non_root(f"container has runAsNonRoot and image will run as root {pod}") == {
        "container": "web",
        "problem": "root",
        "user": "",
    }
    nr = parse_non_root(
        f"container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root {pod}"
    )
    assert nr == {"container": "web", "problem": "non-numeric", "user": "app"}
    assert (parse_non_root(f"container's runAsUser breaks non-root policy {pod}") or {})["problem"] == "run-as-user-0"
    assert parse_non_root("Back-off restarting failed container") is None


# --- security-context -----------------------------------------------------------------------------


def test_all_containers_named_pod_level_where_allowed_container_level_otherwise() -> None:
    obj = deployment(initContainers=[{"name": "init", "image": "r/web:1"}])
    got = sets(security_context.plan(sc_finding(RESTRICTED), ctx(obj)))
    assert got["spec.template.spec.securityContext.runAsNonRoot"] is True
    assert got["spec.template.spec.securityContext.seccompProfile.type"] == "RuntimeDefault"
    assert got["spec.template.spec.initContainers.{'name': 'init'}.securityContext.allowPrivilegeEscalation"] is False
    assert got["spec.template.spec.containers.{'name': 'web'}.securityContext.capabilities.drop"] == ["ALL"]
    assert len(got) == 6


def test_some_containers_named_per_container() -> None:
    msg = RESTRICTED.replace('containers "init", "web"', 'container "web"')
    obj = deployment(initContainers=[{"name": "init", "image": "r/web:1", "securityContext": {"runAsNonRoot": True}}])
    got = sets(security_context.plan(sc_finding(msg), ctx(obj)))
    assert "spec.template.spec.securityContext.runAsNonRoot" not in got
    assert got["spec.template.spec.containers.{'name': 'web'}.securityContext.runAsNonRoot"] is True
    assert not any("init" in k for k in got)


def test_an_existing_drop_list_gets_all_first() -> None:
    msg = 'violates PodSecurity "restricted:latest": unrestricted capabilities (container "web" must set securityContext.capabilities.drop=["ALL"])'
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"capabilities": {"drop": ["NET_RAW"]}}
    got = sets(security_context.plan(sc_finding(msg), ctx(obj)))
    assert got == {"spec.template.spec.containers.{'name': 'web'}.securityContext.capabilities.drop.0": "ALL"}


@pytest.mark.parametrize(
    "message",
    [
        BASELINE,
        RESTRICTED.replace("(x4)", "")
        + ', unrestricted capabilities (container "web" must not include "NET_ADMIN" in securityContext.capabilities.add)',
        'violates PodSecurity "restricted:latest": runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)',
    ],
)
def test_violations_without_a_safe_value_refuse_the_whole_fix(message: str) -> None:
    obj = deployment(initContainers=[{"name": "init", "image": "r/web:1"}])
    out = security_context.plan(sc_finding(message), ctx(obj))
    assert isinstance(out, Refusal) and out.rule == "security-context"
    assert "person must decide" in out.reason and "pod-security labels" in out.reason


def test_a_value_the_author_chose_is_not_overwritten() -> None:
    msg = 'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "web" must set securityContext.allowPrivilegeEscalation=false)'
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": True}
    out = security_context.plan(sc_finding(msg), ctx(obj))
    assert isinstance(out, Refusal) and "explicitly" in out.reason


def test_a_container_the_message_names_must_exist_in_git() -> None:
    msg = 'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "sidecar" must set securityContext.allowPrivilegeEscalation=false)'
    out = security_context.plan(sc_finding(msg), ctx(deployment()))
    assert isinstance(out, Refusal) and "sidecar" in out.reason


def test_non_root_sets_user_and_group_from_the_policy_at_the_container() -> None:
    msg = 'container has runAsNonRoot and image will run as root (pod: "web-1_ns(1f2e)", container: web)'
    got = sets(security_context.plan(sc_finding(msg), ctx(deployment(securityContext={"runAsNonRoot": True}))))
    base = "spec.template.spec.containers.{'name': 'web'}.securityContext"
    assert got == {f"{base}.runAsUser": 65532, f"{base}.runAsGroup": 65532}
    # a group the author chose stays
    got = sets(
        security_context.plan(
            sc_finding(msg), ctx(deployment(securityContext={"runAsNonRoot": True, "runAsGroup": 1000}))
        )
    )
    assert got == {f"{base}.runAsUser": 65532}


def test_non_root_refuses_an_explicit_root_user_and_a_missing_container() -> None:
    zero = sc_finding('container\'s runAsUser breaks non-root policy (pod: "web-1_ns(1f2e)", container: web)')
    out = security_context.plan(zero, ctx(deployment(securityContext={"runAsNonRoot": True, "runAsUser": 0})))
    assert isinstance(out, Refusal) and "runAsUser: 0" in out.reason
    other = sc_finding('container has runAsNonRoot and image will run as root (pod: "web-1_ns(1f2e)", container: db)')
    assert isinstance(security_context.plan(other, ctx(deployment(securityContext={"runAsNonRoot": True}))), Refusal)


def test_a_policy_that_names_no_field_is_refused() -> None:
    f = sc_finding("unable to validate against any security context constraint: [provider restricted-v2: ...]")
    out = security_context.plan(f, ctx(deployment()))
    assert isinstance(out, Refusal) and "does not say which field" in out.reason


# --- rollout-recreate -----------------------------------------------------------------------------

CLAIM = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "data", "namespace": "ns"},
    "spec": {"accessModes": ["ReadWriteOnce"]},
}


def va_finding(**details: Any) -> Finding:
    d = {
        "volume": "pvc-1",
        "multi_attach": True,
        "workload": WL.as_dict(),
        "claim": "data",
        "used_by": ["web-5b9c7d8e6f-old11"],
        "holders": [str(WL)],
        "same_workload": True,
        **details,
    }
    return Finding(Category.VOLUME_ATTACH, WL, "x", 0.9, (), (), "volume_attach", frozenset(), d)


def test_rolling_update_on_rwo_becomes_recreate_and_loses_rolling_update() -> None:
    obj = deployment({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}})
    out = rollout_recreate.plan(va_finding(), ctx(obj, cluster=(CLAIM,)))
    assert sets(out) == {"spec.strategy.type": "Recreate"}
    assert isinstance(out, Proposal)
    assert [c.path for c in out.changes if isinstance(c, RemoveField)] == [("spec", "strategy", "rollingUpdate")]
    # no strategy in Git (the default RollingUpdate): only the type is set
    out = rollout_recreate.plan(va_finding(), ctx(deployment(), cluster=(CLAIM,)))
    assert sets(out) == {"spec.strategy.type": "Recreate"} and isinstance(out, Proposal) and len(out.changes) == 1


@pytest.mark.parametrize(
    ("details", "obj", "claim", "why"),
    [
        ({"same_workload": False, "holders": ["Deployment ns/other"]}, deployment(), CLAIM, "two workloads"),
        ({"used_by": []}, deployment(), CLAIM, "no pod in the namespace"),
        ({"multi_attach": False}, deployment(), CLAIM, "not a Multi-Attach"),
        (
            {"workload": {"kind": "StatefulSet", "namespace": "ns", "name": "web"}},
            deployment(),
            CLAIM,
            "not a Deployment",
        ),
        ({}, deployment(), {**CLAIM, "spec": {"accessModes": ["ReadWriteMany"]}}, "not ReadWriteOnce"),
        ({}, {**deployment(), "spec": {**deployment()["spec"], "replicas": 3}}, CLAIM, "3 replicas"),
        ({}, deployment({"strategy": {"type": "Recreate"}}), CLAIM, "already uses the Recreate"),
    ],
)
def test_rollout_recreate_refuses_what_recreate_does_not_fix(
    details: dict[str, Any], obj: dict[str, Any], claim: dict[str, Any], why: str
) -> None:
    out = rollout_recreate.plan(va_finding(**details), ctx(obj, cluster=(claim,)))
    assert isinstance(out, Refusal) and out.rule == "rollout-recreate"
    assert why in out.reason


def _pod(name: str, rs: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"pod-template-hash": rs.rsplit("-", 1)[1]},
            "ownerReferences": [{"kind": "ReplicaSet", "name": rs, "controller": True}],
        },
        "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "web", "ready": False}]},
    }


@pytest.mark.parametrize(
    ("holder", "culprit"), [("web-5b9c7d8e6f-old11", "Deployment"), ("other-6f7d8c9b5-a1b2c", "PersistentVolumeClaim")]
)
def test_the_culprit_is_the_deployment_only_when_its_own_old_pod_holds_the_volume(holder: str, culprit: str) -> None:
    ev = Evidence()
    ev.add(_pod("web-6d4cf56db6-new22", "web-6d4cf56db6"))
    ev.add({**_pod(holder, holder.rsplit("-", 1)[0]), "status": {"phase": "Running"}})
    ev.add(CLAIM)
    ev.add_event(
        Event(
            ObjectRef("Pod", "ns", "web-6d4cf56db6-new22"),
            "FailedAttachVolume",
            f'Multi-Attach error for volume "pvc-1" Volume is already used by pod(s) {holder}',
            "Warning",
            3,
            "2026-01-01T00:00:00Z",
            "attachdetach-controller",
        )
    )
    (f,) = volume_attach.detect(ev)
    assert f.culprit.kind == culprit
    assert f.details["used_by"] == [holder] and f.details["claim"] == "data"


# --- removing a field -----------------------------------------------------------------------------


def test_remove_drops_the_key_and_its_block_and_nothing_else() -> None:
    text = "spec:\n  strategy:\n    type: RollingUpdate\n    rollingUpdate:  # tuned\n      maxSurge: 1\n\n    # keep me\n  replicas: 1\n"
    yf = YamlFile.parse(text, "d.yaml")
    yf.remove(0, ("spec", "strategy", "rollingUpdate"))
    assert yf.render() == "spec:\n  strategy:\n    type: RollingUpdate\n\n    # keep me\n  replicas: 1\n"
    yf.remove(0, ("spec", "strategy", "absent"))  # nothing to remove: no change
    assert "replicas: 1" in yf.render()


def test_remove_refuses_the_first_key_of_a_list_item() -> None:
    yf = YamlFile.parse("items:\n  - name: a\n    x: 1\n", "l.yaml")
    with pytest.raises(EditError):
        yf.remove(0, ("items", 0, "name"))


def test_set_writes_a_list_value_as_a_block_sequence() -> None:
    yf = YamlFile.parse("c:\n  securityContext:\n    runAsNonRoot: true\n", "c.yaml")
    yf.set(0, ("c", "securityContext", "capabilities", "drop"), ["ALL"])
    assert (
        yf.render() == "c:\n  securityContext:\n    runAsNonRoot: true\n    capabilities:\n      drop:\n      - ALL\n"
    )
