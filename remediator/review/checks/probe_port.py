"""RM006: a liveness/readiness/startup probe targets a port the container does not expose."""

from __future__ import annotations

from remediator.evidence.relations import dig
from remediator.review.checks.common import containers, subject
from remediator.review.context import ReviewContext
from remediator.review.model import Issue, Rule, Severity


def check(ctx: ReviewContext) -> list[Issue]:
    out = []
    for d, path, c, _ in containers(ctx):
        ports = [p for p in c.get("ports") or [] if isinstance(p, dict)]
        if not ports:
            continue  # undeclared ports still work; nothing to compare with
        numbers = {p.get("containerPort") for p in ports}
        names = {p.get("name") for p in ports if p.get("name")}
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(kind)
            if not isinstance(probe, dict):
                continue
            for handler in ("httpGet", "tcpSocket", "grpc"):
                port = dig(probe, handler, "port")
                if port is None:
                    continue
                bad = (isinstance(port, int) and port not in numbers) or (
                    isinstance(port, str) and not port.isdigit() and port not in names
                )
                if isinstance(port, str) and port.isdigit():
                    bad = int(port) not in numbers
                if bad:
                    subj = subject(d, c)
                    out.append(
                        Issue(
                            RULE.id,
                            RULE.severity,
                            f"{subj} {kind} checks port {port}, but the container exposes {sorted(str(x) for x in numbers | names)}: "
                            "the probe fails and the pod restarts or never gets ready",
                            "point the probe at a declared containerPort (or its name)",
                            d.file,
                            ctx.line(d, (*path, kind, handler, "port")),
                            f"{subj} {kind}",
                        )
                    )
    return out


RULE = Rule("RM006", "probe-port", Severity.error, "probe on a port the container does not expose", check)
