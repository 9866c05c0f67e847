"""The whole cluster's evidence in one pass, for ``remediator scan``.

From the cluster (kubeconfig / in-cluster): every Application, then each kind listed once across all
namespaces (never once per app), and the logs of the pods that are not ready or have restarted.
Through the Argo CD API (no cluster credentials): the API has no cluster-wide listing, so each
Application's resource tree is read once and merged into one store.
"""

from __future__ import annotations

from remediator.errors import RemediatorError
from remediator.evidence.relations import dig
from remediator.evidence.sources.collect import Live, argocd_client
from remediator.evidence.store import Evidence, Obj

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
    if where.argocd_url:
        return _through_argocd(where)
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
