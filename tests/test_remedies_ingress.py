"""Ingress references (class, backend Service/port, TLS Secret) and Service targetPort: the remedies' rules
and refusals, and the service-no-endpoints culprit rule for a targetPort its pods do not serve, on evidence
built in memory."""

from __future__ import annotations

import copy
from typing import Any

from remediator.detectors import connection, ingress, service_endpoints
from remediator.diagnose import rank
from remediator.evidence.store import Evidence, LogFile
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import REMEDIES, ingress_ref, service_port
from remediator.remedies.base import Context, Proposal, Refusal, RemoveField, SetField

ING = ObjectRef("Ingress", "web", "blog")
SVC = ObjectRef("Service", "web", "api")


def ctx(*objs: dict[str, Any], desired: list[dict[str, Any]] | None = None) -> Context:
    ev = Evidence()
    for o in objs:
        ev.add(copy.deepcopy(o))
    return Context(ev, Policy(), desired if desired is not None else [])


def klass(name: str, default: bool = False) -> dict[str, Any]:
    ann = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name, "annotations": ann},
    }


def service(name: str, *ports: dict[str, Any], selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {"selector": selector or {"app": name}, "ports": list(ports), "clusterIP": "10.43.0.20"},
    }


def secret(name: str, type_: str = "kubernetes.io/tls") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "web"}, "type": type_}


def ingress_obj(
    cls: str | None = "nginx",
    backend: str = "blog",
    port: dict[str, Any] | None = None,
    tls: str | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": "blog.example.org",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": backend, "port": port or {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    }
    if cls:
        spec["ingressClassName"] = cls
    if tls:
        spec["tls"] = [{"hosts": ["blog.example.org"], "secretName": tls}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "blog", "namespace": "web", "annotations": annotations or {}},
        "spec": spec,
    }


def ing_finding() -> Finding:
    return Finding(Category.INGRESS, ING, "cannot route", 0.85, (), ())


def sets(p: Proposal | Refusal) -> dict[str, Any]:
    assert isinstance(p, Proposal), p
    return {".".join(str(x) for x in c.path): c.value for c in p.changes if isinstance(c, SetField)}


BACKEND = "spec.rules.0.http.paths.0.backend.service"


# --- registry ----------------------------------------------------------------------------------


def test_registered_for_their_categories() -> None:
    assert ingress_ref.REMEDY in REMEDIES["ingress"]
    names = [r.name for r in REMEDIES["service-no-endpoints"]]
    assert names.index("service-port") < names.index("service-selector")


# --- ingress class ------------------------------------------------------------------------------


def test_missing_class_becomes_the_default_class() -> None:
    c = ctx(
        klass("nginx", default=True), klass("traefik-internal"), ingress_obj("public"), service("blog", {"port": 80})
    )
    assert sets(ingress_ref.plan(ing_finding(), c)) == {"spec.ingressClassName": "nginx"}


def test_near_named_class_wins_over_the_default() -> None:
    c = ctx(klass("nginx"), klass("traefik", default=True), ingress_obj("ngnix"), service("blog", {"port": 80}))
    assert sets(ingress_ref.plan(ing_finding(), c)) == {"spec.ingressClassName": "nginx"}


def test_only_class_when_no_default() -> None:
    c = ctx(klass("haproxy"), ingress_obj("public"), service("blog", {"port": 80}))
    assert sets(ingress_ref.plan(ing_finding(), c)) == {"spec.ingressClassName": "haproxy"}


def test_several_classes_none_default_is_refused() -> None:
    c = ctx(klass("haproxy"), klass("traefik"), ingress_obj("public"), service("blog", {"port": 80}))
    r = ingress_ref.plan(ing_finding(), c)
    assert isinstance(r, Refusal) and r.rule == "ingress-ref" and "person's choice" in r.reason


def test_legacy_annotation_is_fixed_in_place() -> None:
    ann = {"kubernetes.io/ingress.class": "nginx-public"}
    c = ctx(
        klass("nginx", default=True),
        klass("traefik"),
        ingress_obj(None, annotations=ann),
        service("blog", {"port": 80}),
    )
    assert sets(ingress_ref.plan(ing_finding(), c)) == {"metadata.annotations.kubernetes.io/ingress.class": "nginx"}


def test_detector_reads_the_legacy_annotation() -> None:
    ev = Evidence()
    for o in (
        klass("nginx"),
        ingress_obj(None, annotations={"kubernetes.io/ingress.class": "public"}),
        service("blog", {"port": 80}),
    ):
        ev.add(copy.deepcopy(o))
    [f] = ingress.detect(ev)
    assert f.culprit == ING and "IngressClass public does not exist" in f.summary


