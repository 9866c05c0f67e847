"""Evidence from a live cluster through the official ``kubernetes`` client (kubeconfig or in-cluster).

Read-only: GET and LIST only. The only module that imports the kubernetes client; its
exceptions become ours here. A list the cluster refuses (403) or that times out is recorded
in ``errors`` and the rest of the evidence is still collected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediator.errors import (
    ForbiddenError,
    InputError,
    NotFoundError,
    PermanentError,
    TemporaryError,
    truncate,
)
from remediator.evidence.sanitize import clean_object
from remediator.evidence.scope import apply_scope
from remediator.evidence.sources.snapshot import add_object, iter_objects
from remediator.evidence.store import Evidence, LogFile, Obj, ref_of
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
        self, api: Any, *, argocd_namespace: str = "argocd", tail: int = 500, timeout: float = 15.0, page: int = PAGE
    ) -> None:
        self.api = api
        self.page = page
        self.argocd_namespace = argocd_namespace
        self.tail = tail
        self.timeout = timeout

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
        return cls(k8s.ApiClient(cfg), argocd_namespace=argocd_namespace, tail=tail, timeout=timeout, page=page)

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

    def _list(self, res: Resource, namespace: str | None) -> list[Obj]:
        """All items of a resource, following ``continue`` tokens; items get their kind back."""
        return self._list_with_version(res, namespace)[0]

    def _list_with_version(self, res: Resource, namespace: str | None) -> tuple[list[Obj], str | None]:
        """The items and the list's resourceVersion (the point a watch starts from)."""
        items: list[Obj] = []
        token = None
        version: str | None = None
        for _ in range(10_000):
            query: list[tuple[str, Any]] = [("limit", self.page)]
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
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout_seconds),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        method, url, headers, _, _ = self.api.param_serialize(
            "GET", APPLICATIONS.path(self.argocd_namespace), query_params=query,
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
        )  # fmt: skip
        resp = self.api.call_api(method, url, header_params=headers, _request_timeout=(10, timeout_seconds + 10))
        if resp.status == 410:
            raise WatchExpired(resource_version)
        if not 200 <= resp.status < 300:
            raise ApiException(http_resp=resp)
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
                    raise RuntimeError(f"watch applications: {obj.get('message') or obj}")
                yield str(event.get("type")), obj
        finally:
            raw.release_conn()

    # ----- the evidence -----
    def load(self, app: str | None = None) -> Evidence:
        if app is None:
            raise InputError("a live cluster needs --app NAME")
        ev = Evidence()
        try:
            application = self._get(f"{APPLICATIONS.path(self.argocd_namespace)}/{app}")
        except Exception as e:
            err = _translate(e, f"get application {self.argocd_namespace}/{app}")
            if isinstance(err, NotFoundError):
                raise NotFoundError(f"application {app!r} not found in namespace {self.argocd_namespace}") from e
            raise err from e
        application.setdefault("kind", "Application")
        ev.add(clean_object(application), f"{APPLICATIONS.path(self.argocd_namespace)}/{app}")
        namespaces = {str((application.get("spec") or {}).get("destination", {}).get("namespace") or "")}
        for r in (application.get("status") or {}).get("resources") or []:
            if isinstance(r, dict) and r.get("namespace"):
                namespaces.add(str(r["namespace"]))
        namespaces.discard("")
        for res in CLUSTER:
            self._collect(ev, res, None)
        for ns in sorted(namespaces):
            for res in NAMESPACED:
                self._collect(ev, res, ns)
        apply_scope(ev, app)
        self._collect_logs(ev)
        return ev

    def _collect(self, ev: Evidence, res: Resource, namespace: str | None) -> None:
        what = f"list {res.plural}" + (f" in {namespace}" if namespace else "")
        try:
            items = self._list(res, namespace)
        except Exception as e:
            err = _translate(e, what)
            if not isinstance(err, NotFoundError):  # an absent CRD is not worth a warning
                ev.errors.append(str(err))
            return
        for obj in iter_objects(
            {"kind": f"{res.kind}List", "apiVersion": res.group_version, "items": items}, what, ev.errors
        ):
            add_object(ev, obj, res.path(namespace))  # Secrets lose their values there (sanitize.clean_object)

    def _collect_logs(self, ev: Evidence) -> None:
        for pod in ev.scoped("Pod"):
            ref = ref_of(pod)
            spec = pod.get("spec") or {}
            names = [
                str(c.get("name"))
                for key in ("initContainers", "containers")
                for c in spec.get(key) or []
                if isinstance(c, dict)
            ]
            for cname in names:
                for previous in (False, True):
                    suffix = ".previous.log" if previous else ".log"
                    path = f"logs/{ref.namespace}/{ref.name}/{cname}{suffix}"
                    try:
                        lines = self._log(ref.namespace, ref.name, cname, previous)
                    except Exception as e:
                        ev.errors.append(str(_translate(e, f"read log {path}")))
                        continue
                    if lines is not None:
                        ev.add_log(LogFile(ref.namespace, ref.name, cname, previous, path, lines))
