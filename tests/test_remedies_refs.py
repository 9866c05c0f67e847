"""References to ConfigMaps, Secrets and PriorityClasses: the near-name culprit rule in the detectors and
the config-ref / priority-class remedies' cases the scenarios do not cover, on evidence built in memory."""

from __future__ import annotations

import copy
from typing import Any

from remediator.detectors import invalid_spec, missing_ref
from remediator.evidence.nearest import near_names
from remediator.evidence.store import Event, Evidence
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import REMEDIES, config_ref, priority_class
from remediator.remedies.base import Context, CreateObjects, Proposal, Refusal, RemoveField, SetField

WL = ObjectRef("Deployment", "shop", "web")


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "shop"}, "data": data}


def secret(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "shop", **extra}}


def pod_spec(env: list[dict[str, Any]] | None = None, **more: Any) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": "ghcr.io/acme/web:1.0", "env": env or []}], **more}


def key_ref(kind: str, name: str, key: str, var: str = "DB_HOST") -> dict[str, Any]:
    src = "configMapKeyRef" if kind == "ConfigMap" else "secretKeyRef"
    return {"name": var, "valueFrom": {src: {"name": name, "key": key}}}


def deployment(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "d1"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {}, "spec": spec}},
    }


def pod(spec: dict[str, Any], waiting: str) -> list[dict[str, Any]]:
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
    }
    p = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1-a",
            "namespace": "shop",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}],
        },
        "spec": spec,
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "state": {"waiting": {"reason": "CreateContainerConfigError", "message": waiting}},
                }
            ],
        },
    }
    return [rs, p]


def evidence(*objs: dict[str, Any]) -> Evidence:
    ev = Evidence()
    for o in objs:
        ev.add(copy.deepcopy(o))
    return ev


def ctx(ev: Evidence, desired: list[dict[str, Any]] | None = None, policy: Policy | None = None) -> Context:
    return Context(ev, policy or Policy(), desired or [])


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


# --- the near-name rule --------------------------------------------------------------------------


def test_near_names_edits_and_affixes() -> None:
    assert near_names("app-confg", ["app-config", "other"]) == ["app-config"]
    assert near_names("app-config", ["prod-app-config", "app-config-v2", "config"]) == [
        "app-config-v2",
        "config",
        "prod-app-config",
    ]
    assert near_names("db", ["db-main"]) == []  # too short to be affixed
    assert near_names("app-config", ["app-config-extra-more"]) == []  # one segment only
    assert near_names("billing", ["shipping-rates"]) == []


# --- missing-ref detector: who is the culprit ----------------------------------------------------


def test_name_typo_with_the_keys_blames_the_workload() -> None:
    spec = pod_spec([key_ref("ConfigMap", "app-confg", "DB_HOST")])
    ev = evidence(cm("app-config", DB_HOST="db"), deployment(spec), *pod(spec, 'configmap "app-confg" not found'))
    f = only(missing_ref.detect(ev))
    assert f.category == Category.MISSING_CONFIGMAP
    assert f.culprit == WL
    assert f.details["near"] == "app-config"


def test_near_name_without_the_keys_keeps_the_missing_object() -> None:
    spec = pod_spec([key_ref("ConfigMap", "app-confg", "DB_HOST")])
    ev = evidence(cm("app-config", OTHER="x"), deployment(spec), *pod(spec, 'configmap "app-confg" not found'))
    f = only(missing_ref.detect(ev))
    assert f.culprit == ObjectRef("ConfigMap", "shop", "app-confg")
    assert f.details["near"] is None


def test_two_near_names_keep_the_missing_object() -> None:
    spec = pod_spec(envFrom=[{"configMapRef": {"name": "app-cfg"}}])
    ev = evidence(cm("app-cfg1"), cm("app-cfg2"), deployment(spec), *pod(spec, 'configmap "app-cfg" not found'))
    assert only(missing_ref.detect(ev)).culprit.kind == "ConfigMap"


def test_key_typo_blames_the_workload() -> None:
    spec = pod_spec([key_ref("ConfigMap", "app", "DB_HSOT")])
    ev = evidence(
        cm("app", DB_HOST="db"), deployment(spec), *pod(spec, "couldn't find key DB_HSOT in ConfigMap shop/app")
    )
    f = only(missing_ref.detect(ev))
    assert f.culprit == WL and f.details["near_key"] == "DB_HOST"


# --- config-ref remedy ---------------------------------------------------------------------------


def test_registered_for_both_categories() -> None:
    assert config_ref.REMEDY in REMEDIES["missing-configmap"]
    assert config_ref.REMEDY in REMEDIES["missing-secret"]
    assert priority_class.REMEDY in REMEDIES["invalid-spec"]


def test_rename_sets_every_reference() -> None:
    spec = pod_spec(
        [key_ref("ConfigMap", "app-confg", "DB_HOST")],
        volumes=[{"name": "cfg", "configMap": {"name": "app-confg"}}],
    )
    dep = deployment(spec)
    ev = evidence(cm("app-config", DB_HOST="db"), dep, *pod(spec, 'configmap "app-confg" not found'))
    f = only(missing_ref.detect(ev))
    out = config_ref.plan(f, ctx(ev, [dep]))
    assert isinstance(out, Proposal), out
    paths = sorted(str(c.path[-2:]) for c in out.changes if isinstance(c, SetField))
    assert len(paths) == 2
    assert all(isinstance(c, SetField) and c.value == "app-config" for c in out.changes)


