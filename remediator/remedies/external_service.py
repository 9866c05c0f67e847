"""dns-resolution for a host no Service defines, which the policy places outside the cluster: add a
selector-less Service + Endpoints (or EndpointSlice) for an address, an ExternalName Service for a
host name. Argo CD 3.0+ excludes Endpoints/EndpointSlice from sync by default; the exclusions are
read from ``argocd-cm`` (or the Argo CD version) and the PR says what an admin must change."""

from __future__ import annotations

import re
from typing import Any

import yaml

from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence
from remediator.model import Category, Finding, ObjectRef
from remediator.remedies.base import Check, Context, CreateObjects, Proposal, Refusal, Remedy
from remediator.yamlload import LoadError, load_one

DEFAULT_V3_EXCLUSIONS = [{"apiGroups": ["", "discovery.k8s.io"], "kinds": ["Endpoints", "EndpointSlice"]}]
_ARGO_IMAGE = re.compile(r"argoproj/argocd:v?(\d+)\.(\d+)")


def argocd_version(ev: Evidence) -> tuple[int, int] | None:
    for kind in ("Deployment", "StatefulSet", "Pod"):
        for o in ev.all(kind):
            spec = dig(o, "spec", "template", "spec") or dig(o, "spec") or {}
            for c in spec.get("containers") or [] if isinstance(spec, dict) else []:
                m = _ARGO_IMAGE.search(str(c.get("image") or "")) if isinstance(c, dict) else None
                if m:
                    return int(m.group(1)), int(m.group(2))
    return None


def exclusions(ev: Evidence) -> tuple[list[dict[str, Any]] | None, str]:
    """The resource exclusions in force and where they were read from; None when unknown."""
    for cm in ev.all("ConfigMap"):
        if dig(cm, "metadata", "name") == "argocd-cm":
            raw = dig(cm, "data", "resource.exclusions")
            if raw is None:
                v = argocd_version(ev)
                if v is not None and v[0] < 3:
                    return [], "argocd-cm (no resource.exclusions) and Argo CD 2.x"
                return DEFAULT_V3_EXCLUSIONS, "argocd-cm has no resource.exclusions: Argo CD 3.0+ defaults"
            try:
                data = load_one(str(raw), "argocd-cm resource.exclusions") or []
            except LoadError:
                return None, "argocd-cm resource.exclusions is not valid YAML"
            if not isinstance(data, list):
                return None, "argocd-cm resource.exclusions is not a list"
            return [x for x in data if isinstance(x, dict)], "argocd-cm resource.exclusions"
    v = argocd_version(ev)
    if v is not None:
        return (DEFAULT_V3_EXCLUSIONS if v[0] >= 3 else []), f"Argo CD {v[0]}.{v[1]} defaults"
    return None, "unknown (no argocd-cm or Argo CD version in the evidence)"


def excluded(rules: list[dict[str, Any]], group: str, kind: str) -> bool:
    for r in rules:
        groups = [str(g) for g in r.get("apiGroups") or ["*"]]
        kinds = [str(k) for k in r.get("kinds") or ["*"]]
        if (group in groups or "*" in groups) and (kind in kinds or "*" in kinds):
            return True
    return False


