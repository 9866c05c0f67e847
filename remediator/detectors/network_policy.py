"""network-policy: a NetworkPolicy blocks traffic the app needs (egress to DNS, ingress between tiers)."""

from __future__ import annotations

from typing import Any

from remediator.detectors.base import (
    Detector,
    finding,
    is_cluster_name,
    log_line,
    service_ref_for_host,
    spec_line,
)
from remediator.detectors.connection import connect_targets
from remediator.detectors.dns import dns_hosts
from remediator.evidence.relations import labels, selector_matches, spec, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, Finding


def policies_for(ev: Evidence, pod: Obj, ptype: str) -> list[Obj]:
    ns = ref_of(pod).namespace
    out = []
    for np in ev.all("NetworkPolicy", ns):
        sel = spec(np).get("podSelector")
        if sel is None or not (sel == {} or selector_matches(sel, labels(pod))):
            continue
        types = spec(np).get("policyTypes") or (
            ["Ingress", "Egress"] if spec(np).get("egress") is not None else ["Ingress"]
        )
        if ptype in types:
            out.append(np)
    return out


def _ports_allow(rule: dict[str, Any], port: int | None) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return port is None or any(isinstance(p, dict) and str(p.get("port")) == str(port) for p in ports)


def egress_allows_dns(np: Obj) -> bool:
    return any(isinstance(r, dict) and _ports_allow(r, 53) for r in spec(np).get("egress") or [])


def ingress_allows(np: Obj, client: Obj, port: int | None) -> bool:
    for rule in spec(np).get("ingress") or []:
        if not isinstance(rule, dict) or not _ports_allow(rule, port):
            continue
        peers = rule.get("from")
        if not peers:
            return True
        for peer in peers:
            if not isinstance(peer, dict):
                continue
            if "ipBlock" in peer:
                return True
            ps, nss = peer.get("podSelector"), peer.get("namespaceSelector")
            same_ns = ref_of(client).namespace == ref_of(np).namespace
            if nss is not None:
                return True  # a namespace selector: trust it rather than guess namespace labels
            if ps is not None and same_ns and (ps == {} or selector_matches(ps, labels(client))):
                return True
    return False


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for (ns, pod_name, host), hits in dns_hosts(ev).items():
        pod = ev.get("Pod", ns, pod_name)
        if pod is None:
            continue
        blocking = [np for np in policies_for(ev, pod, "Egress") if not egress_allows_dns(np)]
        if not blocking:
            continue
        np = blocking[0]
        wl = workload_of(ev, pod)
        out.append(
            finding(
                Category.NETWORK_POLICY,
                ref_of(np),
                f"NetworkPolicy {ref_of(np).name} selects {wl.name} and allows no egress to DNS (port 53), "
                f"so {host or 'names'} cannot be resolved",
                confidence=0.9,
                chain=(
                    f"{wl} fails its calls",
                    f"name resolution of {host} fails",
                    f"egress to port 53 is denied by NetworkPolicy {ref_of(np).name}",
                ),
                evidence=[
                    *[log_line(h.log, h.lineno, h.line) for h in hits[-2:]],
                    spec_line(np, "spec.egress", f"policyTypes={spec(np).get('policyTypes')}, no rule for port 53"),
                ],
                detector="network_policy",
                affects={ref_of(pod), wl},
                details={"direction": "egress", "port": 53},
            )
        )
    for (ns, pod_name, host), hits in connect_targets(ev).items():
        client = ev.get("Pod", ns, pod_name)
        if client is None or not host or not is_cluster_name(host):
            continue
        svc_ref = service_ref_for_host(host, ns)
        svc = ev.get_ref(svc_ref)
        sel = spec(svc).get("selector") if svc else None
        if not sel:
            continue
        targets = [p for p in ev.all("Pod", svc_ref.namespace) if selector_matches(sel, labels(p))]
        for target in targets[:1]:
            blocking = [np for np in policies_for(ev, target, "Ingress") if not ingress_allows(np, client, None)]
            if not blocking or any(ingress_allows(np, client, None) for np in policies_for(ev, target, "Ingress")):
                continue
            np = blocking[0]
            wl = workload_of(ev, client)
            out.append(
                finding(
                    Category.NETWORK_POLICY,
                    ref_of(np),
                    f"NetworkPolicy {ref_of(np).name} lets no traffic from {wl.name} into {svc_ref.name}",
                    confidence=0.88,
                    chain=(
                        f"{wl} fails its calls",
                        f"connections to {host} time out or are refused",
                        f"ingress to pods of {svc_ref.name} is denied by NetworkPolicy {ref_of(np).name}",
                    ),
                    evidence=[
                        *[log_line(h.log, h.lineno, h.line) for h in hits[-2:]],
                        spec_line(np, "spec.ingress", f"no rule admits pods labelled {labels(client)}"),
                    ],
                    detector="network_policy",
                    affects={ref_of(client), wl, svc_ref},
                    details={"direction": "ingress", "service": svc_ref.as_dict()},
                )
            )
    return out


DETECTOR = Detector("network_policy", (Category.NETWORK_POLICY,), detect, "NetworkPolicy denying DNS or tier traffic")
