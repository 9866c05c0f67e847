"""RM001: a binding's ServiceAccount subject names a namespace where that account is not defined."""

from __future__ import annotations

from remediator.review.checks.common import subject
from remediator.review.context import ReviewContext
from remediator.review.model import Issue, Rule, Severity


def check(ctx: ReviewContext) -> list[Issue]:
    accounts: dict[str, set[str]] = {}
    for sa in ctx.of_kind("ServiceAccount"):
        accounts.setdefault(sa.ref.name, set()).add(sa.ref.namespace)
    out = []
    for b in ctx.of_kind("RoleBinding", "ClusterRoleBinding"):
        if not ctx.in_focus(b):
            continue
        for i, s in enumerate(b.obj.get("subjects") or []):
            if not isinstance(s, dict) or s.get("kind") != "ServiceAccount":
                continue
            name = str(s.get("name") or "")
            ns = str(s.get("namespace") or (b.ref.namespace if b.ref.kind == "RoleBinding" else ""))
            where = accounts.get(name, set())
            if not where or "" in where or ns in where:
                continue  # not defined here (created elsewhere), or defined where the binding says
            real = ", ".join(sorted(where))
            out.append(
                Issue(
                    RULE.id,
                    RULE.severity,
                    f"{subject(b)} binds ServiceAccount {name} in namespace {ns or '(none)'!r}, but the repository "
                    f"defines {name} in {real}: pods running as {real}/{name} are never granted the role "
                    f"(the API server matches subjects by namespace) and get 403 Forbidden.",
                    f"set subjects[{i}].namespace to {sorted(where)[0]}",
                    b.file,
                    ctx.line(b, ("subjects", i, "namespace")),
                    f"{subject(b)} subject {i}",
                )
            )
    return out


RULE = Rule(
    "RM001", "binding-subject-namespace", Severity.error, "binding names a ServiceAccount in the wrong namespace", check
)
