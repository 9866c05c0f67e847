"""Evidence from a live cluster through the official ``kubernetes`` client (kubeconfig or in-cluster).

Read-only: GET and LIST only. The only module that imports the kubernetes client; its
exceptions become ours here. A list the cluster refuses (403) or that times out is recorded
in ``errors`` and the rest of the evidence is still collected.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from remediator.errors import (
    ForbiddenError,
    InputError,
    NotFoundError,
    PermanentError,
    TemporaryError,
    truncate,
)
from remediator.evidence.health import Health, health_of
from remediator.evidence.health import pod as pod_health
from remediator.evidence.relations import dig
from remediator.evidence.sanitize import clean_object
from remediator.evidence.scope import INSTANCE_LABEL, apply_scope
from remediator.evidence.sources.snapshot import add_object, iter_objects
from remediator.evidence.store import Evidence, LogFile, Obj, ref_of
from remediator.model import ObjectRef
from remediator.yamlload import load_one

try:  # the client is a hard dependency; imported lazily so the pure core never pays for it
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
except ImportError as e:  # pragma: no cover
    raise ImportError("the kubernetes package is required for live clusters") from e
import urllib3.exceptions


@dataclass(frozen=True)
class Resource:
    kind: str
    group_version: str  # "v1" for the core group
    plural: str
    namespaced: bool = True
    metadata_only: bool = False  # list as PartialObjectMetadata: names, labels, owners; never the object's body

    def path(self, namespace: str | None = None) -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


NAMESPACED = [
    Resource("Pod", "v1", "pods"),
    Resource("Service", "v1", "services"),
    Resource("Endpoints", "v1", "endpoints"),
    Resource("ConfigMap", "v1", "configmaps"),
    Resource("Secret", "v1", "secrets", metadata_only=True),  # the API server never sends us a Secret's data
    Resource("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
    Resource("ServiceAccount", "v1", "serviceaccounts"),
    Resource("ResourceQuota", "v1", "resourcequotas"),
    Resource("LimitRange", "v1", "limitranges"),
    Resource("Event", "v1", "events"),
    Resource("Deployment", "apps/v1", "deployments"),
    Resource("ReplicaSet", "apps/v1", "replicasets"),
    Resource("StatefulSet", "apps/v1", "statefulsets"),
    Resource("DaemonSet", "apps/v1", "daemonsets"),
    Resource("Job", "batch/v1", "jobs"),
    Resource("CronJob", "batch/v1", "cronjobs"),
    Resource("Ingress", "networking.k8s.io/v1", "ingresses"),
    Resource("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
    Resource("EndpointSlice", "discovery.k8s.io/v1", "endpointslices"),
    Resource("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers"),
    Resource("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings"),
    Resource("Role", "rbac.authorization.k8s.io/v1", "roles"),
    Resource("ExternalSecret", "external-secrets.io/v1beta1", "externalsecrets"),
    Resource("SecretStore", "external-secrets.io/v1beta1", "secretstores"),
]
CLUSTER = [
    Resource("Node", "v1", "nodes", False),
    Resource("PersistentVolume", "v1", "persistentvolumes", False),
    Resource("StorageClass", "storage.k8s.io/v1", "storageclasses", False),
    Resource("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    Resource("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", False),
    Resource("IngressClass", "networking.k8s.io/v1", "ingressclasses", False),
    Resource("PriorityClass", "scheduling.k8s.io/v1", "priorityclasses", False),
    Resource(
        "ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", False
    ),
    Resource("MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", False),
    Resource("ClusterSecretStore", "external-secrets.io/v1beta1", "clustersecretstores", False),
]
APPLICATIONS = Resource("Application", "argoproj.io/v1alpha1", "applications")
CONCURRENCY = 16  # requests in flight per wave (policy ``collection.concurrency``, ``--concurrency``)
LOG_SAMPLE = 2  # failing pods read (logs, events) per owner and way of failing


class ClusterCache(Protocol):
    """A watch-based cache of (cluster-scoped) kinds: their objects, or None when the kind is not cached."""

    def cached(self, kind: str) -> list[Obj] | None: ...


PAGE = 500
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def _translate(e: Exception, what: str) -> Exception:
    """Library exceptions → ours, with the call named and remote text truncated."""
    if isinstance(e, ApiException):
        status = e.status or 0
        reason = truncate(str(e.reason or ""), 120)
        try:
            msg = json.loads(e.body or "{}").get("message") or reason
        except (ValueError, AttributeError):
            msg = reason
        if status in (401, 403):
            return ForbiddenError(f"{what}: forbidden ({status}): {truncate(msg, 160)}")
        if status == 404:
            return NotFoundError(f"{what}: not found (404)")
        if status == 429 or status >= 500:
            return TemporaryError(f"{what}: server error ({status}): {truncate(msg, 160)}")
        return PermanentError(f"{what}: refused ({status}): {truncate(msg, 160)}")
    if isinstance(e, urllib3.exceptions.HTTPError | OSError):
        return TemporaryError(f"{what}: no answer from the API server ({type(e).__name__})")
    return PermanentError(f"{what}: {truncate(str(e), 160)}")


class WatchExpired(TemporaryError):
    """The watch's resourceVersion is too old (410 Gone): list again."""

    def __init__(self, resource_version: str | None) -> None:
        super().__init__(f"watch: resourceVersion {resource_version} is too old (410 Gone); list again")
        self.resource_version = resource_version


