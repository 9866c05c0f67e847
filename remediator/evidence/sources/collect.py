"""Live evidence, wherever it comes from: the cluster (kubeconfig / in-cluster) or the Argo CD API
server, plus the model servers the pods call and, when asked, the registries of their images.
One place for the CLI and the service."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediator.evidence.sources.argocd_api import ArgoCDClient
from remediator.evidence.store import Evidence, Obj
from remediator.policy import Metrics


@dataclass(frozen=True)
class Live:
    kubeconfig: Path | None = None
    context: str | None = None
    argocd_namespace: str = "argocd"
    argocd_url: str | None = None  # set: read through the Argo CD API ($ARGOCD_TOKEN or username/password)
    tail: int = 500
    probe_models: bool = True
    probe_registries: bool = False  # ask the images' registries for their tag lists (anonymous)
    metrics: Metrics | None = None  # with a url: query its Prometheus HTTP API about the app's pods
    cache: Any = None  # the service's watch-based cache (informer.Informer): cluster kinds without a request
    concurrency: int = 16  # Kubernetes API requests in flight per wave (policy collection.concurrency)
    timeout: float = 15.0  # per request (policy collection.timeout_seconds)


def argocd_client(url: str, concurrency: int = 16, timeout: float = 15.0) -> ArgoCDClient:
    return ArgoCDClient(
        url,
        timeout=timeout,
        max_connections=concurrency,
        token=os.environ.get("ARGOCD_TOKEN") or None,
        username=os.environ.get("ARGOCD_USERNAME") or None,
        password=os.environ.get("ARGOCD_PASSWORD") or None,
        verify=os.environ.get("ARGOCD_INSECURE", "") not in ("1", "true"),
    )


def collect(app: str, where: Live) -> Evidence:
    from remediator.evidence.sources.modelprobe import probe_model_servers

    if where.argocd_url:
        from remediator.evidence.sources.argocd import ArgoCDSource

        client = argocd_client(where.argocd_url, where.concurrency, where.timeout)
        try:
            ns = where.argocd_namespace if where.argocd_namespace != "argocd" else None
            ev = ArgoCDSource(client, where.tail, ns, concurrency=where.concurrency).load(app)
        finally:
            client.close()
    else:
        from remediator.evidence.sources.live import LiveSource

        ev = LiveSource.from_kubeconfig(
            kubeconfig=where.kubeconfig,
            context=where.context,
            argocd_namespace=where.argocd_namespace,
            tail=where.tail,
            cache=where.cache,
            concurrency=where.concurrency,
            timeout=where.timeout,
        ).load(app)
    if where.probe_models:
        probe_model_servers(ev)
    if where.probe_registries:
        from remediator.evidence.sources.registry import probe_registries

        probe_registries(ev)
    if where.metrics is not None and where.metrics.url:
        from remediator.evidence.sources.prometheus import probe_metrics

        probe_metrics(ev, where.metrics)
    return ev


def applications(where: Live) -> list[Obj]:
    """Every Application the evidence source sees (to map alerts to apps)."""
    if where.argocd_url:
        client = argocd_client(where.argocd_url)
        try:
            return client.applications()
        finally:
            client.close()
    from remediator.evidence.sources.live import LiveSource

    return LiveSource.from_kubeconfig(
        kubeconfig=where.kubeconfig, context=where.context, argocd_namespace=where.argocd_namespace
    ).applications()
