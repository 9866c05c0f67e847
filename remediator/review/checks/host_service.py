"""RM004: a URL in env or a ConfigMap names a host that no Service in the repository defines and the
policy does not place outside the cluster (the seed's ollama-service case)."""

from __future__ import annotations

import re
from typing import Any

from remediator.model import FieldPath
from remediator.review.checks.common import containers, subject
from remediator.review.context import Declared, ReviewContext
from remediator.review.model import Issue, Rule, Severity

URL = re.compile(
    r"\b(?:https?|grpc|redis|amqp|nats|postgres(?:ql)?|mysql|mongodb)://(?:[^@/\s]+@)?(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d+))?"
)
SVC_DNS = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)(?:\.(?P<ns>[a-z0-9][a-z0-9-]*)(?:\.svc(?:\.cluster\.local)?)?)?$")


def _service_host(host: str) -> tuple[str, str | None] | None:
    if re.fullmatch(r"[\d.]+", host) or host in ("localhost",):
        return None
    m = SVC_DNS.match(host)
    if not m:
        return None
    if "." in host and not (host.endswith(".svc") or host.endswith(".svc.cluster.local") or host.count(".") == 1):
        return None
    # name.namespace is a cluster short name; anything with a real TLD is outside
    if host.count(".") == 1 and re.search(r"\.(com|org|net|io|dev|internal|local|ai|cloud)$", host):
        return None
    return m.group("name"), m.group("ns")


def check(ctx: ReviewContext) -> list[Issue]:
    services: dict[str, set[str]] = {}
    for s in ctx.of_kind("Service"):
        services.setdefault(s.ref.name, set()).add(s.ref.namespace)
    known = set(ctx.policy.host_services)
    out = []

    def visit(d: Declared, path: FieldPath, value: str, subj: str) -> None:
        for m in URL.finditer(value):
            hit = _service_host(m.group("host"))
            if hit is None:
                continue
            name, ns = hit
            if name in known or m.group("host") in known:
                continue
            where = services.get(name, set())
            if where and (ns is None or ns in where or "" in where):
                continue
            out.append(
                Issue(
                    RULE.id,
                    RULE.severity,
                    f"{subj} calls {m.group(0)}, but no Service {name}{' in ' + ns if ns else ''} is defined in the repository "
                    "and the policy's host_services does not place it outside the cluster: the name will not resolve",
                    f"add a Service {name} (selector-less with Endpoints, or ExternalName, for a host outside the cluster), "
                    f"or host_services.{name} in the policy",
                    d.file,
                    ctx.line(d, path),
                    f"{subj} host {m.group('host')}",
                )
            )

    for d, path, c, _ in containers(ctx):
        for e in c.get("env") or []:
            if isinstance(e, dict) and isinstance(e.get("value"), str):
                visit(
                    d,
                    (*path, "env", {"name": str(e.get("name"))}, "value"),
                    e["value"],
                    f"{subject(d, c)} env {e.get('name')}",
                )
    for cm in ctx.of_kind("ConfigMap"):
        if not ctx.in_focus(cm):
            continue
        data: Any = cm.obj.get("data") or {}
        for k, v in data.items() if isinstance(data, dict) else []:
            if isinstance(v, str):
                visit(cm, ("data", str(k)), v, f"ConfigMap {cm.ref.name} key {k}")
    return out


RULE = Rule("RM004", "host-without-service", Severity.error, "a URL names a host no Service defines", check)