KUBECONFIG_MAX_BYTES = 4 * 1024 * 1024


def check_kubeconfig(config_file: str | None) -> list[str]:
    """The kubeconfig files the client would read (``config_file``, or ~/.kube/config), checked with
    the project's bounded loader first: a missing file, a bomb, a file that is not a mapping of
    lists, or a wrongly typed section is an InputError naming the file. Empty: none (in-cluster)."""
    if config_file is None:
        default = Path("~/.kube/config").expanduser()
        if not default.exists():
            return []
        paths = [str(default)]
    else:
        paths = [p for p in config_file.split(os.pathsep) if p]
        if not any(Path(p).expanduser().exists() for p in paths):
            raise InputError(f"{config_file}: no such kubeconfig file (from --kubeconfig or $KUBECONFIG)")
    for name in paths:
        path = Path(name).expanduser()
        if not path.exists():
            continue  # the client skips a missing file in a $KUBECONFIG list
        try:
            if path.is_dir():
                raise InputError(f"{name}: the kubeconfig is a folder, not a file")
            if path.stat().st_size > KUBECONFIG_MAX_BYTES:
                raise InputError(f"{name}: the kubeconfig is larger than 4 MiB")
            data = load_one(path.read_bytes().decode("utf-8"), name, as_json=False)
        except UnicodeDecodeError as e:
            raise InputError(f"{name}: the kubeconfig is not UTF-8 text") from e
        except OSError as e:
            raise InputError(f"{name}: cannot read the kubeconfig: {e.strerror or e}") from e
        if not isinstance(data, dict):
            raise InputError(f"{name}: not a kubeconfig (expected a mapping of clusters, contexts and users)")
        for key in ("clusters", "contexts", "users"):
            section = data.get(key)
            if section is not None and not (isinstance(section, list) and all(isinstance(x, dict) for x in section)):
                raise InputError(f"{name}: kubeconfig {key} must be a list of mappings")
        for key in ("current-context", "apiVersion", "kind"):
            if data.get(key) is not None and not isinstance(data.get(key), str):
                raise InputError(f"{name}: kubeconfig {key} must be a string")
    return paths