def test_add_key_from_an_env_literal_of_the_app() -> None:
    spec = pod_spec([key_ref("ConfigMap", "app", "DB_HOST")])
    dep = deployment(spec)
    worker = copy.deepcopy(dep)
    worker["metadata"]["name"] = "worker"
    worker["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "DB_HOST", "value": "pg.shop.svc"}]
    ev = evidence(cm("app", LOG="info"), dep, *pod(spec, "couldn't find key DB_HOST in ConfigMap shop/app"))
    f = only(missing_ref.detect(ev))
    assert f.culprit == ObjectRef("ConfigMap", "shop", "app")
    out = config_ref.plan(f, ctx(ev, [cm("app", LOG="info"), dep, worker]))
    assert isinstance(out, Proposal), out
    (ch,) = out.changes
    assert isinstance(ch, SetField) and ch.path == ("data", "DB_HOST") and ch.value == "pg.shop.svc"


def test_add_key_refuses_without_a_value_or_with_two() -> None:
    spec = pod_spec([key_ref("ConfigMap", "app", "DB_HOST")])
    dep = deployment(spec)
    ev = evidence(cm("app"), dep, *pod(spec, "couldn't find key DB_HOST in ConfigMap shop/app"))
    f = only(missing_ref.detect(ev))
    out = config_ref.plan(f, ctx(ev, [cm("app"), dep]))
    assert isinstance(out, Refusal) and out.rule == "config-ref" and "decides" in out.reason
    two = [cm("app"), dep, cm("a", DB_HOST="x"), cm("b", DB_HOST="y")]
    out = config_ref.plan(f, ctx(ev, two))
    assert isinstance(out, Refusal) and "several values" in out.reason
    out = config_ref.plan(f, ctx(ev, [dep]))  # the ConfigMap is not the app's
    assert isinstance(out, Refusal) and "not declared" in out.reason


def test_secret_from_an_external_secret_is_out_of_band() -> None:
    spec = pod_spec([key_ref("Secret", "db", "password")])
    es = {
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ExternalSecret",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"target": {"name": "db"}, "data": [{"secretKey": "user"}]},
    }
    ev = evidence(secret("db"), es, deployment(spec), *pod(spec, "couldn't find key password in Secret shop/db"))
    f = only(missing_ref.detect(ev))
    out = config_ref.plan(f, ctx(ev, [deployment(spec)]))
    assert isinstance(out, Refusal) and out.rule == "out-of-band" and "ExternalSecret" in out.reason


def test_missing_secret_without_a_near_one_is_reported() -> None:
    spec = pod_spec(envFrom=[{"secretRef": {"name": "payments-api"}}])
    ev = evidence(secret("unrelated"), deployment(spec), *pod(spec, 'secret "payments-api" not found'))
    f = only(missing_ref.detect(ev))
    assert f.culprit == ObjectRef("Secret", "shop", "payments-api")
    out = config_ref.plan(f, ctx(ev, [deployment(spec)]))
    assert isinstance(out, Refusal) and out.rule == "config-ref" and "never guessed" in out.reason


def test_near_secret_whose_keys_are_known_and_lack_the_key_is_not_chosen() -> None:
    spec = pod_spec([key_ref("Secret", "db-creds", "password")])
    tls = secret("db-cred", type=None)
    tls["type"] = "kubernetes.io/tls"
    ev = evidence(tls, deployment(spec), *pod(spec, 'secret "db-creds" not found'))
    assert only(missing_ref.detect(ev)).culprit.kind == "Secret"


# --- priority-class ------------------------------------------------------------------------------

PC_MSG = 'Error creating: pods "web-1-" is forbidden: no PriorityClass with name {} was found'


def pclass(name: str, value: int) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value}


def pc_case(name: str, *classes: dict[str, Any], policy: Policy | None = None) -> Proposal | Refusal:
    dep = deployment(pod_spec(priorityClassName=name))
    rs = pod(dep["spec"]["template"]["spec"], "")[0]
    ev = evidence(dep, rs, *classes)
    rs_ref = ObjectRef("ReplicaSet", "shop", "web-1")
    ev.add_event(Event(rs_ref, "FailedCreate", PC_MSG.format(name), "Warning", 3, "2026-01-01T00:00:00Z", "e.yaml"))
    f = only(invalid_spec.detect(ev))
    assert f.culprit == WL and f.details["priority_class"] == name
    return priority_class.plan(f, ctx(ev, [dep], policy))


def test_priority_class_near_name() -> None:
    out = pc_case("high-priorty", pclass("high-priority", 100000), pclass("low", 1))
    assert isinstance(out, Proposal)
    (ch,) = out.changes
    assert isinstance(ch, SetField) and ch.value == "high-priority" and ch.path[-1] == "priorityClassName"


def test_priority_class_never_an_unrelated_or_system_class() -> None:
    out = pc_case("system-cluster-critcal", pclass("system-cluster-critical", 2000000000))
    assert isinstance(out, Refusal) and "reserved" in out.reason  # never created, never borrowed
    out = pc_case("tenant", pclass("platform-critical", 500000))
    assert isinstance(out, Proposal)
    (ch,) = out.changes
    assert isinstance(ch, CreateObjects)
    (obj,) = ch.objects
    assert obj["value"] == 1000 and obj["globalDefault"] is False and obj["metadata"]["name"] == "tenant"


def test_priority_class_policy_drop_and_report() -> None:
    drop = Policy.model_validate({"priority_classes": {"missing": "drop"}})
    out = pc_case("tenant", policy=drop)
    assert isinstance(out, Proposal) and isinstance(out.changes[0], RemoveField)
    report = Policy.model_validate({"priority_classes": {"missing": "report", "value": 5}})
    out = pc_case("tenant", policy=report)
    assert isinstance(out, Refusal) and out.rule == "priority_classes.missing"


def test_priority_class_two_near_names_are_a_persons_call() -> None:
    out = pc_case("batch-mid", pclass("batch-mi", 10), pclass("batch-md", 20))
    assert isinstance(out, Refusal) and "a person picks" in out.reason
