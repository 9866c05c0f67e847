"""network-policy: a NetworkPolicy blocks traffic the app needs: egress to DNS, egress to an
in-namespace dependency, ingress from a client tier.

The culprit rule: when a policy blocks that traffic, the policy is the root cause even though the
client's logs show a DNS failure, a timeout or a refused connection. "Blocks" is decided from the
structure of the policies (which pods they select, which peers and ports their rules admit), and
only for a client that shows the symptom: lookups that time out (no answer from port 53 — an
NXDOMAIN answer for a name no Service defines is a DNS problem, not a policy), or connections to
the Service that time out or are refused.
"""

from __future__ import annotations

from typing import Any

from remediator.detectors.base import (
    Detector,
    LogHit,
    finding,
    is_cluster_name,
    log_line,
    service_ref_for_host,
    spec_line,
)
from remediator.detectors.connection import connect_targets, target_of
from remediator.detectors.dns import dns_timeouts
from remediator.evidence.relations import containers, labels, selector_matches, spec, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, Finding, ObjectRef

DNS_NAMESPACE = "kube-system"
DNS_LABELS = {"k8s-app": "kube-dns"}  # CoreDNS and kube-dns pods keep this label for compatibility
# Labels that name what a pod is (and survive a rollout), the most specific first.
STABLE_LABELS = ("app.kubernetes.io/name", "app", "tier")


def policy_types(np: Obj) -> list[str]:
    types = spec(np).get("policyTypes")
    if isinstance(types, list) and types:
        return [str(t) for t in types]
    return ["Ingress", "Egress"] if spec(np).get("egress") is not None else ["Ingress"]


def policies_for(ev: Evidence, pod: Obj, ptype: str) -> list[Obj]:
    """The NetworkPolicies of the pod's namespace that select it for ``ptype`` (Ingress or Egress)."""
    ns = ref_of(pod).namespace
    out = []
    for np in ev.all("NetworkPolicy", ns):
        sel = spec(np).get("podSelector")
        if sel is None or not (sel == {} or selector_matches(sel, labels(pod))):
            continue
        if ptype in policy_types(np):
            out.append(np)
    return out


def ports_admit(rule: dict[str, Any], port: int | None, name: str | None, protocol: str) -> bool:
    """Does the rule's ``ports`` list admit ``port`` (number, or container port ``name``) over ``protocol``?
    An unknown port is admitted: a block is claimed only when the structure shows it."""
    ports = rule.get("ports")
    if not ports or (port is None and name is None):
        return True
    for p in ports:
        if not isinstance(p, dict) or str(p.get("protocol") or "TCP").upper() != protocol.upper():
            continue
        pp = p.get("port")
        if pp is None:
            return True
        if isinstance(pp, int) or str(pp).isdigit():
            lo = int(pp)
            hi = int(p.get("endPort") or lo)
            if port is not None and lo <= port <= hi:
                return True
        elif name is not None and str(pp) == name:
            return True
    return False


def peer_admits(peer: dict[str, Any], np_ns: str, ns: str, lab: dict[str, str]) -> bool:
    """Does a ``to``/``from`` peer admit a pod with labels ``lab`` in namespace ``ns``?"""
    if "ipBlock" in peer:
        return True  # addresses, not labels: not decided here, so not claimed as a block
    ps, nss = peer.get("podSelector"), peer.get("namespaceSelector")
    pods_ok = ps is None or ps == {} or selector_matches(ps, lab)
    if nss is not None:
        return pods_ok  # namespace labels are not in the evidence: trusted rather than guessed
    return ns == np_ns and pods_ok


def rule_admits(
    rule: Any, peers_key: str, np_ns: str, ns: str, lab: dict[str, str], port: int | None, name: str | None, proto: str
) -> bool:
    if not isinstance(rule, dict) or not ports_admit(rule, port, name, proto):
        return False
    peers = rule.get(peers_key)
    if not peers:
        return True
    return any(isinstance(p, dict) and peer_admits(p, np_ns, ns, lab) for p in peers)


def egress_admits(np: Obj, ns: str, lab: dict[str, str], port: int | None, name: str | None, proto: str) -> bool:
    np_ns = ref_of(np).namespace
    return any(rule_admits(r, "to", np_ns, ns, lab, port, name, proto) for r in spec(np).get("egress") or [])


def ingress_admits(np: Obj, ns: str, lab: dict[str, str], port: int | None, name: str | None, proto: str) -> bool:
    np_ns = ref_of(np).namespace
    return any(rule_admits(r, "from", np_ns, ns, lab, port, name, proto) for r in spec(np).get("ingress") or [])


def dns_pods(ev: Evidence) -> list[Obj]:
    """The cluster DNS pods in the evidence (kube-system, ``k8s-app: kube-dns``)."""
    return [p for p in ev.all("Pod", DNS_NAMESPACE) if selector_matches(DNS_LABELS, labels(p))]


def egress_allows_dns(ev: Evidence, np: Obj) -> bool:
    """Does the policy admit lookups (UDP 53) to the cluster DNS pods?"""
    pods = dns_pods(ev)
    lab = labels(pods[0]) if pods else DNS_LABELS
    return egress_admits(np, DNS_NAMESPACE, lab, 53, "dns", "UDP")