class LiveSource:
    """Reads one app's evidence from the cluster."""

    def __init__(
        self,
        api: Any,
        *,
        argocd_namespace: str = "argocd",
        tail: int = 500,
        timeout: float = 15.0,
        page: int = PAGE,
        concurrency: int = CONCURRENCY,
        cache: ClusterCache | None = None,
        log_sample: int = LOG_SAMPLE,
    ) -> None:
        if concurrency < 1:
            raise InputError(f"collection concurrency must be at least 1 (got {concurrency})")
        self.api = api
        self.page = page
        self.argocd_namespace = argocd_namespace
        self.tail = tail
        self.timeout = timeout
        self.concurrency = concurrency
        self.cache = cache
        self.log_sample = max(1, log_sample)
        self._lock = threading.Lock()
        self._groups: frozenset[str] | None = None
        self._discovered = False

    @classmethod
    def from_kubeconfig(
        cls,
        *,
        kubeconfig: Path | None = None,
        context: str | None = None,
        argocd_namespace: str = "argocd",
        tail: int = 500,
        timeout: float = 15.0,
        page: int = PAGE,
        concurrency: int = CONCURRENCY,
        cache: ClusterCache | None = None,
    ) -> LiveSource:
        cfg = k8s.Configuration()
        try:
            if kubeconfig is not None and not kubeconfig.exists():
                raise InputError(f"{kubeconfig}: kubeconfig does not exist")
            config_file = str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG") or None
            for path in check_kubeconfig(config_file):  # malformed: one line naming the file, never a crash
                try:
                    k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                        config_file=config_file, context=context, client_configuration=cfg
                    )
                except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
                    raise InputError(f"{path}: not a valid kubeconfig ({type(e).__name__})") from e
                break
            else:
                if context is not None:
                    raise InputError(f"--context {context}: no kubeconfig (~/.kube/config does not exist)")
                k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        except ConfigException as e:
            raise InputError(f"kubeconfig: {truncate(str(e), 200)}") from e
        cfg.connection_pool_maxsize = max(concurrency, 4)  # one kept-alive connection per worker
        return cls(
            k8s.ApiClient(cfg),
            argocd_namespace=argocd_namespace,
            tail=tail,
            timeout=timeout,
            page=page,
            concurrency=concurrency,
            cache=cache,
        )

    # ----- raw calls -----
    def _call(self, path: str, query: list[tuple[str, Any]], accept: str) -> bytes:
        """One GET through the client's own serialisation, auth and transport."""
        method, url, headers, _, _ = self.api.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": accept}, auth_settings=["BearerToken"]
        )
        resp = self.api.call_api(method, url, header_params=headers, _request_timeout=self.timeout)
        data: bytes = resp.read()
        if not 200 <= resp.status < 300:
            raise ApiException(http_resp=resp)
        return data

    def _get(self, path: str, query: list[tuple[str, Any]] | None = None, accept: str = "application/json") -> Any:
        return load_one(self._call(path, query or [], accept).decode("utf-8", "replace"), path, as_json=True)

    def _list(
        self,
        res: Resource,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """All items of a resource, following ``continue`` tokens; items get their kind back."""
        return self._list_with_version(res, namespace, label_selector=label_selector, field_selector=field_selector)[0]

    def _list_with_version(
        self,
        res: Resource,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Obj], str | None]:
        """The items and the list's resourceVersion (the point a watch starts from)."""
        items: list[Obj] = []
        token = None
        version: str | None = None
        for _ in range(10_000):
            query: list[tuple[str, Any]] = [("limit", self.page)]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if token:
                query.append(("continue", token))
            body = self._get(res.path(namespace), query, METADATA_LIST if res.metadata_only else "application/json")
            for it in body.get("items") or []:
                if isinstance(it, dict):
                    if res.metadata_only:  # items come as kind PartialObjectMetadata, meta.k8s.io/v1
                        it = {"kind": res.kind, "apiVersion": res.group_version, "metadata": it.get("metadata") or {}}
                    it.setdefault("kind", res.kind)
                    it.setdefault("apiVersion", res.group_version)
                    items.append(it)
            meta = body.get("metadata") or {}
            version = str(meta.get("resourceVersion") or "") or version
            token = meta.get("continue")
            if not token:
                break
        return items, version

    def _log(self, namespace: str, pod: str, container: str, previous: bool) -> list[str] | None:
        query: list[tuple[str, Any]] = [("container", container), ("tailLines", self.tail), ("limitBytes", 256 * 1024)]
        if previous:
            query.append(("previous", "true"))
        try:
            data = self._call(f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query, "text/plain")
        except ApiException as e:
            if e.status in (400, 404):
                return None  # no previous run, or the container has not started
            raise
        return data.decode("utf-8", errors="replace").splitlines()

    def applications(self) -> list[Obj]:
        """Every Application in the Argo CD namespace (to map alerts to apps)."""
        try:
            return self._list(APPLICATIONS, self.argocd_namespace)
        except Exception as e:
            raise _translate(e, f"list applications in {self.argocd_namespace}") from e

    def list_applications(self) -> tuple[list[Obj], str | None]:
        """The Applications and the resourceVersion to watch them from."""
        return self._list_with_version(APPLICATIONS, self.argocd_namespace)

    def watch_applications(self, resource_version: str | None, timeout_seconds: int) -> Iterator[tuple[str, Obj]]:
        """(event type, object) from a watch on the Applications, bookmarks included, until the server
        ends the watch. Raises WatchExpired when the resourceVersion is too old (410 Gone)."""
        return _watch(self, APPLICATIONS, resource_version, timeout_seconds, self.argocd_namespace)

    # ----- the evidence -----
    def load(self, app: str | None = None) -> Evidence:
        """The app's evidence in three dependency waves, each concurrent over a bounded pool:
        1. the Application (and API discovery, once per source); 2. the lists of the app's namespaces
        and the cluster kinds it needs (from ``cache`` when it has them); 3. per-object follow-ups:
        nodes and volumes by name, events by field selector, logs of the failing containers."""
        if app is None:
            raise InputError("a live cluster needs --app NAME")
        ev = Evidence()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="collect") as pool:
            discovery = pool.submit(self._served)
            app_path = f"{APPLICATIONS.path(self.argocd_namespace)}/{app}"
            try:
                application = self._get(app_path)
            except Exception as e:
                err = _translate(e, f"get application {self.argocd_namespace}/{app}")
                if isinstance(err, NotFoundError):
                    raise NotFoundError(f"application {app!r} not found in namespace {self.argocd_namespace}") from e
                raise err from e
            application.setdefault("kind", "Application")
            ev.add(clean_object(application), app_path)
            served = discovery.result()
            namespaces = {str((application.get("spec") or {}).get("destination", {}).get("namespace") or "")}
            for r in (application.get("status") or {}).get("resources") or []:
                if isinstance(r, dict) and r.get("namespace"):
                    namespaces.add(str(r["namespace"]))
            namespaces.discard("")
            tracked = {
                str(r.get("kind"))
                for r in (application.get("status") or {}).get("resources") or []
                if isinstance(r, dict) and r.get("kind")
            }
            # wave 2: lists (Nodes, PVs and Events come in wave 3, by name or field selector)
            jobs: list[tuple[Resource, str | None, str | None]] = []
            cached: list[tuple[Resource, list[Obj]]] = []
            for res in CLUSTER:
                if res.kind in BY_NAME | LATE or not self._serves(served, res) or not _needed(res, tracked):
                    continue
                hit = self.cache.cached(res.kind) if self.cache is not None else None
                if hit is not None:
                    cached.append((res, hit))
                else:
                    jobs.append((res, None, None))
            selector: str | None = f"{INSTANCE_LABEL}={app}"
            for ns in sorted(namespaces):
                for res in NAMESPACED:
                    if res.kind != "Event" and self._serves(served, res) and _needed(res, tracked):
                        jobs.append((res, ns, selector if res.kind in SELECTED else None))
            lists = list(pool.map(lambda j: self._fetch_list(*j), jobs))
            for (res, where, _), got in zip(jobs, lists, strict=True):
                self._add_list(ev, res, where, got)
            for res, items in cached:
                self._add_list(ev, res, None, ([dict(o) for o in items], None))
            apply_scope(ev, app)
            # fallback: the label found the app's workloads but not all their pods (or ReplicaSets):
            # those are admitted by owner reference or the tracking annotation, so list them whole
            whole = [(res, where, None) for res, where, sel in jobs if sel and _incomplete(ev, res.kind)]
            for (res, where, _), got in zip(whole, pool.map(lambda j: self._fetch_list(*j), whole), strict=True):
                self._add_list(ev, res, where, got)
            if whole:
                apply_scope(ev, app)
            # wave 3: follow-ups named by the scoped objects
            log_tasks = self._log_tasks(ev)
            tasks = [
                *self._late_tasks(ev, served, application),
                *self._by_name_tasks(ev, served),
                *self._event_tasks(ev, namespaces),
                *log_tasks,
            ]
            for add in pool.map(lambda t: t(), tasks):
                add(ev)
        apply_scope(ev, app)
        return ev

    # discovery
    def _served(self) -> frozenset[str] | None:
        """The group/versions the cluster serves (``/apis``; core ``v1`` always), once per source;
        None when discovery itself fails (then every kind is tried)."""
        with self._lock:
            if self._discovered:
                return self._groups
        try:
            body = self._get("/apis")
            groups = {"v1"}
            for g in body.get("groups") or []:
                for v in (g.get("versions") or []) if isinstance(g, dict) else []:
                    if isinstance(v, dict) and v.get("groupVersion"):
                        groups.add(str(v["groupVersion"]))
            found: frozenset[str] | None = frozenset(groups)
        except Exception:  # discovery is an optimisation: without it, every list is tried
            found = None
        with self._lock:
            self._groups, self._discovered = found, True
        return found

    @staticmethod
    def _serves(served: frozenset[str] | None, res: Resource) -> bool:
        return served is None or res.group_version in served

    def load_cluster(self, troubled: Callable[[Obj], bool], max_log_pods: int) -> tuple[Evidence, list[Obj]]:
        """The whole cluster in one concurrent pass (``remediator scan``): every kind the cluster
        serves listed once across all namespaces, then the current and previous logs of the first
        ``max_log_pods`` pods ``troubled`` picks. Returns the evidence and the Applications (none
        when Argo CD is not installed: the scan goes by namespace)."""
        ev = Evidence()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="scan") as pool:
            discovery = pool.submit(self._served)
            apps_job = pool.submit(self._fetch_list, APPLICATIONS, self.argocd_namespace, None)
            served = discovery.result()
            jobs = [res for res in CLUSTER + NAMESPACED if self._serves(served, res)]
            for res, got in zip(jobs, pool.map(lambda r: self._fetch_list(r, None, None), jobs), strict=True):
                self._add_list(ev, res, None, got)
            found = apps_job.result()
            apps = [] if isinstance(found, Exception) else [clean_object(a) for a in found[0]]
            for a in apps:
                a.setdefault("kind", "Application")
                ev.add(a, APPLICATIONS.path(self.argocd_namespace))
            picked = [p for p in ev.all("Pod") if troubled(p)][:max_log_pods]
            tasks = [
                partial(self._log_of, ref_of(pod), str(c.get("name")), previous)
                for pod in picked
                for c in (pod.get("spec") or {}).get("containers") or []
                if isinstance(c, dict)
                for previous in (False, True)
            ]
            for add in pool.map(lambda t: t(), tasks):
                add(ev)
        return ev, apps

    # wave 2
    def _fetch_list(
        self, res: Resource, namespace: str | None, selector: str | None
    ) -> tuple[list[Obj], str | None] | Exception:
        """A list (label-selected first for the bulky kinds, the whole list when the selector finds
        nothing: objects tracked by annotation or owner only); an error is returned, not raised."""
        what = f"list {res.plural}" + (f" in {namespace}" if namespace else "")
        try:
            if selector:
                items = self._list(res, namespace, label_selector=selector)
                if items:
                    return items, what
            return self._list(res, namespace), what
        except Exception as e:
            return _translate(e, what)

    def _add_list(
        self, ev: Evidence, res: Resource, namespace: str | None, got: tuple[list[Obj], str | None] | Exception
    ) -> None:
        if isinstance(got, Exception):
            if not isinstance(got, NotFoundError):  # an absent CRD is not worth a warning
                ev.errors.append(str(got))
            return
        items, _ = got
        what = f"list {res.plural}" + (f" in {namespace}" if namespace else "")
        for it in items:
            it.setdefault("kind", res.kind)
            it.setdefault("apiVersion", res.group_version)
        for obj in iter_objects(
            {"kind": f"{res.kind}List", "apiVersion": res.group_version, "items": items}, what, ev.errors
        ):
            add_object(ev, obj, res.path(namespace))  # Secrets lose their values there (sanitize.clean_object)

    # wave 3
    def _late_tasks(self, ev: Evidence, served: frozenset[str] | None, application: Obj) -> list[Callable[[], Adder]]:
        """The cluster kinds that only explain some failures, listed when the app's objects show one:
        PriorityClasses and admission webhooks when a workload is short of pods, a pod is Pending or
        (webhooks) the Application's status names one; StorageClasses when the app has claims."""
        pods = ev.scoped("Pod")
        short = bool(_missing_pods(ev)) or any(
            _short(o) for kind in ("ReplicaSet", "StatefulSet", "DaemonSet", "Deployment", "Job")
            for o in ev.scoped(kind)
        )  # fmt: skip
        pending = any((p.get("status") or {}).get("phase") == "Pending" for p in pods)
        priority = any(
            (o.get("spec") or {}).get("priorityClassName") or dig(o, "spec", "template", "spec", "priorityClassName")
            for kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")
            for o in ev.scoped(kind)
        )
        webhook = "webhook" in json.dumps(application.get("status") or {}).lower()
        claims = bool(ev.scoped("PersistentVolumeClaim")) or bool(ev.scoped("StatefulSet"))
        want = {
            "PriorityClass": short or pending or bool(priority),
            "ValidatingWebhookConfiguration": short or webhook,
            "MutatingWebhookConfiguration": short or webhook,
            "StorageClass": claims,
        }
        tasks: list[Callable[[], Adder]] = []
        for res in CLUSTER:
            if not want.get(res.kind) or not self._serves(served, res):
                continue
            hit = self.cache.cached(res.kind) if self.cache is not None else None
            if hit is not None:
                tasks.append(partial(self._adder, res, [dict(o) for o in hit]))
            else:
                tasks.append(partial(self._late_list, res))
        return tasks

    def _late_list(self, res: Resource) -> Adder:
        got = self._fetch_list(res, None, None)
        return lambda ev: self._add_list(ev, res, None, got)

    def _by_name_tasks(self, ev: Evidence, served: frozenset[str] | None) -> list[Callable[[], Adder]]:
        """Nodes of the app's pods and volumes of the app's claims, by name (or from the cache)."""
        want: dict[str, set[str]] = {"Node": set(), "PersistentVolume": set()}
        failing = self._failing_pods(ev)
        for pod in ev.scoped("Pod"):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and ref_of(pod) in failing:  # a healthy pod's node explains nothing
                want["Node"].add(str(node))
        for claim in ev.scoped("PersistentVolumeClaim"):
            vol = (claim.get("spec") or {}).get("volumeName")
            if vol:
                want["PersistentVolume"].add(str(vol))
        tasks: list[Callable[[], Adder]] = []
        for res in CLUSTER:
            names = want.get(res.kind)
            if not names:
                continue
            hit = self.cache.cached(res.kind) if self.cache is not None else None
            if hit is not None:
                items = [dict(o) for o in hit if str((o.get("metadata") or {}).get("name")) in names]
                tasks.append(partial(self._adder, res, items))
                continue
            for name in sorted(names):
                tasks.append(partial(self._get_one, res, name))
        return tasks

    def _adder(self, res: Resource, items: list[Obj]) -> Adder:
        return lambda ev: self._add_list(ev, res, None, (items, None))

    def _get_one(self, res: Resource, name: str) -> Adder:
        path = f"{res.path(None)}/{name}"
        try:
            obj = self._get(path)
        except Exception as e:
            err = _translate(e, f"get {res.plural}/{name}")
            return lambda ev: None if isinstance(err, NotFoundError) else ev.errors.append(str(err))
        return lambda ev: self._add_list(ev, res, None, ([obj], None))

    def _event_tasks(self, ev: Evidence, namespaces: set[str]) -> list[Callable[[], Adder]]:
        """Events of the app's failing objects, one field-selected list per (namespace, name);
        never a whole namespace's events."""
        names: set[tuple[str, str]] = set()
        pods = self._failing_pods(ev)
        missing = _missing_pods(ev)
        for ref in sorted(ev.focus or ()):
            if ref.namespace not in namespaces or ref.kind in QUIET_KINDS:
                continue
            obj = ev.get_ref(ref)
            if obj is None:
                continue
            if ref.kind == "Pod" and ref not in pods:
                continue
            if ref.kind != "Pod" and ref not in missing and not _troubled(obj):
                continue
            names.add((ref.namespace, ref.name))
        events = next(r for r in NAMESPACED if r.kind == "Event")
        return [partial(self._events_of, events, ns, name) for ns, name in sorted(names)]

    def _events_of(self, res: Resource, namespace: str, name: str) -> Adder:
        what = f"list events of {namespace}/{name}"
        try:
            items = self._list(res, namespace, field_selector=f"involvedObject.name={name}")
        except Exception as e:
            err = _translate(e, what)
            return lambda ev: ev.errors.append(str(err))
        return lambda ev: self._add_list(ev, res, namespace, (items, None))

    def _failing_pods(self, ev: Evidence, sample: bool = True) -> set[ObjectRef]:
        """The app's pods that are not healthy, ``log_sample`` per owner and way of failing."""
        groups: dict[tuple[Any, ...], list[ObjectRef]] = {}
        for pod in sorted(ev.scoped("Pod"), key=lambda p: str((p.get("metadata") or {}).get("name"))):
            h = pod_health(pod)
            st = pod.get("status") or {}
            restarted = any(
                int(cs.get("restartCount") or 0) > 0 or (cs.get("lastState") or {}).get("terminated")
                for key in ("initContainerStatuses", "containerStatuses")
                for cs in st.get(key) or []
                if isinstance(cs, dict)
            )
            if h.status == Health.HEALTHY and not restarted:
                continue
            sig = (
                _owner_key(pod),
                h.status,
                h.message,
                st.get("phase"),
                st.get("reason"),
                tuple(
                    (c.get("type"), c.get("status"), c.get("reason"))
                    for c in st.get("conditions") or []
                    if isinstance(c, dict)
                ),
                tuple(
                    _state_sig(cs)
                    for key in ("initContainerStatuses", "containerStatuses")
                    for cs in st.get(key) or []
                    if isinstance(cs, dict)
                ),
            )
            groups.setdefault(sig, []).append(ref_of(pod))
        return {ref for members in groups.values() for ref in (members[: self.log_sample] if sample else members)}

    def _log_tasks(self, ev: Evidence) -> list[Callable[[], Adder]]:
        """Previous logs of the containers that restarted or have a terminated last state; current
        logs of those and of the containers that are not ready. Pods failing the same way under one
        owner are sampled (``log_sample`` each); with nothing failing, one ready container per workload."""
        groups: dict[tuple[Any, ...], list[tuple[Obj, list[tuple[str, bool]]]]] = {}
        healthy: dict[str, tuple[Obj, str]] = {}
        for pod in sorted(ev.scoped("Pod"), key=lambda p: str((p.get("metadata") or {}).get("name"))):
            spec = pod.get("spec") or {}
            statuses = {
                str(cs.get("name")): cs
                for key in ("initContainerStatuses", "containerStatuses")
                for cs in (pod.get("status") or {}).get(key) or []
                if isinstance(cs, dict)
            }
            wanted: list[tuple[str, bool]] = []
            sig: list[Any] = []
            for key in ("initContainers", "containers"):
                for c in spec.get(key) or []:
                    if not isinstance(c, dict):
                        continue
                    name = str(c.get("name"))
                    cs = statuses.get(name)
                    if cs is None:
                        continue  # never started: no log to read
                    restarted = int(cs.get("restartCount") or 0) > 0 or bool(
                        (cs.get("lastState") or {}).get("terminated")
                    )
                    done = (cs.get("state") or {}).get("terminated") or {}
                    ok_init = key == "initContainers" and done.get("exitCode") == 0
                    failing = restarted or (not cs.get("ready") and not ok_init)
                    if failing:
                        wanted.append((name, False))
                        if restarted:
                            wanted.append((name, True))
                        sig.append((name, _state_sig(cs)))
                    elif key == "containers" and cs.get("ready"):
                        owner = _owner_key(pod)
                        healthy.setdefault(owner, (pod, name))
            if wanted:
                groups.setdefault((_owner_key(pod), tuple(sig)), []).append((pod, wanted))
        picked: list[tuple[Obj, list[tuple[str, bool]]]] = []
        for members in groups.values():
            picked += members[: self.log_sample]
        if not picked:
            picked = [(pod, [(name, False)]) for pod, name in healthy.values()]
        tasks: list[Callable[[], Adder]] = []
        for pod, wanted in picked:
            ref = ref_of(pod)
            for cname, previous in wanted:
                tasks.append(partial(self._log_of, ref, cname, previous))
        return tasks

    def _log_of(self, ref: ObjectRef, cname: str, previous: bool) -> Adder:
        suffix = ".previous.log" if previous else ".log"
        path = f"logs/{ref.namespace}/{ref.name}/{cname}{suffix}"
        try:
            lines = self._log(ref.namespace, ref.name, cname, previous)
        except Exception as e:
            err = _translate(e, f"read log {path}")
            return lambda ev: ev.errors.append(str(err))
        if lines is None:
            return lambda ev: None
        log = LogFile(ref.namespace, ref.name, cname, previous, path, lines)
        return lambda ev: ev.add_log(log)


