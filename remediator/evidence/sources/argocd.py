"""Evidence through the Argo CD API server alone (no cluster credentials): the Application, the live
manifest of every node of its resource tree, their events and the pods' logs."""

from __future__ import annotations

from remediator.errors import RemediatorError
from remediator.evidence.sanitize import clean_object
from remediator.evidence.scope import apply_scope
from remediator.evidence.sources.argocd_api import ArgoCDClient, ResourceNode
from remediator.evidence.sources.snapshot import event_from
from remediator.evidence.store import Evidence, LogFile, ref_of

EVENT_KINDS = {
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "PersistentVolumeClaim",
    "Service",
}


class ArgoCDSource:
    def __init__(self, client: ArgoCDClient, tail: int = 500, app_namespace: str | None = None) -> None:
        self.client = client
        self.tail = tail
        self.app_namespace = app_namespace

    def load(self, app: str | None = None) -> Evidence:
        if not app:
            raise RemediatorError("the Argo CD API source needs an application name")
        c, ns = self.client, self.app_namespace
        ev = Evidence()
        ev.add(clean_object(c.application(app, ns)), f"argocd:/api/v1/applications/{app}")
        nodes: list[ResourceNode] = []
        try:
            nodes = c.resource_tree(app, ns)
        except RemediatorError as e:
            ev.errors.append(str(e))
        for n in nodes:
            try:
                obj = c.resource(app, n, ns)
            except RemediatorError as e:
                ev.errors.append(str(e))
                continue
            if obj is not None:
                obj.setdefault("kind", n.kind)
                ev.add(clean_object(obj), f"argocd:resource/{n.kind}/{n.namespace}/{n.name}")
        seen: set[str] = set()
        batches: list[ResourceNode | None] = [None, *[n for n in nodes if n.kind in EVENT_KINDS]]
        for node in batches:
            try:
                items = c.events(app, node, ns)
            except RemediatorError as e:
                ev.errors.append(str(e))
                continue
            for item in items:
                uid = str((item.get("metadata") or {}).get("uid") or (item.get("metadata") or {}).get("name"))
                if uid in seen:
                    continue
                seen.add(uid)
                event = event_from(item, "argocd:events")
                if event is not None:
                    ev.add_event(event)
        apply_scope(ev, app)
        for pod in ev.scoped("Pod"):
            ref = ref_of(pod)
            spec = pod.get("spec") or {}
            for key in ("initContainers", "containers"):
                for cont in spec.get(key) or []:
                    cname = str(cont.get("name")) if isinstance(cont, dict) else ""
                    for previous in (False, True):
                        path = f"logs/{ref.namespace}/{ref.name}/{cname}{'.previous' if previous else ''}.log"
                        try:
                            lines = c.logs(app, ref.namespace, ref.name, cname, self.tail, previous, ns)
                        except RemediatorError as e:
                            ev.errors.append(f"read {path}: {e}")
                            continue
                        if lines:
                            ev.add_log(LogFile(ref.namespace, ref.name, cname, previous, path, lines))
        return ev