def client_labels(ev: Evidence, pod: Obj) -> dict[str, str]:
    """The labels that select a client's pods in a policy peer: its most specific stable label, else its
    workload's selector (never pod-template-hash); {} when neither is known."""
    lab = labels(pod)
    for k in STABLE_LABELS:
        if lab.get(k):
            return {k: str(lab[k])}
    wl = ev.get_ref(workload_of(ev, pod))
    ml = (spec(wl).get("selector") or {}).get("matchLabels") if wl is not None else None
    if isinstance(ml, dict):
        return {str(k): str(v) for k, v in ml.items() if k != "pod-template-hash" and str(v) == lab.get(str(k))}
    return {}


def service_target(ev: Evidence, svc: Obj, pods: list[Obj], dialled: str | None) -> dict[str, Any] | None:
    """The Service port the client dialled, resolved to the pods' side: {"port": number or name,
    "number": int | None, "name": str | None, "protocol"}; None when the evidence does not say which."""
    ports = [p for p in spec(svc).get("ports") or [] if isinstance(p, dict)]
    chosen = [p for p in ports if dialled and str(p.get("port")) == str(dialled)]
    if not chosen and len(ports) == 1:
        chosen = ports
    if len(chosen) != 1:
        return None
    p = chosen[0]
    target = p.get("targetPort", p.get("port"))
    proto = str(p.get("protocol") or "TCP")
    if target is None:
        return None
    if isinstance(target, int) or str(target).isdigit():
        number = int(str(target))
        name = next(
            (
                str(cp["name"])
                for pod in pods
                for c in containers(spec(pod), init=False)
                for cp in c.get("ports") or []
                if isinstance(cp, dict) and cp.get("containerPort") == number and cp.get("name")
            ),
            None,
        )
        return {"port": number, "number": number, "name": name, "protocol": proto}
    name = str(target)
    named = next(
        (
            int(cp["containerPort"])
            for pod in pods
            for c in containers(spec(pod), init=False)
            for cp in c.get("ports") or []
            if isinstance(cp, dict) and cp.get("name") == name and isinstance(cp.get("containerPort"), int)
        ),
        None,
    )
    return {"port": name, "number": named, "name": name, "protocol": proto}


def _pick(policies: list[Obj]) -> Obj:
    """The policy to name (and edit): one written for these pods before a namespace-wide default."""
    return sorted(policies, key=lambda np: (spec(np).get("podSelector") in ({}, None), ref_of(np).name))[0]


def _service_of(ev: Evidence, host: str, ns: str) -> tuple[ObjectRef, Obj, list[Obj]] | None:
    if not host or not is_cluster_name(host):
        return None
    ref = service_ref_for_host(host, ns)
    svc = ev.get_ref(ref)
    sel = spec(svc).get("selector") if svc else None
    if svc is None or not isinstance(sel, dict) or not sel:
        return None
    pods = [p for p in ev.all("Pod", ref.namespace) if selector_matches(sel, labels(p))]
    return ref, svc, pods


def _dependency(ev: Evidence, np: Obj, client: Obj, host: str, dialled: str | None) -> dict[str, Any] | None:
    """The in-namespace Service ``host`` when every egress policy of the client blocks its pods on the
    target port: what the remedy needs to admit it (the Service's selector, target port, protocol)."""
    found = _service_of(ev, host, ref_of(client).namespace)
    if found is None:
        return None
    ref, svc, pods = found
    if ref.namespace != ref_of(np).namespace:
        return None
    target = service_target(ev, svc, pods, dialled)
    if target is None:
        return None
    lab = labels(pods[0]) if pods else {str(k): str(v) for k, v in spec(svc)["selector"].items()}
    egress = policies_for(ev, client, "Egress")
    if any(egress_admits(p, ref.namespace, lab, target["number"], target["name"], target["protocol"]) for p in egress):
        return None
    return {
        "service": ref.as_dict(),
        "selector": {str(k): str(v) for k, v in spec(svc)["selector"].items()},
        "port": target["port"],
        "protocol": target["protocol"],
    }


def _evidence(hits: list[LogHit]) -> list[Any]:
    return [log_line(h.log, h.lineno, h.line) for h in hits[-2:]]


