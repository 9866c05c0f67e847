"""rbac-rule: exactly the denied verb, on exactly the denied resource and group, added to the role the app
declares; what it refuses; the detector's choice of the role; appending to lists with a minimal diff."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from remediator.detectors import rbac as rbac_detector
from remediator.diagnose import diagnose
from remediator.edits.plan import plan_fix
from remediator.edits.yamlfile import YamlFile
from remediator.eval import load_scenario
from remediator.evidence.store import Evidence
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import REMEDIES, rbac_rule
from remediator.remedies.base import Context, CreateObjects, Proposal, Refusal, SetField

SCENARIOS = Path(__file__).parent / "scenarios"
SA = {"kind": "ServiceAccount", "namespace": "shop", "name": "ctl"}
ROLE = ObjectRef("Role", "shop", "ctl")


def role(*rules: dict[str, Any], kind: str = "Role", name: str = "ctl") -> dict[str, Any]:
    meta = {"name": name} if kind == "ClusterRole" else {"name": name, "namespace": "shop"}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": list(rules)}


def binding(kind: str = "RoleBinding", role_kind: str = "Role", name: str = "ctl", ns: str = "shop") -> dict[str, Any]:
    meta = {"name": name} if kind == "ClusterRoleBinding" else {"name": name, "namespace": ns}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "ctl", "namespace": "shop"}],
    }


def rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def finding(
    verb: str = "patch",
    resource: str = "deployments",
    group: str = "apps",
    culprit: ObjectRef = ROLE,
    cluster_scope: bool = False,
) -> Finding:
    details: dict[str, Any] = {
        "service_account": SA,
        "verb": verb,
        "resource": resource,
        "group": group,
        "scope_namespace": "" if cluster_scope else "shop",
        "cluster_scope": cluster_scope,
    }
    return Finding(Category.RBAC_FORBIDDEN, culprit, "x", 0.85, (), (), "rbac", frozenset(), details)


def ctx(*desired: dict[str, Any], cluster: tuple[dict[str, Any], ...] = (), policy: Policy | None = None) -> Context:
    ev = Evidence()
    for o in cluster:
        ev.add(o)
    return Context(ev, policy or Policy(), list(desired))


def change(p: Proposal | Refusal) -> SetField:
    assert isinstance(p, Proposal), p
    [c] = p.changes
    assert isinstance(c, SetField)
    return c


# --- what is granted -------------------------------------------------------------------------------


def test_the_verb_is_appended_to_the_rule_with_the_same_group_and_resource() -> None:
    c = ctx(role(rule([""], ["pods"], ["get"]), rule(["apps"], ["deployments"], ["get", "list"])), binding())
    p = rbac_rule.plan(finding(), c)
    ch = change(p)
    assert (ch.target, ch.path, ch.value) == (ROLE, ("rules", 1, "verbs", 2), "patch")
    assert isinstance(p, Proposal) and "grants patch on deployments in API group apps in namespace shop" in p.reason
    assert p.checks[0].path == ("rules", 1, "verbs", 2) and p.checks[0].value == "patch"


def test_a_new_rule_names_exactly_the_denied_subresource() -> None:
    # the rule for pods is not widened to pods/log, and a rule naming several resources is not reused
    c = ctx(role(rule([""], ["pods", "services"], ["get", "list"])), binding())
    ch = change(rbac_rule.plan(finding("get", "pods/log", ""), c))
    assert ch.path == ("rules", 1)
    assert ch.value == {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}


def test_a_role_without_rules_gets_its_first_rule() -> None:
    r = role()
    del r["rules"]
    ch = change(rbac_rule.plan(finding("list", "configmaps", ""), ctx(r, binding())))
    assert ch.path == ("rules",) and ch.value == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]


def test_a_rule_restricted_to_resource_names_is_not_reused() -> None:
    limited = {**rule(["apps"], ["deployments"], ["get"]), "resourceNames": ["web"]}
    ch = change(rbac_rule.plan(finding(), ctx(role(limited), binding())))
    assert ch.path == ("rules", 1) and "resourceNames" not in ch.value


def test_a_clusterrole_bound_by_a_clusterrolebinding_says_it_grants_everywhere() -> None:
    cr = ObjectRef("ClusterRole", "", "ctl")
    c = ctx(
        role(rule(["apps"], ["deployments"], ["get"]), kind="ClusterRole"), binding("ClusterRoleBinding", "ClusterRole")
    )
    p = rbac_rule.plan(finding(culprit=cr, cluster_scope=True), c)
    assert change(p).target == cr
    assert isinstance(p, Proposal) and "in every namespace" in p.reason


# --- what it refuses -------------------------------------------------------------------------------


def test_a_wildcard_rule_that_already_grants_means_another_cause() -> None:
    cases = [
        (rule(["*"], ["*"], ["*"]), finding()),
        (rule(["apps"], ["deployments"], ["*"]), finding()),
        (rule([""], ["*/log"], ["get"]), finding("get", "pods/log", "")),
    ]
    for r, f in cases:
        res = rbac_rule.plan(f, ctx(role(r), binding()))
        assert isinstance(res, Refusal) and res.rule == "rbac-already-granted", res


def test_a_platform_role_is_not_edited() -> None:
    c = ctx(binding(), cluster=(role(rule(["apps"], ["deployments"], ["get"])), binding()))
    res = rbac_rule.plan(finding(), c)
    assert isinstance(res, Refusal) and res.rule == "not-in-source"


def test_a_cluster_scope_denial_with_only_a_role_needs_rbac_create() -> None:
    c = ctx(role(rule([""], ["pods"], ["get"])), binding())
    res = rbac_rule.plan(finding("list", "nodes", "", cluster_scope=True), c)
    assert isinstance(res, Refusal) and res.rule == "remedies.rbac-create"
    assert "ClusterRole" in res.reason and "ClusterRoleBinding" in res.reason and "nodes" in res.reason
    on = Policy.model_validate({"remedies": {"rbac-create": True}})
    c = ctx(role(rule([""], ["pods"], ["get"])), binding(), policy=on)
    p = rbac_rule.plan(finding("list", "nodes", "", cluster_scope=True), c)
    assert isinstance(p, Proposal) and p.remedy == "rbac-create"
    [created] = p.changes
    assert isinstance(created, CreateObjects)
    kinds = [o["kind"] for o in created.objects]
    assert kinds == ["ClusterRole", "ClusterRoleBinding"]
    assert created.objects[0]["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]


def test_a_rolebinding_in_another_namespace_grants_nothing_here() -> None:
    c = ctx(role(rule([""], ["pods"], ["get"])), binding(ns="other"))
    res = rbac_rule.plan(finding(), c)
    assert isinstance(res, Refusal) and res.rule == "rbac-rule"


def test_never_a_wildcard_verb_or_resource() -> None:
    c = ctx(role(rule(["apps"], ["deployments"], ["get"])), binding())
    for f in (finding(verb="*"), finding(resource="*"), finding(verb="?")):
        res = rbac_rule.plan(f, c)
        assert isinstance(res, Refusal) and res.rule == "rbac-rule"


def test_the_subject_namespace_remedy_keeps_precedence() -> None:
    assert [r.name for r in REMEDIES[Category.RBAC_FORBIDDEN.value]] == ["rbac-subject-namespace", "rbac-rule"]
    # no binding at all: the rbac-create refusal stands (not a second, different reason)
    res = rbac_rule.plan(finding(culprit=ObjectRef("ServiceAccount", "shop", "ctl")), ctx())
    assert isinstance(res, Refusal) and res.rule == "remedies.rbac-create"


# --- the detector ----------------------------------------------------------------------------------


def test_the_detector_names_the_declared_role_bound_in_the_denied_namespace() -> None:
    ev, _ = load_scenario(SCENARIOS / "rbac-rule-plain")
    # a platform ClusterRole bound in another namespace, listed first, is not the culprit
    ev.add(
        binding("RoleBinding", "ClusterRole", name="aaa-platform-view", ns="kube-system")
        | {"subjects": [{"kind": "ServiceAccount", "name": "log-collector", "namespace": "observability"}]}
    )
    ev.desired = [role(kind="Role", name="log-collector") | {"metadata": {"name": "log-collector"}}]
    [f] = rbac_detector.detect(ev)
    assert f.culprit == ObjectRef("Role", "observability", "log-collector")
    assert f.details["resource"] == "pods/log" and f.details["group"] == "" and f.details["cluster_scope"] is False
    assert f.details["scope_namespace"] == "observability"


# --- list edits ------------------------------------------------------------------------------------


def test_appending_to_a_flow_list_keeps_its_quotes() -> None:
    text = 'rules:\n  - apiGroups: ["apps"]\n    verbs: ["get", "list"]  # read only\n'
    yf = YamlFile.parse(text, "r.yaml")
    yf.set(0, ("rules", 0, "verbs", 2), "patch")
    assert yf.render() == 'rules:\n  - apiGroups: ["apps"]\n    verbs: ["get", "list", "patch"]  # read only\n'


def test_an_index_one_past_the_end_appends_a_rule_in_block_style() -> None:
    text = "kind: Role\nrules:\n- apiGroups: ['']\n  resources: [pods]\n  verbs: [get]\n"
    yf = YamlFile.parse(text, "r.yaml")
    yf.set(0, ("rules", 1), {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]})
    assert yf.render() == text + '- apiGroups: [""]\n  resources: ["pods/log"]\n  verbs: ["get"]\n'


def test_a_role_in_a_shared_base_gets_a_json6902_add_in_the_apps_overlay(tmp_path: Path) -> None:
    sc = tmp_path / "sc"
    shutil.copytree(SCENARIOS / "rbac-rule-kustomize", sc)
    app = sc / "repo/apps/canary-controller"
    shutil.move(app, sc / "repo/platform-canary")
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text("resources:\n- ../../platform-canary\n")
    ev, truth = load_scenario(sc)
    res = plan_fix(diagnose(ev, truth.get("app")), ev, sc / "repo", Policy())
    assert not res.refused, res.refused
    files = {e.file: e for e in res.edits}
    patch = yaml.safe_load(files["apps/canary-controller/role-canary-controller-remediator-patch.yaml"].new_text)
    assert patch == [{"op": "add", "path": "/rules/0/verbs/-", "value": "patch"}]
    kust = yaml.safe_load(files["apps/canary-controller/kustomization.yaml"].new_text)
    assert kust["patches"][0]["target"] == {"kind": "Role", "name": "canary-controller"}
    assert "platform-canary/rbac.yaml" not in files