def node_ip(ev: Evidence) -> str | None:
    nodes = ev.all("Node")
    if len(nodes) != 1:
        return None
    for a in dig(nodes[0], "status", "addresses") or []:
        if isinstance(a, dict) and a.get("type") == "InternalIP":
            return str(a.get("address"))
    return None


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    host = str(d.get("host") or "")
    if f.culprit.kind != "Service" or d.get("service_exists"):
        return Refusal(
            cat, f"{f.culprit} exists or the failure is not a missing Service; nothing to add", "external-service"
        )
    name = host.split(".")[0]
    hs = ctx.policy.host_services.get(host) or ctx.policy.host_services.get(name)
    port = hs.port if hs else d.get("port")
    address = hs.address if hs else None
    hostname = hs.hostname if hs else None
    if hs is None and ctx.policy.use_node_ip:
        address = node_ip(ctx.ev)
        if address is None:
            return Refusal(
                cat,
                "use_node_ip is on but the cluster does not have exactly one node with an InternalIP",
                "use_node_ip",
            )
    if not address and not hostname:
        return Refusal(
            cat,
            f"no Service {name} in the cluster or in Git, and the policy does not say where {name} runs "
            f"(host_services.{name}: {{address: ..., port: ...}})",
            "host_services",
        )
    if not port:
        return Refusal(cat, f"the port of {name} is unknown (not in the error nor in host_services)", "host_services")
    ns = f.culprit.namespace
    port = int(port)
    warnings: list[str] = []
    rules, source = exclusions(ctx.ev)
    svc: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}}
    if hostname:
        svc["spec"] = {
            "type": "ExternalName",
            "externalName": hostname,
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        }
        objects: tuple[dict[str, Any], ...] = (svc,)
        what = f"a Service of type ExternalName {name} -> {hostname}"
        checks = [Check(ObjectRef("Service", ns, name), ("spec", "externalName"), hostname)]
    else:
        svc["spec"] = {"ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": port}]}
        if ctx.policy.endpoint_slices:
            eps: dict[str, Any] = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {"name": f"{name}-1", "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
                "addressType": "IPv6" if ":" in str(address) else "IPv4",
                "endpoints": [{"addresses": [address]}],
                "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            }
            group, ekind = "discovery.k8s.io", "EndpointSlice"
            checks = [Check(ObjectRef("EndpointSlice", ns, f"{name}-1"), ("endpoints", 0, "addresses", 0), address)]
        else:
            eps = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns},
                "subsets": [
                    {"addresses": [{"ip": address}], "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
                ],
            }
            group, ekind = "", "Endpoints"
            checks = [Check(ObjectRef("Endpoints", ns, name), ("subsets", 0, "addresses", 0, "ip"), address)]
        objects = (svc, eps)
        what = f"a selector-less Service {name} and its {ekind} pointing at {address}:{port}"
        if rules is None:
            warnings.append(
                f"Argo CD 3.0+ excludes {ekind} from sync by default ({source}); if this cluster runs 3.x, an admin must "
                f"remove {ekind} from `resource.exclusions` in argocd-cm, or the {ekind} in this PR is never applied."
            )
        elif excluded(rules, group, ekind):
            kept = [r for r in rules if not excluded([r], group, ekind)]
            warnings.append(
                f"ExcludedResourceWarning: {ekind} is excluded from Argo CD sync ({source}), so the {ekind} in this PR will "
                f"not be applied until an admin changes argocd-cm: set `resource.exclusions` to\n"
                + yaml.safe_dump(kept or [{"apiGroups": ["coordination.k8s.io"], "kinds": ["Lease"]}], sort_keys=False)
                + f"(the current rules without {ekind}), or apply the {ekind} by hand. A host name for {name} in "
                f"host_services would allow an ExternalName Service instead."
            )
    clients = [ObjectRef(**c) for c in d.get("clients") or [] if isinstance(c, dict)]
    return Proposal(
        remedy="external-service",
        reason=(
            f"{', '.join(c.name for c in clients) or 'the app'} calls {host}:{port}, a name no Service in the cluster "
            f"or in Git defines, so cluster DNS answers NXDOMAIN. The policy places {name} outside the cluster at "
            f"{address or hostname}:{port}; {what} makes the name resolve inside namespace {ns}."
        ),
        changes=[
            CreateObjects(
                f"{re.sub(r'-(service|svc)$', '', name)}-external-service.yaml",
                objects,
                near=clients[0] if clients else None,
            )
        ],
        risk=f"Traffic to {name} leaves the cluster for {address or hostname}:{port}; if that address changes, "
        "this Service must change with it.",
        warnings=warnings,
        checks=checks,
    )


REMEDY = Remedy(
    "external-service", (Category.DNS_RESOLUTION.value,), plan, "add a Service for a host outside the cluster"
)