def _dns(ev: Evidence) -> list[Finding]:
    out = []
    done: set[tuple[ObjectRef, ObjectRef]] = set()
    for (ns, pod_name, host), hits in dns_timeouts(ev).items():
        pod = ev.get("Pod", ns, pod_name)
        if pod is None:
            continue
        egress = policies_for(ev, pod, "Egress")
        if not egress or any(egress_allows_dns(ev, np) for np in egress):
            continue
        np = _pick(egress)
        wl = workload_of(ev, pod)
        if (ref_of(np), wl) in done:
            continue
        done.add((ref_of(np), wl))
        # The Services this client names in its failing lookups and calls, that the same policy blocks
        # too: once names resolve, the calls would fail next.
        named: dict[str, str | None] = {}
        for (ns2, pod2, h2), hs2 in [*dns_timeouts(ev).items(), *connect_targets(ev).items()]:
            if (ns2, pod2) == (ns, pod_name) and h2:
                port = next((target_of(h)[1] for h in hs2 if h.signature != "dns-timeout" and target_of(h)[1]), None)
                named[h2] = named.get(h2) or port
        deps = [d for h2, port in sorted(named.items()) if (d := _dependency(ev, np, pod, h2, port)) is not None]
        pods = dns_pods(ev)
        out.append(
            finding(
                Category.NETWORK_POLICY,
                ref_of(np),
                f"NetworkPolicy {ref_of(np).name} selects {wl.name} and allows no egress to DNS (UDP 53), "
                f"so lookups of {host or 'names'} time out",
                confidence=0.92,
                chain=(
                    f"{wl} fails its calls",
                    f"name resolution of {host or 'its dependencies'} times out (no answer from port 53)",
                    f"egress to port 53 is denied by NetworkPolicy {ref_of(np).name}",
                ),
                evidence=[
                    *_evidence(hits),
                    spec_line(np, "spec.egress", f"policyTypes={policy_types(np)}, no rule admits UDP 53"),
                ],
                detector="network_policy",
                affects={ref_of(pod), wl},
                details={
                    "direction": "egress",
                    "dns": True,
                    "dns_pods": bool(pods),
                    "dns_labels": DNS_LABELS if pods else None,
                    "host": host,
                    "client": wl.as_dict(),
                    "dependencies": deps,
                },
            )
        )
    return out


def _calls(ev: Evidence) -> list[Finding]:
    out = []
    for (ns, pod_name, host), hits in connect_targets(ev).items():
        client = ev.get("Pod", ns, pod_name)
        found = _service_of(ev, host, ns)
        if client is None or found is None:
            continue
        svc_ref, svc, targets = found
        dialled = next((target_of(h)[1] for h in hits if target_of(h)[1]), None)
        target = service_target(ev, svc, targets, dialled)
        wl = workload_of(ev, client)
        port_txt = f" on port {target['port']}" if target else ""
        egress = policies_for(ev, client, "Egress")
        looked_up = any((n2, p2) == (ns, pod_name) for n2, p2, _ in dns_timeouts(ev))
        if egress and looked_up and not any(egress_allows_dns(ev, np) for np in egress):
            continue  # lookups fail first: the DNS branch names the policy (and the dependency)
        dep = _dependency(ev, _pick(egress), client, host, dialled) if egress else None
        if egress and dep is not None:
            np = _pick(egress)
            out.append(
                finding(
                    Category.NETWORK_POLICY,
                    ref_of(np),
                    f"NetworkPolicy {ref_of(np).name} lets {wl.name} send nothing to the pods of {svc_ref.name}{port_txt}",
                    confidence=0.88,
                    chain=(
                        f"{wl} fails its calls",
                        f"connections to {host} time out or are refused",
                        f"egress from {wl.name} to the pods of {svc_ref.name} is denied by NetworkPolicy {ref_of(np).name}",
                    ),
                    evidence=[*_evidence(hits), spec_line(np, "spec.egress", f"no rule admits {dep['selector']}")],
                    detector="network_policy",
                    affects={ref_of(client), wl, svc_ref},
                    details={"direction": "egress", "dns": False, "client": wl.as_dict(), "dependencies": [dep]},
                )
            )
            continue
        if not targets or target is None:
            continue
        server = targets[0]
        ingress = policies_for(ev, server, "Ingress")
        c_ns, c_lab = ref_of(client).namespace, labels(client)
        if not ingress or any(
            ingress_admits(np, c_ns, c_lab, target["number"], target["name"], target["protocol"]) for np in ingress
        ):
            continue
        np = _pick(ingress)
        out.append(
            finding(
                Category.NETWORK_POLICY,
                ref_of(np),
                f"NetworkPolicy {ref_of(np).name} lets no traffic from {wl.name} into {svc_ref.name}{port_txt}",
                confidence=0.88,
                chain=(
                    f"{wl} fails its calls",
                    f"connections to {host} time out or are refused",
                    f"ingress to pods of {svc_ref.name} is denied by NetworkPolicy {ref_of(np).name}",
                ),
                evidence=[*_evidence(hits), spec_line(np, "spec.ingress", f"no rule admits pods labelled {c_lab}")],
                detector="network_policy",
                affects={ref_of(client), wl, svc_ref},
                details={
                    "direction": "ingress",
                    "service": svc_ref.as_dict(),
                    "client": wl.as_dict(),
                    "client_namespace": c_ns,
                    "client_labels": client_labels(ev, client),
                    "port": target["port"],
                    "protocol": target["protocol"],
                },
            )
        )
    return out


def detect(ev: Evidence) -> list[Finding]:
    return [*_dns(ev), *_calls(ev)]


DETECTOR = Detector(
    "network_policy", (Category.NETWORK_POLICY,), detect, "NetworkPolicy denying DNS, a dependency or tier traffic"
)
