"""network-policy: a NetworkPolicy the app declares blocks traffic the app needs -> append the rule that
admits exactly that traffic, keeping every existing rule and peer.

- egress without a DNS exception (lookups time out): a rule to UDP and TCP 53, to the cluster DNS pods
  (kube-system, ``k8s-app: kube-dns``) when the evidence shows them with that label, else to port 53 of
  any destination; plus, for each in-namespace Service the client names that the same policy blocks,
  a rule to that Service's pods (its selector) on its target port;
- ingress that does not admit a client: a rule from the client's pods (their most specific stable
  label; a namespace selector too when the client runs in another namespace) on the Service's target port.

The values come from the finding (what the detector read from the Service, the pods and the logs) and
the policy as declared in Git; a policy the app's source does not declare is the platform's: refused.
"""

from __future__ import annotations

from typing import Any

from remediator.evidence.relations import dig
from remediator.model import Category, FieldPath, Finding, ObjectRef
from remediator.remedies.base import Change, Check, Context, Proposal, Refusal, Remedy, SetField

NS_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server (1.21+)
DNS_NAMESPACE = "kube-system"


def dns_rule(dns_labels: dict[str, str] | None) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if dns_labels:
        rule["to"] = [
            {
                "namespaceSelector": {"matchLabels": {NS_LABEL: DNS_NAMESPACE}},
                "podSelector": {"matchLabels": dict(dns_labels)},
            }
        ]
    rule["ports"] = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return rule


def peer_rule(key: str, selector: dict[str, str], port: Any, protocol: str, namespace: str = "") -> dict[str, Any]:
    peer: dict[str, Any] = {"podSelector": {"matchLabels": dict(selector)}}
    if namespace:
        peer = {"namespaceSelector": {"matchLabels": {NS_LABEL: namespace}}, **peer}
    return {key: [peer], "ports": [{"protocol": protocol or "TCP", "port": port}]}


def _append(
    target: ObjectRef, current: Any, field: str, rules: list[dict[str, Any]]
) -> tuple[list[Change], int] | Refusal:
    """SetFields that append ``rules`` to spec.<field> (creating the list when the policy has none), and
    the index of the first new rule."""
    if current is None:
        return [SetField(target, ("spec", field), rules, role="network-policy-rules")], 0
    if not isinstance(current, list):
        return Refusal(Category.NETWORK_POLICY.value, f"{target} spec.{field} is not a list", "network-policy")
    n = len(current)
    return [SetField(target, ("spec", field, n + i), r, role="network-policy-rule") for i, r in enumerate(rules)], n


def _port_checks(target: ObjectRef, base: FieldPath, rule: dict[str, Any]) -> list[Check]:
    out = []
    for j, p in enumerate(rule["ports"]):
        out.append(Check(target, (*base, "ports", j, "port"), p["port"]))
        out.append(Check(target, (*base, "ports", j, "protocol"), p["protocol"]))
    return out


def _selector_checks(target: ObjectRef, base: FieldPath, peers_key: str, rule: dict[str, Any]) -> list[Check]:
    peer = (rule.get(peers_key) or [{}])[0]
    out = []
    for sel in ("namespaceSelector", "podSelector"):
        for k, v in ((peer.get(sel) or {}).get("matchLabels") or {}).items():
            out.append(Check(target, (*base, peers_key, 0, sel, "matchLabels", k), v))
    return out


def _same(rules: Any, rule: dict[str, Any]) -> bool:
    return isinstance(rules, list) and any(r == rule for r in rules)


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    np = ctx.desired_obj(f.culprit)
    if np is None:
        return Refusal(
            cat,
            f"{f.culprit} is not declared in the app's source: it is the platform's policy; ask its owners to admit "
            "the traffic (the report names the port and the pods)",
            "not-in-source",
        )
    direction = d.get("direction")
    if direction == "egress":
        return _egress(f, ctx, np)
    if direction == "ingress":
        return _ingress(f, np)
    return Refusal(cat, f"the finding does not say which traffic {f.culprit} blocks", "network-policy")


