"""service-no-endpoints: a Service selects no ready pods (selector or port mismatch)."""

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
    status_line,
)
from remediator.detectors.connection import connect_targets, target_of
from remediator.evidence.relations import containers, labels, selector_matches, spec, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, Finding, ObjectRef


def ready_addresses(ev: Evidence, svc: Obj) -> int | None:
    """Ready endpoint count from Endpoints or EndpointSlices; None when neither was captured."""
    ref = ref_of(svc)
    ep = ev.get("Endpoints", ref.namespace, ref.name)
    slices = [
        s for s in ev.all("EndpointSlice", ref.namespace) if labels(s).get("kubernetes.io/service-name") == ref.name
    ]
    if ep is None and not slices:
        return None
    n = 0
    if ep is not None:
        n += sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [] if isinstance(s, dict))
    for s in slices:
        if spec(svc).get("ports") and not s.get("ports"):
            # The EndpointSlice controller lists a pod with no ports when no container port matches the
            # Service's targetPort (FindPort fails): kube-proxy sends it nothing.
            continue
        n += sum(
            1
            for e in s.get("endpoints") or []
            if isinstance(e, dict) and (e.get("conditions") or {}).get("ready", True)
        )
    return n


def _declared(pods: list[Obj]) -> list[tuple[str, int]]:
    """(name, number) of every container port the pods declare."""
    return [
        (str(cp.get("name") or ""), int(cp["containerPort"]))
        for p in pods
        for c in containers(spec(p), init=False)
        for cp in c.get("ports") or []
        if isinstance(cp, dict) and isinstance(cp.get("containerPort"), int)
    ]


def refused_clients(ev: Evidence, svc: Obj) -> list[tuple[Obj, list[LogHit]]]:
    """Pods whose logs show connections to this Service (by name or ClusterIP) refused or timing out."""
    ref = ref_of(svc)
    ips = {str(spec(svc).get("clusterIP") or "")} - {"", "None"}
    svc_ports = {str(p.get("port")) for p in spec(svc).get("ports") or [] if isinstance(p, dict)}
    out = []
    for (ns, pod_name, host), hits in connect_targets(ev).items():
        named = is_cluster_name(host) and service_ref_for_host(host, ns) == ref
        if not named and host not in ips:
            continue
        hits = [h for h in hits if target_of(h)[1] in (None, *svc_ports)]
        pod = ev.get("Pod", ns, pod_name)
        if hits and pod is not None:
            out.append((pod, hits))
    return out


def _port_ok(port: dict[str, Any], pods: list[Obj]) -> bool:
    target = port.get("targetPort", port.get("port"))
    for p in pods:
        for c in containers(spec(p), init=False):
            for cp in c.get("ports") or []:
                if isinstance(cp, dict) and (
                    cp.get("containerPort") == target or (isinstance(target, str) and cp.get("name") == target)
                ):
                    return True
            if not c.get("ports") and isinstance(target, int):
                return True  # ports need not be declared to be served
    return False


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for svc in ev.scoped("Service"):
        ref = ref_of(svc)
        sel = spec(svc).get("selector")
        if spec(svc).get("type") == "ExternalName":
            continue
        ready = ready_addresses(ev, svc)
        if not sel:
            if ready == 0 or (ready is None and "Endpoints" in ev.kinds() and spec(svc).get("clusterIP") != "None"):
                out.append(
                    finding(
                        Category.SERVICE_NO_ENDPOINTS,
                        ref,
                        f"{ref} has no selector and no Endpoints: nothing backs it",
                        confidence=0.6,
                        chain=(f"clients of {ref.name} cannot connect", "Service without selector has no Endpoints"),
                        evidence=[spec_line(svc, "spec.selector", "(none)")],
                        detector="service_endpoints",
                        affects={ref},
                        details={"selector": None},
                    )
                )
            continue
        pods = [p for p in ev.all("Pod", ref.namespace) if selector_matches(sel, labels(p))]
        ports = [p for p in spec(svc).get("ports") or [] if isinstance(p, dict)]
        clients: list[tuple[Obj, list[LogHit]]] = []
        if ready:
            # A numeric targetPort gets endpoints whether or not anything listens there: the Service is
            # wrong when its pods declare other ports and its clients are refused.
            bad = [p for p in ports if not _port_ok(p, pods)] if pods else []
            clients = refused_clients(ev, svc) if bad else []
            if not clients:
                continue
            tp = bad[0].get("targetPort", bad[0].get("port"))
            cause = (
                f"targetPort {tp} matches no container port of the selected pods (they declare "
                f"{', '.join(f'{n}:{c}' if n else str(c) for n, c in sorted(set(_declared(pods)), key=lambda x: x[1]))}); "
                "connections to the Service are refused"
            )
            conf = 0.9
        elif not pods:
            # Which workload was meant? The one in the namespace whose labels share a key.
            near = sorted(
                {
                    workload_of(ev, p)
                    for p in ev.all("Pod", ref.namespace)
                    if set(sel) & set(labels(p)) and ev.in_focus(workload_of(ev, p))
                }
            )
            if not near and ready is None:
                continue
            cause = f"selector {sel} matches no pod"
            if near:
                meant = next(p for p in ev.all("Pod", ref.namespace) if workload_of(ev, p) == near[0])
                cause = f"selector {sel} matches no pod; pods of {near[0].name} are labelled {labels(meant)}"
            conf = 0.88 if near else 0.7
        else:
            bad = [p for p in ports if not _port_ok(p, pods)]
            if not bad:
                continue  # pods match but are not ready: their own findings explain it
            tp = bad[0].get("targetPort", bad[0].get("port"))
            cause = f"targetPort {tp} matches no container port of the selected pods"
            conf = 0.85
            clients = refused_clients(ev, svc)
        state = "routes to no port its pods serve" if ready else "has no ready endpoints"
        port_lines = [
            spec_line(svc, f"spec.ports[{i}].targetPort", f"{p.get('targetPort', p.get('port'))}")
            for i, p in enumerate(ports)
            if pods and not _port_ok(p, pods)
        ]
        touched: set[ObjectRef] = {ref}
        touched |= {workload_of(ev, p) for p in pods}
        for pod, _ in clients:  # the clients' refused connections are this finding's symptoms
            touched |= {ref_of(pod), workload_of(ev, pod)}
        out.append(
            finding(
                Category.SERVICE_NO_ENDPOINTS,
                ref,
                f"{ref} {state}: {cause}",
                confidence=conf,
                chain=(f"clients of {ref.name} cannot connect", f"Service {ref.name} {state}", cause),
                evidence=[
                    spec_line(svc, "spec.selector", str(sel)),
                    *port_lines,
                    *([status_line(svc, "endpoints", "0 ready addresses")] if ready == 0 else []),
                    *[log_line(h.log, h.lineno, h.line) for _, hits in clients[:1] for h in hits[-2:]],
                ],
                detector="service_endpoints",
                affects=touched,
                details={"selector": sel},
            )
        )
    return out


DETECTOR = Detector("service_endpoints", (Category.SERVICE_NO_ENDPOINTS,), detect, "Services with no ready endpoints")
