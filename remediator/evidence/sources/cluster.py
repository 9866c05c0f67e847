"""The whole cluster's evidence in one pass, for ``remediator scan``.

From the cluster (kubeconfig / in-cluster): every Application, then each kind listed once across all
namespaces (never once per app), and the logs of the pods that are not ready or have restarted.
Through the Argo CD API (no cluster credentials): the API has no cluster-wide listing, so each
Application's resource tree is read once and merged into one store.
With a metrics URL (``Live.metrics``): one Prometheus query for every PVC's used share, recorded as
a probe (the scan's PVC usage risks), never one query per app.
"""

from __future__ import annotations

from remediator.errors import RemediatorError
from remediator.evidence.relations import dig
from remediator.evidence.sources.collect import Live, argocd_client
from remediator.evidence.store import Evidence, Obj
from remediator.policy import Metrics

MAX_LOG_PODS = 200  # logs of at most this many troubled pods are read


def _troubled(pod: Obj) -> bool:
    if dig(pod, "status", "phase") not in ("Running", "Succeeded"):
        return True
    for cs in dig(pod, "status", "containerStatuses") or []:
        if isinstance(cs, dict) and (not cs.get("ready") or (cs.get("restartCount") or 0) > 0):
            return True
    return False


def load_cluster(where: Live) -> Evidence:
    """Every Application (none: the scan goes by namespace) and the cluster's objects, read once."""
    ev = _through_argocd(where) if where.argocd_url else _from_cluster(where)
    if where.metrics is not None and where.metrics.url and ev.all("PersistentVolumeClaim"):
        volume_usage(ev, where.metrics)
    return ev


def volume_usage(ev: Evidence, cfg: Metrics) -> None:
    """One instant query for the used share of every PVC of the cluster, appended to ``ev.probes``."""
    from remediator.evidence.sources.prometheus import PrometheusClient

    by = f"{cfg.labels.namespace}, {cfg.labels.persistentvolumeclaim}"
    query = f"max by ({by}) (kubelet_volume_stats_used_bytes) / max by ({by}) (kubelet_volume_stats_capacity_bytes)"
    with PrometheusClient(cfg) as client:
        ev.errors.extend(client.warnings)
        p = client.instant(query)
    ev.probes.append(p)
    if p.error or p.status != 200:
        ev.errors.append(f"metrics: {p.error or f'HTTP {p.status}'} ({cfg.url})")


def _from_cluster(where: Live) -> Evidence:
    from remediator.evidence.sources.live import LiveSource

    src = LiveSource.from_kubeconfig(
        kubeconfig=where.kubeconfig,
        context=where.context,
        argocd_namespace=where.argocd_namespace,
        tail=where.tail,
        concurrency=where.concurrency,
        timeout=where.timeout,
    )
    ev, _apps = src.load_cluster(_troubled, MAX_LOG_PODS)
    return ev


def _through_argocd(where: Live) -> Evidence:
    from remediator.evidence.sources.argocd import ArgoCDSource

    client = argocd_client(str(where.argocd_url), where.concurrency, where.timeout)
    ev = Evidence()
    try:
        ns = where.argocd_namespace if where.argocd_namespace != "argocd" else None
        source = ArgoCDSource(client, where.tail, ns, concurrency=where.concurrency)
        for app in client.applications():
            name = str(dig(app, "metadata", "name") or "")
            try:
                one = source.load(name)
            except RemediatorError as e:
                ev.errors.append(f"application {name}: {e}")
                continue
            for ref in list(one.refs()):
                obj = one.get_ref(ref)
                if obj is not None:
                    ev.add(obj, one.sources.get(ref, ""))
            for event in one.all_events():
                ev.add_event(event)
            for log in one.all_logs():
                ev.add_log(log)
            ev.errors += one.errors
    finally:
        client.close()
    return ev
