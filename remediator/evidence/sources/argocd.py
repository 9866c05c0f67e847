"""Evidence through the Argo CD API server alone (no cluster credentials): the Application, the live
manifests of its resource tree, their events and the pods' logs.

Collected in three concurrent waves over a bounded pool (``concurrency``, default 16):

1. the Application, its resource tree, its managed resources (every tracked resource's live
   manifest in ONE call) and its own events;
2. the live manifest of each tree node the managed resources lack (Pods, ReplicaSets: children,
   not managed) and the events of the nodes that are not Healthy;
3. the logs of the containers that are not ready or restarted (the previous run's only when they
   restarted), and a bounded sample: the current logs of one pod of each workload none of whose
   pods has such a container (an app can fail while its pods are ready).

Results are added in the order a sequential walk would add them, so the Evidence does not depend
on which answer came first. ``scoped=False`` is the exhaustive walk (every node's manifest and
events, both logs of every container), the reference the scoped one is tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from remediator.errors import RemediatorError
from remediator.evidence.sanitize import clean_object
from remediator.evidence.scope import apply_scope
from remediator.evidence.sources.argocd_api import ArgoCDClient, ResourceNode
from remediator.evidence.sources.snapshot import event_from
from remediator.evidence.store import Evidence, LogFile, Obj, ref_of
from remediator.yamlload import LoadError, load_one

DEFAULT_CONCURRENCY = 16
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
# kinds whose events say nothing about a failure: never asked for, even without a health
QUIET_KINDS = {
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "Endpoints",
    "EndpointSlice",
    "NetworkPolicy",
    "LimitRange",
    "PriorityClass",
    "StorageClass",
    "IngressClass",
}

T = TypeVar("T")


def _failing(node: ResourceNode) -> bool:
    """A node whose events are worth a request: its health is not Healthy (or it has none and is not a
    static kind)."""
    status = str((node.health or {}).get("status") or "")
    if status:
        return status != "Healthy"
    return node.kind not in QUIET_KINDS


def _containers_to_log(pod: Obj, scoped: bool) -> list[tuple[str, bool]]:
    """(container, previous) pairs to read: every pair when not scoped; else the current run of the
    containers that are not ready or restarted and have run, the previous run only when restarted."""
    spec = pod.get("spec") or {}
    names = [
        str(c.get("name"))
        for key in ("initContainers", "containers")
        for c in spec.get(key) or []
        if isinstance(c, dict)
    ]
    if not scoped:
        return [(n, prev) for n in names for prev in (False, True)]
    status = pod.get("status") or {}
    statuses: dict[str, dict[str, Any]] = {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            if isinstance(cs, dict):
                statuses[str(cs.get("name"))] = cs
    out: list[tuple[str, bool]] = []
    for n in names:
        cs = statuses.get(n)
        if cs is None:
            continue  # never started: no logs
        restarted = int(cs.get("restartCount") or 0) > 0 or bool((cs.get("lastState") or {}).get("terminated"))
        state = cs.get("state") or {}
        # ``running: {}`` (no startedAt) still means running: presence, not truthiness
        ran = restarted or state.get("running") is not None or state.get("terminated") is not None
        if ran and (restarted or not cs.get("ready")):
            out.append((n, False))
        if restarted:
            out.append((n, True))
    return out


class ArgoCDSource:
    def __init__(
        self,
        client: ArgoCDClient,
        tail: int = 500,
        app_namespace: str | None = None,
        concurrency: int | None = None,
        scoped: bool = True,
    ) -> None:
        self.client = client
        self.tail = tail
        self.app_namespace = app_namespace
        self.concurrency = max(1, concurrency or DEFAULT_CONCURRENCY)
        self.scoped = scoped

    def load(self, app: str | None = None) -> Evidence:
        if not app:
            raise RemediatorError("the Argo CD API source needs an application name")
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="argocd") as pool:
            return self._load(pool, app)

    def _load(self, pool: ThreadPoolExecutor, app: str) -> Evidence:
        c, ns = self.client, self.app_namespace
        ev = Evidence()

        def run(fn: Callable[..., T], *args: Any) -> Future[T]:
            return pool.submit(fn, *args)

        def result(f: Future[T], default: T) -> T:
            try:
                return f.result()
            except RemediatorError as e:
                ev.errors.append(str(e))
                return default

        # wave 1
        f_app = run(c.application, app, ns)
        f_tree = run(c.resource_tree, app, ns)
        f_managed = run(c.managed_resources, app, ns) if self.scoped else None
        f_app_events = run(c.events, app, None, ns)
        ev.add(clean_object(f_app.result()), f"argocd:/api/v1/applications/{app}")
        nodes: list[ResourceNode] = result(f_tree, [])
        live: dict[tuple[str, str, str], Obj] = {}
        if f_managed is not None:
            for item in result(f_managed, []):
                obj = _live_state(item)
                if obj is not None:
                    live[(str(item.get("kind")), str(item.get("namespace") or ""), str(item.get("name")))] = obj

        # wave 2
        f_objs = [(n, None if (n.kind, n.namespace, n.name) in live else run(c.resource, app, n, ns)) for n in nodes]
        event_nodes = [n for n in nodes if (_failing(n) if self.scoped else n.kind in EVENT_KINDS)]
        f_events = [f_app_events, *[run(c.events, app, n, ns) for n in event_nodes]]
        for n, f in f_objs:
            obj = live.get((n.kind, n.namespace, n.name)) if f is None else result(f, None)
            if obj is not None:
                obj.setdefault("kind", n.kind)
                ev.add(clean_object(obj), f"argocd:resource/{n.kind}/{n.namespace}/{n.name}")
        seen: set[str] = set()
        for fe in f_events:
            for item in result(fe, []):
                meta = item.get("metadata") or {}
                uid = str(meta.get("uid") or meta.get("name"))
                if uid in seen:
                    continue
                seen.add(uid)
                event = event_from(item, "argocd:events")
                if event is not None:
                    ev.add_event(event)
        apply_scope(ev, app)

        # wave 3
        f_logs: list[tuple[str, str, str, bool, Future[list[str]]]] = []
        sampled: set[tuple[str, str]] = set()  # owners with a pod whose logs are read
        pods = ev.scoped("Pod")
        wanted = {id(p): _containers_to_log(p, self.scoped) for p in pods}
        for pod in pods:
            if wanted[id(pod)]:
                sampled.update(_owners(pod))
        for pod in pods:
            ref = ref_of(pod)
            pairs = wanted[id(pod)]
            if not pairs and not (set(_owners(pod)) & sampled):  # a bounded sample: one pod per workload
                pairs = [(n, False) for n, prev in _containers_to_log(pod, False) if not prev and _ran(pod, n)]
                sampled.update(_owners(pod))
            for cname, previous in pairs:
                f_logs.append(
                    (ref.namespace, ref.name, cname, previous,
                     run(c.logs, app, ref.namespace, ref.name, cname, self.tail, previous, ns))
                )  # fmt: skip
        for pns, pname, cname, previous, fl in f_logs:
            path = f"logs/{pns}/{pname}/{cname}{'.previous' if previous else ''}.log"
            try:
                lines = fl.result()
            except RemediatorError as e:
                ev.errors.append(f"read {path}: {e}")
                continue
            if lines:
                ev.add_log(LogFile(pns, pname, cname, previous, path, lines))
        return ev


def _owners(pod: Obj) -> list[tuple[str, str]]:
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return [(str(r.get("kind")), str(r.get("name"))) for r in refs if isinstance(r, dict)] or [
        ("Pod", ref_of(pod).name)
    ]


def _ran(pod: Obj, container: str) -> bool:
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            if isinstance(cs, dict) and cs.get("name") == container:
                state = cs.get("state") or {}
                return (
                    state.get("running") is not None
                    or state.get("terminated") is not None
                    or bool(cs.get("restartCount"))
                )
    return False


def _live_state(item: Obj) -> Obj | None:
    raw = item.get("liveState")
    if not isinstance(raw, str) or raw in ("", "null"):
        return None
    try:
        obj = load_one(raw, "liveState", as_json=True)
    except LoadError:
        return None
    return obj if isinstance(obj, dict) else None