def _egress(f: Finding, ctx: Context, np: dict[str, Any]) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    current = dig(np, "spec", "egress")
    rules: list[dict[str, Any]] = []
    what: list[str] = []
    if d.get("dns"):
        labels = d.get("dns_labels") if d.get("dns_pods") else None
        rule = dns_rule(labels if isinstance(labels, dict) else None)
        if _same(current, rule):
            return Refusal(
                cat,
                f"{f.culprit} in Git already admits DNS; the cluster runs an older version: sync first",
                "source-matches-cluster",
            )
        rules.append(rule)
        what.append(
            "UDP and TCP 53 to the cluster DNS pods (kube-system, "
            + ", ".join(f"{k}={v}" for k, v in (labels or {}).items())
            + ")"
            if labels
            else "UDP and TCP 53 (any destination: the cluster DNS pods are not in the evidence)"
        )
    for dep in d.get("dependencies") or []:
        if not isinstance(dep, dict) or not dep.get("selector") or dep.get("port") in (None, ""):
            continue
        rule = peer_rule("to", dep["selector"], dep["port"], str(dep.get("protocol") or "TCP"))
        if _same(current, rule) or rule in rules:
            continue
        rules.append(rule)
        svc = dep.get("service") or {}
        what.append(f"{rule['ports'][0]['protocol']} {dep['port']} to the pods of Service {svc.get('name')}")
    if not rules:
        return Refusal(
            cat,
            f"{f.culprit} blocks the client, but the evidence names no port and pods to admit "
            "(a Service with a selector and the port the client dials would decide it)",
            "network-policy",
        )
    out = _append(f.culprit, current, "egress", rules)
    if isinstance(out, Refusal):
        return out
    changes, first = out
    checks: list[Check] = []
    for i, rule in enumerate(rules):
        base: FieldPath = ("spec", "egress", first + i)
        checks += _port_checks(f.culprit, base, rule) + _selector_checks(f.culprit, base, "to", rule)
    client = (d.get("client") or {}).get("name") or "the app"
    return Proposal(
        remedy="network-policy",
        reason=(
            f"NetworkPolicy {f.culprit.name} selects the pods of {client} and denies their egress except what its rules "
            f"admit; no rule admits {'name lookups (UDP 53)' if d.get('dns') else 'the dependency the app calls'}, so "
            f"{'lookups time out' if d.get('dns') else 'its calls time out'}. Appending egress "
            f"{'rules' if len(rules) > 1 else 'a rule'} for {'; '.join(what)} admits exactly that traffic; "
            "the existing rules stay as they are."
        ),
        changes=changes,
        risk=f"{client} may now send {'; '.join(what)}; nothing else is opened.",
        checks=checks,
    )


def _ingress(f: Finding, np: dict[str, Any]) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    sel = d.get("client_labels")
    port = d.get("port")
    client = (d.get("client") or {}).get("name") or "the client"
    svc = (d.get("service") or {}).get("name") or "the Service"
    if not isinstance(sel, dict) or not sel:
        return Refusal(
            cat,
            f"the pods of {client} carry no stable label (app.kubernetes.io/name, app, tier) to admit them by; "
            "a label on the client's pod template would decide the peer",
            "network-policy",
        )
    if port in (None, ""):
        return Refusal(
            cat, f"the port {client} dials on {svc} is not in the evidence (the Service has several)", "network-policy"
        )
    c_ns = str(d.get("client_namespace") or "")
    rule = peer_rule(
        "from", sel, port, str(d.get("protocol") or "TCP"), namespace="" if c_ns == f.culprit.namespace else c_ns
    )
    current = dig(np, "spec", "ingress")
    if _same(current, rule):
        return Refusal(
            cat,
            f"{f.culprit} in Git already admits {client}; the cluster runs an older version: sync first",
            "source-matches-cluster",
        )
    out = _append(f.culprit, current, "ingress", [rule])
    if isinstance(out, Refusal):
        return out
    changes, first = out
    base: FieldPath = ("spec", "ingress", first)
    peer = ", ".join(f"{k}={v}" for k, v in sel.items()) + (
        f" in namespace {c_ns}" if c_ns != f.culprit.namespace else ""
    )
    return Proposal(
        remedy="network-policy",
        reason=(
            f"NetworkPolicy {f.culprit.name} selects the pods behind Service {svc} and admits ingress only from its "
            f"listed peers; {client} is not one of them, so its connections time out. Appending an ingress rule from "
            f"pods labelled {peer} on {rule['ports'][0]['protocol']} {port} (the Service's target port) admits exactly "
            "that client; the existing peers stay."
        ),
        changes=changes,
        risk=f"Every pod labelled {peer} may now reach {svc}'s pods on port {port}.",
        checks=_port_checks(f.culprit, base, rule) + _selector_checks(f.culprit, base, "from", rule),
    )


REMEDY = Remedy(
    "network-policy",
    (Category.NETWORK_POLICY.value,),
    plan,
    "append the egress (DNS, in-app dependency) or ingress rule a NetworkPolicy lacks",
)
