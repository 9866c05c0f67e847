"""probe-failure because the probe targets a port the container does not expose: point the probe at
the container's only declared port (several ports: a person chooses)."""

from __future__ import annotations

from remediator.model import Finding
from remediator.remedies.base import Check, Context, Proposal, Refusal, SetField, container_of, container_path


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    if not ctx.policy.enabled("probe-port"):
        return Refusal(cat, "fixing probe ports is disabled", "remedies.probe-port")
    d = f.details
    cname, kind = str(d.get("container") or ""), str(d.get("probe") or "liveness")
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    c = container_of(obj, cname)
    probe = c.get(f"{kind}Probe")
    if not isinstance(probe, dict):
        return Refusal(cat, f"container {cname} of {f.culprit} declares no {kind}Probe", "probe-port")
    handler = next(
        (h for h in ("httpGet", "tcpSocket", "grpc") if isinstance(probe.get(h), dict) and "port" in probe[h]), None
    )
    ports = [p for p in c.get("ports") or [] if isinstance(p, dict) and p.get("containerPort")]
    if handler is None or len(ports) != 1:
        return Refusal(
            cat,
            f"the {kind} probe of {cname} targets a port the container does not expose, and the container declares "
            f"{len(ports)} ports: which one the probe should use is a person's choice",
            "probe-port",
        )
    old = probe[handler]["port"]
    port = ports[0]
    new: int | str = (
        port["name"]
        if isinstance(old, str) and not str(old).isdigit() and port.get("name")
        else int(port["containerPort"])
    )
    path = (*container_path(obj, cname), f"{kind}Probe", handler, "port")
    return Proposal(
        remedy="probe-port",
        reason=f"the {kind} probe of container {cname} checks port {old}, but the container only listens on "
        f"{port['containerPort']}{' (' + port['name'] + ')' if port.get('name') else ''}; every probe fails, so the "
        f"{'container is restarted' if kind == 'liveness' else 'pod never becomes ready'}.",
        changes=[SetField(f.culprit, path, new, current=old, role="probe-port")],
        risk="If the app serves its health endpoint on another, undeclared port, the probe keeps failing; check the path too.",
        checks=[Check(f.culprit, path, new)],
    )
