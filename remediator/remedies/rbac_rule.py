"""rbac-forbidden: the Role/ClusterRole bound to the denied service account is declared in the app's
source and lacks the rule -> add exactly the denied verb on exactly the denied resource and API group:
appended to the rule with the same apiGroups and resources, else a new rule. Never ``*``, never another
verb or resource. A cluster-scope denial with only Roles bound needs a ClusterRole + ClusterRoleBinding
(the ``rbac-create`` path, off by default). A platform role (not in the app's source), a role that
already grants the call (a wildcard rule included: the denial has another cause) -> refuse."""

from __future__ import annotations

from typing import Any

from remediator.evidence.relations import dig
from remediator.evidence.store import Obj, ref_of
from remediator.model import Category, Finding, ObjectRef
from remediator.remedies import rbac_namespace
from remediator.remedies.base import Check, Context, Proposal, Refusal, Remedy, SetField

RULE = "rbac-rule"


def _list(v: Any) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else []


def grants(rule: Any, verb: str, resource: str, group: str) -> bool:
    """Does one PolicyRule allow ``verb`` on ``resource`` (``pods`` or ``pods/log``) in ``group``, for every
    object name (the API server's RBAC matching: ``*`` and ``*/subresource`` included)?"""
    if not isinstance(rule, dict) or rule.get("resourceNames"):
        return False
    sub = resource.split("/", 1)[1] if "/" in resource else ""
    resources = _list(rule.get("resources"))
    return (
        any(g in (group, "*") for g in _list(rule.get("apiGroups")))
        and any(r in (resource, "*") or (sub and r == f"*/{sub}") for r in resources)
        and any(v in (verb, "*") for v in _list(rule.get("verbs")))
    )


def _same_target(rule: Any, resource: str, group: str) -> bool:
    """A rule about exactly this resource in exactly this group (adding a verb widens nothing else)."""
    return (
        isinstance(rule, dict)
        and _list(rule.get("apiGroups")) == [group]
        and _list(rule.get("resources")) == [resource]
        and not rule.get("resourceNames")
        and not rule.get("nonResourceURLs")
        and isinstance(rule.get("verbs"), list)
        and "*" not in _list(rule.get("verbs"))
    )


def _bindings(ctx: Context, sa: ObjectRef) -> list[Obj]:
    """RoleBindings/ClusterRoleBindings (Git first, then the cluster) with ``sa`` as a subject."""
    out: list[Obj] = []
    seen: set[tuple[str, str, str]] = set()
    for b in [*ctx.desired, *ctx.ev.all("RoleBinding"), *ctx.ev.all("ClusterRoleBinding")]:
        kind = str(b.get("kind"))
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        ns = ref_of(b).namespace or (sa.namespace if kind == "RoleBinding" else "")
        key = (kind, ns, ref_of(b).name)
        if key in seen:
            continue
        for s in b.get("subjects") or []:
            if (
                isinstance(s, dict)
                and s.get("kind") == "ServiceAccount"
                and s.get("name") == sa.name
                and str(s.get("namespace") or ns) == sa.namespace
            ):
                out.append(b)
                seen.add(key)
                break
    return out