Adder = Callable[[Evidence], None]
# The bulky namespaced kinds listed by the app's instance label first (shared namespaces).
SELECTED = frozenset({"Pod", "ReplicaSet"})
# Cluster kinds read by name in wave 3, never listed.
BY_NAME = frozenset({"Node", "PersistentVolume"})
# Cluster kinds listed in wave 3, only when the app's objects show a failure they explain.
LATE = frozenset({"PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "StorageClass"})
# Kinds whose events carry nothing the detectors read.
QUIET_KINDS = frozenset(
    {"ConfigMap", "Secret", "ServiceAccount", "Endpoints", "EndpointSlice", "Role", "RoleBinding", "ClusterRole",
     "ClusterRoleBinding", "ResourceQuota", "LimitRange", "NetworkPolicy", "Node", "PersistentVolume",
     "StorageClass", "Application"}
)  # fmt: skip


# Kinds listed only when the Application tracks one of the kinds named (no tracked resources: all listed).
ONLY_IF_TRACKED = {
    "StatefulSet": {"StatefulSet"},
    "DaemonSet": {"DaemonSet"},
    "Job": {"Job", "CronJob"},
    "CronJob": {"CronJob"},
    "Ingress": {"Ingress"},
    "IngressClass": {"Ingress"},
    "HorizontalPodAutoscaler": {"HorizontalPodAutoscaler"},
    "Endpoints": {"Service", "Ingress"},
    "EndpointSlice": {"Service", "Ingress"},
}


def _needed(res: Resource, tracked: set[str]) -> bool:
    kinds = ONLY_IF_TRACKED.get(res.kind)
    return not tracked or kinds is None or bool(kinds & tracked)


def _incomplete(ev: Evidence, kind: str) -> bool:
    """After label-selected lists: the app's ReplicaSets miss pods, or its Deployments miss ReplicaSets."""
    if kind == "Pod":
        return bool(_missing_pods(ev))
    if kind == "ReplicaSet":
        owners = {
            str(o.get("name"))
            for rs in ev.scoped("ReplicaSet")
            for o in (rs.get("metadata") or {}).get("ownerReferences") or []
            if isinstance(o, dict)
        }
        return any(
            (d.get("status") or {}).get("replicas") and str((d.get("metadata") or {}).get("name")) not in owners
            for d in ev.scoped("Deployment")
        )
    return False


def _missing_pods(ev: Evidence) -> set[ObjectRef]:
    """The app's ReplicaSets with fewer pods in the evidence than they want: pods they could not create."""
    owned: dict[ObjectRef, int] = {}
    for pod in ev.scoped("Pod"):
        for o in (pod.get("metadata") or {}).get("ownerReferences") or []:
            if isinstance(o, dict) and o.get("kind") == "ReplicaSet":
                key = ObjectRef("ReplicaSet", ref_of(pod).namespace, str(o.get("name")))
                owned[key] = owned.get(key, 0) + 1
    out = set()
    for rs in ev.scoped("ReplicaSet"):
        want = (rs.get("spec") or {}).get("replicas")
        if isinstance(want, int) and want > owned.get(ref_of(rs), 0):
            out.add(ref_of(rs))
    return out


def _short(obj: Obj) -> bool:
    """A workload with fewer pods than it wants, or a failure condition (pods it could not create)."""
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", st.get("desiredNumberScheduled"))
    have = st.get("replicas", st.get("currentNumberScheduled")) or 0
    failed = any(
        isinstance(c, dict)
        and (
            (c.get("status") == "True" and c.get("type") in ("ReplicaFailure", "Failed"))
            or (c.get("type") == "Progressing" and c.get("status") == "False")
        )
        for c in st.get("conditions") or []
    )
    return failed or (isinstance(want, int) and want > have)


def _troubled(obj: Obj) -> bool:
    """A non-pod object whose events can explain something: not healthy, or a ReplicaSet short of pods."""
    if obj.get("kind") == "ReplicaSet":  # its events say why pods were not created: only then worth reading
        return _short(obj)
    h = health_of(obj)
    if h is not None:
        return h.status != Health.HEALTHY
    if obj.get("kind") == "ReplicaSet":
        return _short(obj)
    return True


def _owner_key(pod: Obj) -> str:
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    first = owners[0] if owners and isinstance(owners[0], dict) else {}
    return f"{first.get('kind')}/{first.get('name')}" if first else f"Pod/{(pod.get('metadata') or {}).get('name')}"


def _state_sig(cs: dict[str, Any]) -> tuple[Any, ...]:
    """How a container fails: waiting reason, last exit code and reason."""
    waiting = (cs.get("state") or {}).get("waiting") or {}
    last = (cs.get("lastState") or {}).get("terminated") or (cs.get("state") or {}).get("terminated") or {}
    return (waiting.get("reason"), waiting.get("message"), last.get("exitCode"), last.get("reason"), cs.get("image"))


# ----- what the collector reads (for the ClusterRole and ``remediator doctor``) -----


@dataclass(frozen=True)
class Read:
    """One kind of request the collector makes: an RBAC (apiGroup, resource, verb)."""

    group: str
    resource: str  # "pods/log" for a subresource
    verb: str


def _group(group_version: str) -> str:
    return group_version.rsplit("/", 1)[0] if "/" in group_version else ""


def collector_reads() -> list[Read]:
    """Every request the collector makes, as RBAC rules: a list of each Resource table entry, the
    Application get/list/watch (load, alert mapping, ``serve --watch``) and pod logs."""
    reads = [Read(_group(r.group_version), r.plural, "list") for r in [*CLUSTER, *NAMESPACED]]
    apps = _group(APPLICATIONS.group_version)
    reads += [Read(apps, APPLICATIONS.plural, v) for v in ("get", "list", "watch")]
    reads.append(Read("", "pods/log", "get"))
    reads += [Read(_group(r.group_version), r.plural, "get") for r in CLUSTER if r.kind in BY_NAME]
    return reads


def access_reviews(source: LiveSource, reads: list[Read]) -> list[Read]:
    """The reads a ``SelfSubjectAccessReview`` (cluster-wide) says the caller may NOT make."""
    authz = k8s.AuthorizationV1Api(source.api)
    denied: list[Read] = []
    for r in reads:
        resource, _, sub = r.resource.partition("/")
        body = k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=k8s.V1ResourceAttributes(
                    group=r.group, resource=resource, subresource=sub or None, verb=r.verb
                )
            )
        )
        try:
            review = authz.create_self_subject_access_review(body, _request_timeout=source.timeout)
        except Exception as e:
            raise _translate(e, f"SelfSubjectAccessReview {r.verb} {r.resource}") from e
        if not (review.status is not None and review.status.allowed):
            denied.append(r)
    return denied


