"""rbac-forbidden: a binding meant for the denied service account names another namespace -> fix the
subject's namespace; a binding whose role grants the denied call names an account that exists nowhere ->
name the denied account. No binding at all -> a minimal Role/ClusterRole + binding, only if the policy's
``rbac-create`` remedy is on."""

from __future__ import annotations

from typing import Any

from remediator.model import Category, Finding, ObjectRef
from remediator.remedies.base import Check, Context, CreateObjects, Proposal, Refusal, Remedy, SetField

# Resources the API serves at cluster scope: a rule for them needs a ClusterRole.
CLUSTER_RESOURCES = {
    "nodes",
    "namespaces",
    "persistentvolumes",
    "clusterroles",
    "clusterrolebindings",
    "storageclasses",
    "customresourcedefinitions",
    "priorityclasses",
    "ingressclasses",
    "apiservices",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "certificatesigningrequests",
}


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    d = f.details
    sa = d.get("service_account") or {}
    sa_name, sa_ns = str(sa.get("name") or ""), str(sa.get("namespace") or "")
    if "subject_index" in d and f.culprit.kind in ("RoleBinding", "ClusterRoleBinding"):
        if not ctx.policy.enabled("rbac-subject-namespace"):
            return Refusal(f.category.value, "fixing binding subjects is disabled", "remedies.rbac-subject-namespace")
        binding = ctx.obj(f.culprit)
        subjects = (binding or {}).get("subjects") or []
        if d.get("wrong_name"):
            return _rename(f, subjects, sa_name, sa_ns, str(d["wrong_name"]))
        wrong = str(d.get("wrong_namespace") or "")
        idx = next(
            (
                i
                for i, s in enumerate(subjects)
                if isinstance(s, dict)
                and s.get("kind") == "ServiceAccount"
                and s.get("name") == sa_name
                and str(s.get("namespace") or "") == wrong
            ),
            None,
        )
        if idx is None:
            return Refusal(
                f.category.value,
                f"{f.culprit} in Git has no ServiceAccount subject {sa_name} in namespace {wrong!r}; "
                "the cluster and Git disagree, sync first",
                "source-matches-cluster",
            )
        path = ("subjects", {"kind": "ServiceAccount", "name": sa_name, "namespace": wrong}, "namespace")
        return Proposal(
            remedy="rbac-subject-namespace",
            reason=(
                f"{f.culprit} binds ServiceAccount {sa_name} in namespace {wrong!r}, but the pods run as "
                f"system:serviceaccount:{sa_ns}:{sa_name}; the API server matches subjects by namespace, so the "
                f"role is never granted. Pointing subject {idx} at namespace {sa_ns!r} grants it."
            ),
            changes=[SetField(f.culprit, path, sa_ns, current=wrong, role="subject-namespace")],
            risk=(
                f"Grants the bound role to {sa_ns}/{sa_name}; the binding no longer applies to "
                f"{wrong}/{sa_name}, which does not run these pods."
            ),
            checks=[Check(f.culprit, ("subjects", idx, "namespace"), sa_ns)],
        )
    if f.culprit.kind == "ServiceAccount":
        if not ctx.policy.enabled("rbac-create"):
            return Refusal(
                f.category.value,
                f"no binding grants {sa_ns}/{sa_name} anything; creating RBAC is off in the policy",
                "remedies.rbac-create",
            )
        return _create(f, sa_name, sa_ns, d)
    return Refusal(
        f.category.value,
        f"the binding's subject is right; {f.culprit} lacks the rule to {d.get('verb')} {d.get('resource')} "
        "(the rbac-rule remedy adds exactly that verb to a role the app declares)",
        "rbac-subject-namespace",
    )


def _rename(f: Finding, subjects: list[Any], sa_name: str, sa_ns: str, wrong: str) -> Proposal | Refusal:
    """The binding grants the denied call to a ServiceAccount that exists nowhere: name the one the pods use."""
    subject = next(
        (
            (i, s)
            for i, s in enumerate(subjects)
            if isinstance(s, dict) and s.get("kind") == "ServiceAccount" and s.get("name") == wrong
        ),
        None,
    )
    if subject is None:
        return Refusal(
            f.category.value,
            f"{f.culprit} in Git has no ServiceAccount subject {wrong}; the cluster and Git disagree, sync first",
            "source-matches-cluster",
        )
    idx, s = subject
    match = {k: s[k] for k in ("kind", "name", "namespace") if k in s}
    return Proposal(
        remedy="rbac-subject-namespace",
        reason=(
            f"{f.culprit} grants its role to ServiceAccount {wrong!r}, which exists neither in the cluster nor in "
            f"Git, while the pods run as system:serviceaccount:{sa_ns}:{sa_name} and are denied exactly what the "
            f"role allows. Naming {sa_name!r} in subject {idx} grants it."
        ),
        changes=[SetField(f.culprit, ("subjects", match, "name"), sa_name, current=wrong, role="subject-name")],
        risk=f"Grants the bound role to {sa_ns}/{sa_name}; no existing account loses it ({wrong} does not exist).",
        checks=[Check(f.culprit, ("subjects", idx, "name"), sa_name)],
    )


def _create(f: Finding, sa_name: str, sa_ns: str, d: dict[str, Any]) -> Proposal | Refusal:
    verb, resource = str(d.get("verb") or ""), str(d.get("resource") or "")
    if not verb or not resource or "?" in (verb, resource):
        return Refusal(f.category.value, "the denied verb or resource is not in the error message", "rbac-create")
    group = str(d.get("group") or "")
    cluster = resource.split("/")[0] in CLUSTER_RESOURCES or not d.get("scope_namespace")
    name = f"{sa_name}-{verb}-{resource.replace('/', '-')}"
    role_kind = "ClusterRole" if cluster else "Role"
    meta: dict[str, Any] = {"name": name} if cluster else {"name": name, "namespace": sa_ns}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": role_kind,
        "metadata": dict(meta),
        "rules": [{"apiGroups": [group], "resources": [resource], "verbs": [verb]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": f"{role_kind}Binding",
        "metadata": dict(meta),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_ns}],
    }
    ref = ObjectRef(f"{role_kind}Binding", "" if cluster else sa_ns, name)
    return Proposal(
        remedy="rbac-create",
        reason=f"no RoleBinding or ClusterRoleBinding grants {sa_ns}/{sa_name}; the smallest grant that "
        f"allows the denied call is {verb} on {resource}" + (f" in API group {group}" if group else ""),
        changes=[CreateObjects(f"{name}-rbac.yaml", (role, binding), near=None)],
        risk=f"Grants {sa_ns}/{sa_name} {verb} on {resource}" + (" cluster-wide" if cluster else f" in {sa_ns}") + ".",
        checks=[Check(ref, ("subjects", 0, "namespace"), sa_ns)],
    )


REMEDY = Remedy(
    "rbac-subject-namespace",
    (Category.RBAC_FORBIDDEN.value,),
    plan,
    "fix a binding subject's namespace",
    switches=(),  # rbac-subject-namespace and rbac-create are checked by the plan, per edit
)
