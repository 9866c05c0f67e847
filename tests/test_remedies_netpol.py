"""NetworkPolicy: the culprit rule (a policy that blocks what the client needs is the root cause even
when the logs show a DNS failure or a timeout, decided from the structure of the policies) and the
network-policy remedy (append exactly the egress or ingress rule that admits that traffic)."""

from __future__ import annotations

import copy
from typing import Any

from remediator.detectors import network_policy as npd
from remediator.diagnose import diagnose
from remediator.edits.yamlfile import YamlFile
from remediator.evidence.store import Evidence, LogFile
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import REMEDIES
from remediator.remedies.base import Context, Proposal, Refusal, SetField
from remediator.remedies.network_policy import plan

NS = "shop"
DNS_TIMEOUT = "lookup orders-db on 10.43.0.10:53: read udp 10.42.0.9:41234->10.43.0.10:53: i/o timeout"


def pod(name: str, labels: dict[str, str], ns: str = NS, port: int | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app", "image": "x:1"}
    if port:
        c["ports"] = [{"name": "http", "containerPort": port}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {**labels, "pod-template-hash": "abc12"}},
        "spec": {"containers": [c]},
        "status": {"phase": "Running"},
    }


def service(name: str, selector: dict[str, str], port: int, target: int | str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": selector, "ports": [{"port": port, "targetPort": target}]},
    }


def policy(name: str, selector: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"podSelector": {"matchLabels": selector} if selector else {}, **spec},
    }


def evidence(*objs: dict[str, Any], logs: dict[str, list[str]] | None = None) -> Evidence:
    ev = Evidence()
    for o in objs:
        ev.add(copy.deepcopy(o))
    for pod_name, lines in (logs or {}).items():
        ev.add_log(LogFile(NS, pod_name, "app", False, f"logs/{NS}/{pod_name}/app.log", lines))
    return ev


API = pod("api-1", {"app.kubernetes.io/name": "api", "tier": "backend"})
DB = pod("orders-db-0", {"app.kubernetes.io/name": "orders-db"}, port=5432)
DB_SVC = service("orders-db", {"app.kubernetes.io/name": "orders-db"}, 5432, 5432)
HTTPS_ONLY = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}]


def netpol_findings(ev: Evidence) -> list[Finding]:
    return npd.detect(ev)


# --- the culprit rule ----------------------------------------------------------------------------


def test_a_lookup_timeout_under_an_egress_policy_without_dns_names_the_policy() -> None:
    np = policy("api", {"app.kubernetes.io/name": "api"}, policyTypes=["Egress"], egress=HTTPS_ONLY)
    ev = evidence(API, DB, DB_SVC, np, logs={"api-1": [f"db: {DNS_TIMEOUT}"]})
    d = diagnose(ev)
    assert d.top is not None and d.top.category is Category.NETWORK_POLICY
    assert d.top.culprit == ObjectRef("NetworkPolicy", NS, "api")
    assert {f.category for f in d.top.folded} >= {Category.DNS_RESOLUTION}
    # the database the client names is blocked by the same policy: the remedy admits it too
    [dep] = d.top.details["dependencies"]
    assert dep["selector"] == {"app.kubernetes.io/name": "orders-db"} and dep["port"] == 5432


def test_nxdomain_for_a_host_no_service_defines_is_not_a_policy() -> None:
    np = policy("deny-egress", {}, policyTypes=["Egress"])
    line = "dial tcp: lookup payments-gw on 10.43.0.10:53: no such host"
    ev = evidence(API, np, logs={"api-1": [line]})
    assert netpol_findings(ev) == []
    d = diagnose(ev)
    assert d.top is not None and d.top.category is Category.DNS_RESOLUTION


def test_a_policy_that_admits_udp_53_does_not_block_dns() -> None:
    dns_rule = {
        "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}],
    }
    np = policy("api", {"app.kubernetes.io/name": "api"}, policyTypes=["Egress"], egress=[dns_rule])
    ev = evidence(API, np, logs={"api-1": [DNS_TIMEOUT]})
    assert netpol_findings(ev) == []


def test_tcp_53_alone_does_not_admit_lookups_over_udp() -> None:
    tcp_only = {"ports": [{"port": 53}]}  # protocol defaults to TCP
    np = policy("api", {"app.kubernetes.io/name": "api"}, policyTypes=["Egress"], egress=[tcp_only])
    [f] = netpol_findings(evidence(API, np, logs={"api-1": [DNS_TIMEOUT]}))
    assert f.details["dns"] is True