# --- backend Service and port -----------------------------------------------------------------


def test_near_named_service_that_holds_the_port() -> None:
    c = ctx(klass("nginx"), ingress_obj(backend="blog-svc"), service("blog", {"name": "http", "port": 80}))
    assert sets(ingress_ref.plan(ing_finding(), c)) == {f"{BACKEND}.name": "blog"}


def test_near_named_service_without_the_port_is_refused() -> None:
    c = ctx(klass("nginx"), ingress_obj(backend="blog-svc"), service("blog", {"port": 2368}))
    r = ingress_ref.plan(ing_finding(), c)
    assert isinstance(r, Refusal) and "do not hold port 80" in r.reason


def test_no_near_service_is_refused() -> None:
    c = ctx(klass("nginx"), ingress_obj(backend="frontend"), service("blog", {"port": 80}))
    assert isinstance(ingress_ref.plan(ing_finding(), c), Refusal)


def test_port_number_that_is_the_target_port() -> None:
    svc = service(
        "blog", {"name": "http", "port": 80, "targetPort": 2368}, {"name": "admin", "port": 81, "targetPort": 9000}
    )
    c = ctx(klass("nginx"), ingress_obj(port={"number": 2368}), svc)
    assert sets(ingress_ref.plan(ing_finding(), c)) == {f"{BACKEND}.port.number": 80}


def test_port_number_several_ports_is_refused() -> None:
    svc = service("blog", {"port": 80, "targetPort": 8080}, {"port": 81, "targetPort": 9000})
    c = ctx(klass("nginx"), ingress_obj(port={"number": 8000}), svc)
    assert isinstance(ingress_ref.plan(ing_finding(), c), Refusal)


def test_port_name_near_and_only_unnamed_port() -> None:
    svc = service("blog", {"name": "http", "port": 80}, {"name": "metrics", "port": 9102})
    c = ctx(klass("nginx"), ingress_obj(port={"name": "htpp"}), svc)
    assert sets(ingress_ref.plan(ing_finding(), c)) == {f"{BACKEND}.port.name": "http"}
    c = ctx(klass("nginx"), ingress_obj(port={"name": "web"}), service("blog", {"port": 8080}))
    p = ingress_ref.plan(ing_finding(), c)
    assert sets(p) == {f"{BACKEND}.port.number": 8080}
    assert isinstance(p, Proposal) and any(isinstance(ch, RemoveField) for ch in p.changes)


# --- TLS ----------------------------------------------------------------------------------------


def test_near_named_tls_secret() -> None:
    c = ctx(
        klass("nginx"),
        ingress_obj(tls="blog-tls"),
        service("blog", {"port": 80}),
        secret("blog-tls-cert"),
        secret("blog-tl", "Opaque"),
    )
    assert sets(ingress_ref.plan(ing_finding(), c)) == {"spec.tls.0.secretName": "blog-tls-cert"}


def test_missing_tls_secret_without_near_one_is_out_of_band() -> None:
    c = ctx(klass("nginx"), ingress_obj(tls="blog-tls"), service("blog", {"port": 80}), secret("other", "Opaque"))
    r = ingress_ref.plan(ing_finding(), c)
    assert isinstance(r, Refusal) and r.rule == "out-of-band"


def test_cert_manager_secret_is_out_of_band_but_other_fixes_proceed() -> None:
    ann = {"cert-manager.io/cluster-issuer": "letsencrypt"}
    c = ctx(
        klass("nginx"),
        ingress_obj("ngnix", tls="blog-tls", annotations=ann),
        service("blog", {"port": 80}),
        secret("blog-tls-old"),
    )
    p = ingress_ref.plan(ing_finding(), c)
    assert sets(p) == {"spec.ingressClassName": "nginx"}
    assert isinstance(p, Proposal) and any("cert-manager" in w for w in p.warnings)


# --- Service targetPort -------------------------------------------------------------------------