def _role_of(b: Obj, sa: ObjectRef) -> ObjectRef:
    role = b.get("roleRef") or {}
    kind = str(role.get("kind") or "ClusterRole")
    ns = "" if kind == "ClusterRole" else (ref_of(b).namespace or sa.namespace)
    return ObjectRef(kind, ns, str(role.get("name") or ""))


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    if f.culprit.kind not in ("Role", "ClusterRole"):
        # a binding's subject or no binding at all: the subject-namespace / rbac-create remedy's reason stands
        return rbac_namespace.plan(f, ctx)
    sa_d = d.get("service_account") or {}
    sa = ObjectRef("ServiceAccount", str(sa_d.get("namespace") or ""), str(sa_d.get("name") or ""))
    verb, resource, group = str(d.get("verb") or ""), str(d.get("resource") or ""), str(d.get("group") or "")
    if not verb or not resource or "?" in (verb, resource) or not sa.name or "*" in (verb, resource):
        return Refusal(cat, "the denied verb, resource or account is not in the error message", RULE)
    cluster_scope = bool(d.get("cluster_scope"))
    scope_ns = str(d.get("scope_namespace") or "")
    what = f"{verb} on {resource}" + (f" in API group {group}" if group else "")
    # the bindings that can grant the call: a RoleBinding only in the denied namespace (never at cluster scope)
    effective = [
        b
        for b in _bindings(ctx, sa)
        if b.get("kind") == "ClusterRoleBinding"
        or (not cluster_scope and (not scope_ns or (ref_of(b).namespace or sa.namespace) == scope_ns))
    ]
    if not effective:
        if cluster_scope:
            if not ctx.policy.enabled("rbac-create"):
                return Refusal(
                    cat,
                    f"{sa.namespace}/{sa.name} is denied {what} at the cluster scope and only Roles are bound to it; "
                    f'that needs a ClusterRole with {{apiGroups: ["{group}"], resources: [{resource}], verbs: [{verb}]}} '
                    f"and a ClusterRoleBinding to system:serviceaccount:{sa.namespace}:{sa.name}; creating RBAC "
                    "is off in the policy",
                    "remedies.rbac-create",
                )
            return rbac_namespace._create(f, sa.name, sa.namespace, {**d, "scope_namespace": ""})
        return Refusal(
            cat,
            f"no binding of {sa.namespace}/{sa.name} applies in namespace {scope_ns}; granting {what} there needs "
            f"a Role and a RoleBinding in {scope_ns}, which the bot does not create",
            RULE,
        )
    roles = [_role_of(b, sa) for b in effective]
    for ref in roles:
        obj = ctx.desired_obj(ref) or ctx.ev.get_ref(ref)
        hit = next((r for r in (obj or {}).get("rules") or [] if grants(r, verb, resource, group)), None)
        if hit is not None:
            return Refusal(
                cat,
                f"{ref} already grants {what} (rule {hit}); the denial has another cause (another account, "
                "a binding not yet synced, an admission or aggregation controller)",
                "rbac-already-granted",
            )
    owned = [r for r in roles if ctx.desired_obj(r) is not None]
    if not owned:
        return Refusal(
            cat,
            f"{', '.join(map(str, roles))} bound to {sa.namespace}/{sa.name} is not declared in the app's source "
            "(a platform role); ask its owners for " + what,
            "not-in-source",
        )
    ref = f.culprit if f.culprit in owned else owned[0]
    role = ctx.desired_obj(ref)
    assert role is not None
    if role.get("aggregationRule"):
        return Refusal(cat, f"{ref} is an aggregated ClusterRole; its rules are filled by the controller", RULE)
    binding = next(b for b, r in zip(effective, roles, strict=True) if r == ref)
    scope = (
        f"in namespace {ref_of(binding).namespace or sa.namespace}"
        if binding.get("kind") == "RoleBinding"
        else "in every namespace (ClusterRoleBinding)"
    )
    grant = f"grants {what} {scope} to ServiceAccount {sa.namespace}/{sa.name}"
    rules = role.get("rules")
    rules = rules if isinstance(rules, list) else []
    idx = next((i for i, r in enumerate(rules) if _same_target(r, resource, group)), None)
    if idx is not None:
        verbs = _list(rules[idx].get("verbs"))
        path: tuple[Any, ...] = ("rules", idx, "verbs", len(verbs))
        change = SetField(ref, path, verb, role="rbac-verb")
        how = f"appends {verb} to the verbs [{', '.join(verbs)}] of its rule for {resource}"
        checks = [Check(ref, path, verb)]
    else:
        new_rule = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
        if rules:
            change = SetField(ref, ("rules", len(rules)), new_rule, role="rbac-rule")
        else:
            change = SetField(ref, ("rules",), [new_rule], role="rbac-rule")
        how = f'adds the rule {{apiGroups: ["{group}"], resources: [{resource}], verbs: [{verb}]}}'
        checks = [
            Check(ref, ("rules", len(rules), "verbs", 0), verb),
            Check(ref, ("rules", len(rules), "resources", 0), resource),
            Check(ref, ("rules", len(rules), "apiGroups", 0), group),
        ]
    others = [
        f"{s.get('kind')} {s.get('namespace') or ''}/{s.get('name')}".replace(" /", " ")
        for b in ctx.desired
        if b.get("kind") in ("RoleBinding", "ClusterRoleBinding") and _role_of(b, sa) == ref
        for s in b.get("subjects") or []
        if isinstance(s, dict) and not (s.get("kind") == "ServiceAccount" and s.get("name") == sa.name)
    ]
    api = dig(role, "apiVersion") or "rbac.authorization.k8s.io/v1"
    return Proposal(
        remedy=RULE,
        reason=(
            f"the API server denies {what} to system:serviceaccount:{sa.namespace}:{sa.name} "
            f"({'at the cluster scope' if cluster_scope else f'in namespace {scope_ns}'}); {ref} ({api}), bound to "
            f"it by {ref_of(binding).kind} {ref_of(binding).name} and declared in the app's source, has no rule for "
            f"it. The edit {how}: it {grant}, and nothing else."
        ),
        changes=[change],
        risk=f"This {grant}"
        + (f"; {ref} is also bound to {', '.join(sorted(set(others)))}, who gain it too" if others else "")
        + ".",
        checks=checks,
    )


REMEDY = Remedy(
    RULE,
    (Category.RBAC_FORBIDDEN.value,),
    plan,
    "add exactly the denied verb to a Role/ClusterRole the app declares",
)  # rbac-create, for a cluster-scope grant, is checked by the plan