def test_an_ingress_policy_that_does_not_admit_the_client_names_the_policy_and_its_label() -> None:
    web = pod("web-1", {"app.kubernetes.io/name": "web", "tier": "frontend"})
    server = pod("catalog-1", {"app.kubernetes.io/name": "catalog"}, port=8080)
    svc = service("catalog", {"app.kubernetes.io/name": "catalog"}, 80, 8080)
    gateway_only = [
        {"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}], "ports": [{"protocol": "TCP", "port": 8080}]}
    ]
    np = policy("catalog", {"app.kubernetes.io/name": "catalog"}, policyTypes=["Ingress"], ingress=gateway_only)
    line = 'Get "http://catalog/api": dial tcp 10.43.7.1:80: i/o timeout'
    [f] = netpol_findings(evidence(web, server, svc, np, logs={"web-1": [line]}))
    assert f.culprit == ObjectRef("NetworkPolicy", NS, "catalog")
    assert f.details["client_labels"] == {"app.kubernetes.io/name": "web"}  # never pod-template-hash
    assert f.details["port"] == 8080  # the Service's target port, not the port dialled
    # a client the policy admits is not blocked
    admitted = {**np, "spec": {**np["spec"], "ingress": [{"from": [{"podSelector": {}}]}]}}
    assert netpol_findings(evidence(web, server, svc, admitted, logs={"web-1": [line]})) == []


def test_an_egress_policy_that_blocks_an_in_namespace_dependency() -> None:
    dns_ok = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    np = policy("api", {"app.kubernetes.io/name": "api"}, policyTypes=["Egress"], egress=[dns_ok])
    line = "failed to connect to `host=orders-db user=app database=app`: dial error (dial tcp 10.43.3.3:5432: i/o timeout) postgres://orders-db:5432/app"
    [f] = netpol_findings(evidence(API, DB, DB_SVC, np, logs={"api-1": [line]}))
    assert f.details["dns"] is False and f.details["dependencies"][0]["port"] == 5432


# --- the remedy ----------------------------------------------------------------------------------


def finding(details: dict[str, Any], name: str = "api") -> Finding:
    ref = ObjectRef("NetworkPolicy", NS, name)
    return Finding(Category.NETWORK_POLICY, ref, "x", 0.9, (), (), "network_policy", frozenset(), details)


def proposal(out: Proposal | Refusal) -> Proposal:
    assert isinstance(out, Proposal), out
    return out


def test_registered_under_its_category_and_key() -> None:
    assert [r.name for r in REMEDIES[Category.NETWORK_POLICY.value]] == ["network-policy"]


def test_dns_to_any_destination_when_the_dns_pods_are_not_in_the_evidence() -> None:
    np = policy("api", {"app.kubernetes.io/name": "api"}, policyTypes=["Egress"], egress=HTTPS_ONLY)
    p = proposal(
        plan(finding({"direction": "egress", "dns": True, "dns_pods": False}), Context(Evidence(), Policy(), [np]))
    )
    [ch] = p.changes
    assert isinstance(ch, SetField) and ch.path == ("spec", "egress", 1)
    assert ch.value == {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    assert {(c.path[-1], c.value) for c in p.checks} >= {("port", 53), ("protocol", "UDP"), ("protocol", "TCP")}


def test_dns_pods_and_a_dependency_on_a_policy_without_egress_rules() -> None:
    np = policy("api", {"app.kubernetes.io/name": "api"}, policyTypes=["Egress"])
    dep = {
        "service": {"kind": "Service", "namespace": NS, "name": "orders-db"},
        "selector": {"app": "db"},
        "port": 5432,
    }
    details = {
        "direction": "egress",
        "dns": True,
        "dns_pods": True,
        "dns_labels": npd.DNS_LABELS,
        "dependencies": [dep],
    }
    [ch] = proposal(plan(finding(details), Context(Evidence(), Policy(), [np]))).changes
    assert isinstance(ch, SetField) and ch.path == ("spec", "egress")
    dns, db = ch.value
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert dns["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    assert db == {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"protocol": "TCP", "port": 5432}]}


def test_ingress_appends_a_rule_and_keeps_the_peers() -> None:
    rules = [{"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}]}]
    np = policy("catalog", {"app": "catalog"}, policyTypes=["Ingress"], ingress=rules)
    details = {"direction": "ingress", "client_labels": {"tier": "frontend"}, "client_namespace": "web", "port": 8080}
    [ch] = proposal(plan(finding(details, "catalog"), Context(Evidence(), Policy(), [np]))).changes
    assert isinstance(ch, SetField) and ch.path == ("spec", "ingress", 1)
    peer = ch.value["from"][0]
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "web"}}  # another namespace
    assert peer["podSelector"] == {"matchLabels": {"tier": "frontend"}}


def test_refusals_name_the_rule() -> None:
    details = {"direction": "ingress", "client_labels": {}, "client_namespace": NS, "port": 8080}
    np = policy("catalog", {"app": "catalog"}, policyTypes=["Ingress"])
    out = plan(finding(details, "catalog"), Context(Evidence(), Policy(), [np]))
    assert isinstance(out, Refusal) and out.rule == "network-policy" and "stable label" in out.reason
    # the platform's policy (not declared in the app's source) is not edited
    out = plan(finding({"direction": "egress", "dns": True}), Context(Evidence(), Policy(), []))
    assert isinstance(out, Refusal) and out.rule == "not-in-source"


def test_a_rule_with_nested_lists_is_appended_in_the_files_list_style() -> None:
    text = "kind: NetworkPolicy\nmetadata:\n  name: a\nspec:\n  egress:\n    - ports:\n        - port: 443\n"
    yf = YamlFile.parse(text, "np.yaml")
    rule = {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"protocol": "TCP", "port": 5432}]}
    yf.set(0, ("spec", "egress", 1), rule)
    assert yf.render() == text + (
        "    - to:\n"
        "        - podSelector:\n"
        "            matchLabels:\n"
        "              app: db\n"
        "      ports:\n"
        "        - protocol: TCP\n"
        "          port: 5432\n"
    )