def pod(ports: list[dict[str, Any]], name: str = "api-1", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "web", "labels": labels or {"app": "api"}},
        "spec": {"containers": [{"name": "api", "image": "ghcr.io/acme/api:1", "ports": ports}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def svc_finding() -> Finding:
    return Finding(Category.SERVICE_NO_ENDPOINTS, SVC, "no endpoints", 0.85, (), ())


def test_named_target_port_gets_the_same_numbered_port_by_name() -> None:
    c = ctx(
        service("api", {"name": "grpc", "port": 9090, "targetPort": "grpc-api"}),
        pod([{"name": "grpc", "containerPort": 9090}, {"name": "metrics", "containerPort": 9102}]),
    )
    assert sets(service_port.plan(svc_finding(), c)) == {"spec.ports.0.targetPort": "grpc"}


def test_numeric_target_port_gets_the_port_of_the_service_ports_name() -> None:
    c = ctx(
        service("api", {"name": "http", "port": 80, "targetPort": 8080}),
        pod([{"name": "http", "containerPort": 8000}, {"name": "metrics", "containerPort": 9102}]),
    )
    assert sets(service_port.plan(svc_finding(), c)) == {"spec.ports.0.targetPort": 8000}


def test_near_named_target_and_only_port() -> None:
    c = ctx(
        service("api", {"port": 80, "targetPort": "htpp"}),
        pod([{"name": "http", "containerPort": 8000}, {"name": "admin", "containerPort": 9000}]),
    )
    assert sets(service_port.plan(svc_finding(), c)) == {"spec.ports.0.targetPort": "http"}
    c = ctx(service("api", {"port": 80, "targetPort": 8080}), pod([{"containerPort": 3000}]))
    assert sets(service_port.plan(svc_finding(), c)) == {"spec.ports.0.targetPort": 3000}


def test_several_candidates_or_no_declared_ports_are_refused() -> None:
    c = ctx(service("api", {"port": 80, "targetPort": 8080}), pod([{"containerPort": 3000}, {"containerPort": 3001}]))
    r = service_port.plan(svc_finding(), c)
    assert isinstance(r, Refusal) and "person's choice" in r.reason
    c = ctx(service("api", {"port": 80, "targetPort": "web"}), pod([]))
    assert isinstance(service_port.plan(svc_finding(), c), Refusal)


def test_selector_that_matches_no_pod_is_left_to_the_selector_remedy() -> None:
    c = ctx(service("api", {"port": 80, "targetPort": 8080}, selector={"app": "apii"}), pod([{"containerPort": 3000}]))
    r = service_port.plan(svc_finding(), c)
    assert isinstance(r, Refusal) and "selector" in r.reason


# --- the culprit rule: a targetPort the pods do not serve ----------------------------------------


def client_evidence(with_logs: bool, slice_ports: list[dict[str, Any]] | None) -> Evidence:
    ev = Evidence()
    objs = [
        service("api", {"name": "http", "port": 80, "targetPort": 8080}),
        pod([{"name": "http", "containerPort": 8000}]),
        pod([], name="web-1", labels={"app": "web"}),
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "api-x1", "namespace": "web", "labels": {"kubernetes.io/service-name": "api"}},
            "ports": slice_ports,
            "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": True}}],
        },
    ]
    for o in objs:
        ev.add(copy.deepcopy(o))
    if with_logs:
        line = "request to http://api.web/v1 failed, reason: connect ECONNREFUSED 10.43.0.20:80"
        ev.add_log(LogFile("web", "web-1", "web", False, "logs/web/web-1/web.log", [line, line]))
    return ev


def test_numeric_target_port_with_refused_clients_names_the_service() -> None:
    ev = client_evidence(True, [{"name": "http", "port": 8080}])
    [f] = service_endpoints.detect(ev)
    assert f.category == Category.SERVICE_NO_ENDPOINTS and f.culprit == SVC
    assert ObjectRef("Pod", "web", "web-1") in f.affects
    top = rank([f, *connection.detect(ev)])[0]
    assert top.culprit == SVC and top.category == Category.SERVICE_NO_ENDPOINTS
    assert any(k.category == Category.CONNECTION_REFUSED for k in top.folded)


def test_numeric_target_port_without_client_evidence_is_not_a_finding() -> None:
    assert service_endpoints.detect(client_evidence(False, [{"name": "http", "port": 8080}])) == []


def test_endpoint_slice_without_ports_counts_no_ready_address() -> None:
    ev = client_evidence(False, None)
    svc = ev.get("Service", "web", "api")
    assert svc is not None and service_endpoints.ready_addresses(ev, svc) == 0


def test_connection_to_a_cluster_ip_names_its_service() -> None:
    ev = client_evidence(False, [{"name": "http", "port": 8080}])
    ev.add_log(
        LogFile(
            "web",
            "web-1",
            "web",
            False,
            "logs/web/web-1/web.log",
            ["dial tcp 10.43.0.20:80: connect: connection refused"],
        )
    )
    [f] = connection.detect(ev)
    assert f.culprit == SVC