# ----- generic list + watch (the service's watch-based cache, evidence/sources/informer.py) -----
def _resource(kind: str) -> Resource:
    for res in [*CLUSTER, *NAMESPACED]:
        if res.kind == kind:
            return res
    raise InputError(f"no resource table entry for kind {kind!r}")


def list_with_version(source: LiveSource, kind: str, namespace: str | None = None) -> tuple[list[Obj], str | None]:
    """Every object of a kind (cluster-wide or in ``namespace``) and the list's resourceVersion."""
    try:
        return source._list_with_version(_resource(kind), namespace)
    except InputError:
        raise
    except Exception as e:
        raise _translate(e, f"list {kind}") from e


def watch(
    source: LiveSource, kind: str, resource_version: str | None, timeout_seconds: int, namespace: str | None = None
) -> Iterator[tuple[str, Obj]]:
    """(event type, object) from a watch on a kind, bookmarks included, until the server ends it.
    Raises WatchExpired on 410 Gone, a translated error on any other failure."""
    return _watch(source, _resource(kind), resource_version, timeout_seconds, namespace)


def _watch(
    source: LiveSource, res: Resource, resource_version: str | None, timeout_seconds: int, namespace: str | None
) -> Iterator[tuple[str, Obj]]:
    kind = res.plural
    query: list[tuple[str, Any]] = [
        ("watch", "true"),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", timeout_seconds),
    ]
    if resource_version:
        query.append(("resourceVersion", resource_version))
    try:
        method, url, headers, _, _ = source.api.param_serialize(
            "GET", res.path(namespace), query_params=query,
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
        )  # fmt: skip
        resp = source.api.call_api(method, url, header_params=headers, _request_timeout=(10, timeout_seconds + 10))
    except Exception as e:
        raise _translate(e, f"watch {kind}") from e
    if resp.status == 410:
        raise WatchExpired(resource_version)
    if not 200 <= resp.status < 300:
        raise _translate(ApiException(http_resp=resp), f"watch {kind}")
    raw = resp.response
    try:
        for line in raw:
            if not line.strip():
                continue
            event = load_one(
                line.decode("utf-8", "replace") if isinstance(line, bytes) else line, "watch", as_json=True
            )
            obj = event.get("object") or {}
            if event.get("type") == "ERROR":
                if obj.get("code") == 410:
                    raise WatchExpired(resource_version)
                raise TemporaryError(f"watch {kind}: {truncate(str(obj.get('message') or obj), 160)}")
            yield str(event.get("type")), obj
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise _translate(e, f"watch {kind}") from e
    finally:
        raw.release_conn()
