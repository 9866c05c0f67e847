"""A FAKE Kubernetes API server on 127.0.0.1 that answers the real REST paths from a snapshot.

The real ``kubernetes`` client talks HTTP to it. It pages lists (``limit``/``continue``),
serves pod logs (``previous``, ``tailLines``), can refuse chosen paths with 403 or delay them,
and records every request so tests can assert nothing unexpected was asked.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from remediator.evidence.sanitize import clean_object
from remediator.evidence.sources.snapshot import add_object, load_snapshot
from remediator.evidence.store import Evidence, LogFile
from remediator.model import ObjectRef
from tests.fakes.loopback import LoopbackServer

# kind -> (group/version, plural): the real REST names, written out here independently.
KINDS = {
    "Pod": ("v1", "pods"),
    "Service": ("v1", "services"),
    "Endpoints": ("v1", "endpoints"),
    "ConfigMap": ("v1", "configmaps"),
    "Secret": ("v1", "secrets"),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims"),
    "ServiceAccount": ("v1", "serviceaccounts"),
    "ResourceQuota": ("v1", "resourcequotas"),
    "LimitRange": ("v1", "limitranges"),
    "Event": ("v1", "events"),
    "Node": ("v1", "nodes"),
    "PersistentVolume": ("v1", "persistentvolumes"),
    "Deployment": ("apps/v1", "deployments"),
    "ReplicaSet": ("apps/v1", "replicasets"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "DaemonSet": ("apps/v1", "daemonsets"),
    "Job": ("batch/v1", "jobs"),
    "CronJob": ("batch/v1", "cronjobs"),
    "Ingress": ("networking.k8s.io/v1", "ingresses"),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies"),
    "IngressClass": ("networking.k8s.io/v1", "ingressclasses"),
    "EndpointSlice": ("discovery.k8s.io/v1", "endpointslices"),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers"),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
    "Role": ("rbac.authorization.k8s.io/v1", "roles"),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", "clusterrolebindings"),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", "clusterroles"),
    "StorageClass": ("storage.k8s.io/v1", "storageclasses"),
    "PriorityClass": ("scheduling.k8s.io/v1", "priorityclasses"),
    "ValidatingWebhookConfiguration": ("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations"),
    "MutatingWebhookConfiguration": ("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations"),
    "ExternalSecret": ("external-secrets.io/v1beta1", "externalsecrets"),
    "SecretStore": ("external-secrets.io/v1beta1", "secretstores"),
    "ClusterSecretStore": ("external-secrets.io/v1beta1", "clustersecretstores"),
    "Application": ("argoproj.io/v1alpha1", "applications"),
}
# API groups every cluster serves; the other groups in KINDS (CRDs) are served only when the snapshot has their kinds.
BUILTIN = {"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "discovery.k8s.io/v1", "autoscaling/v2",
           "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1", "scheduling.k8s.io/v1",
           "admissionregistration.k8s.io/v1", "argoproj.io/v1alpha1", "authorization.k8s.io/v1"}  # fmt: skip


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the listen backlog: many concurrent clients connect at once
    daemon_threads = True


def _label_match(selector: str, lab: dict[str, Any]) -> bool:
    """Equality-based label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, comma = AND."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if lab.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if lab.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in lab:
                return False
        elif term not in lab:
            return False
    return True


def _field(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def _field_match(selector: str, obj: dict[str, Any]) -> bool:
    """Field selectors: ``involvedObject.uid=``, ``involvedObject.name=``, ``metadata.name=``… (``=``, ``!=``)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        neg = "!=" in term
        k, v = term.replace("==", "=").split("!=" if neg else "=", 1)
        if (_field(obj, k) == v) == neg:
            return False
    return True


PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<gv>[^/]+/[^/]+))(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>log))?$"
)


class FakeKubeAPI(LoopbackServer):
    def __init__(
        self,
        snapshot: Path | None,
        *,
        forbid: tuple[str, ...] = (),
        delay: dict[str, float] | None = None,
        latency: float = 0.0,
        objects: list[dict[str, Any]] | None = None,
    ) -> None:
        """``snapshot`` (or ``objects``: raw API objects with kind, events and all) is what the server holds;
        ``latency`` seconds are added to every request (benchmarks)."""
        ev = load_snapshot(snapshot) if snapshot is not None else None
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        by_plural = {(gv, plural): kind for kind, (gv, plural) in KINDS.items()}
        self.kind_of = by_plural
        for ref in ev.refs() if ev is not None else ():
            obj = ev.get_ref(ref)  # type: ignore[union-attr]
            if obj is not None and ref.kind in KINDS:
                self.objects.setdefault((ref.kind, ref.namespace), []).append(obj)
        for raw in objects or []:
            ns = str((raw.get("metadata") or {}).get("namespace") or "")
            self.objects.setdefault((str(raw["kind"]), ns), []).append(raw)
        uids = {
            (k, ns, str(o["metadata"].get("name"))): str(o["metadata"].get("uid") or "")
            for (k, ns), objs in self.objects.items()
            for o in objs
        }
        for e in ev.all_events() if ev is not None else ():
            inv = e.involved
            self.objects.setdefault(("Event", e.involved.namespace), []).append(
                {
                    "metadata": {"name": f"{e.involved.name}.ev", "namespace": e.involved.namespace},
                    "involvedObject": {
                        "kind": e.involved.kind,
                        "name": e.involved.name,
                        "namespace": e.involved.namespace,
                        "uid": uids.get((inv.kind, inv.namespace, inv.name), ""),
                    },
                    "reason": e.reason,
                    "message": e.message,
                    "type": e.type,
                    "count": e.count,
                }
            )
        self.logs = {(lg.namespace, lg.pod, lg.container, lg.previous): lg.lines for lg in ev.all_logs()} if ev else {}
        self.forbid = forbid
        self.delay = delay or {}
        self.latency = latency
        self.groups = BUILTIN | {KINDS[k][0] for k, _ in self.objects}
        self.bytes_sent = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.requests: list[str] = []
        self.unexpected: list[str] = []
        # watch: events handed to the next ?watch=true request, resource versions answered with 410 Gone
        self.watch_events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self.expired: set[str] = set()
        self.list_version = "1000"
        # SelfSubjectAccessReview: (group, resource or resource/subresource, verb) answered allowed: false
        self.denied: set[tuple[str, str, str]] = set()
        self.reviews: list[tuple[str, str, str]] = []
        self._serve(self._handler())

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_sent = 0
            self.max_in_flight = 0

    def _discovery(self, path: str) -> dict[str, Any] | None:
        """``/api``, ``/apis`` and ``/apis/<g>/<v>``: what the cluster serves (CRD groups only when present)."""
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups = sorted({gv.split("/")[0] for gv in self.groups if "/" in gv})
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": gv, "version": gv.split("/")[1]} for gv in sorted(self.groups)
                                     if gv.startswith(g + "/")],
                    }
                    for g in groups
                ],
            }  # fmt: skip
        gv = path.removeprefix("/apis/") if path.startswith("/apis/") else ("v1" if path == "/api/v1" else "")
        if gv in self.groups and gv.count("/") <= 1 and (gv == "v1" or path.count("/") == 3):
            resources = [{"name": plural, "kind": k, "verbs": ["get", "list", "watch"]}
                         for k, (g, plural) in KINDS.items() if g == gv]  # fmt: skip
            return {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}
        return None

    def sequential_evidence(self, app: str, argocd_namespace: str = "argocd") -> Evidence:
        """What the sequential collector (before issue 18) read from this server, built from the served
        objects directly: every list of its tables in the app's namespaces (events included), every
        cluster kind, and both logs of every container of the app's pods that the server has."""
        from remediator.evidence.scope import apply_scope
        from remediator.evidence.sources.live import CLUSTER, NAMESPACED

        application = next(o for o in self.objects.get(("Application", argocd_namespace), [])
                           if o["metadata"]["name"] == app)  # fmt: skip
        namespaces = {str((application.get("spec") or {}).get("destination", {}).get("namespace") or "")}
        namespaces |= {str(r["namespace"]) for r in (application.get("status") or {}).get("resources") or []
                       if isinstance(r, dict) and r.get("namespace")}  # fmt: skip
        ev = Evidence()
        ev.add(clean_object(json.loads(json.dumps({"kind": "Application", **application}))), "app")
        wanted = {r.kind for r in CLUSTER} | {r.kind for r in NAMESPACED}
        for (kind, ns), objs in sorted(self.objects.items()):
            if kind not in wanted or (ns and ns not in namespaces) or KINDS[kind][0] not in self.groups:
                continue
            for obj in objs:
                add_object(ev, json.loads(json.dumps({"kind": kind, "apiVersion": KINDS[kind][0], **obj})), kind)
        apply_scope(ev, app)
        for (ns, pod, container, previous), lines in self.logs.items():
            if ev.in_focus(ObjectRef("Pod", ns, pod)) and ev.get("Pod", ns, pod) is not None:
                suffix = ".previous.log" if previous else ".log"
                ev.add_log(LogFile(ns, pod, container, previous, f"logs/{ns}/{pod}/{container}{suffix}", lines))
        return ev

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "fake",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                }
            )
        )
        return path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with api._lock:
                    api.bytes_sent += len(data)

            def _watch(self, q: dict[str, str]) -> None:
                """A watch stream: one JSON event per line until the queue says stop (None) or time is up."""
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                if q.get("resourceVersion") in api.expired:
                    gone = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Expired",
                            "message": f"too old resource version: {q.get('resourceVersion')}", "code": 410}  # fmt: skip
                    self.wfile.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                    return
                end = time.time() + min(float(q.get("timeoutSeconds") or 2), 2.0)
                while time.time() < end:
                    try:
                        item = api.watch_events.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    if item is None:
                        return
                    kind, obj = item
                    self.wfile.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                    self.wfile.flush()

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": reason,
                        "message": message,
                        "code": code,
                    },
                )

            def do_POST(self) -> None:
                """SelfSubjectAccessReview: allowed unless the (group, resource, verb) is in ``denied``."""
                api.requests.append("POST " + self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != "Bearer fake-token":
                    return self._status(401, "Unauthorized", "Unauthorized")
                if urlparse(self.path).path != "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
                    api.unexpected.append("POST " + self.path)
                    return self._status(404, "NotFound", "the server could not find the requested resource")
                body = json.loads(raw or b"{}")
                attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
                resource = str(attrs.get("resource") or "") + (
                    f"/{attrs['subresource']}" if attrs.get("subresource") else ""
                )
                key = (str(attrs.get("group") or ""), resource, str(attrs.get("verb") or ""))
                api.reviews.append(key)
                allowed = key not in api.denied
                body["status"] = (
                    {"allowed": allowed} if allowed else {"allowed": False, "reason": "no RBAC policy matched"}
                )
                body.setdefault("kind", "SelfSubjectAccessReview")
                body.setdefault("apiVersion", "authorization.k8s.io/v1")
                return self._send(201, body)

            def do_GET(self) -> None:
                with api._lock:
                    api.requests.append(self.path)
                    api.in_flight += 1
                    api.max_in_flight = max(api.max_in_flight, api.in_flight)
                try:
                    if api.latency:
                        time.sleep(api.latency)
                    self._get()
                finally:
                    with api._lock:
                        api.in_flight -= 1

            def _get(self) -> None:
                url = urlparse(self.path)
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if self.headers.get("Authorization") != "Bearer fake-token":
                    return self._status(401, "Unauthorized", "Unauthorized")
                found = api._discovery(url.path)
                if found is not None:
                    return self._send(200, found)
                for prefix, seconds in api.delay.items():
                    if url.path.startswith(prefix):
                        time.sleep(seconds)
                if any(url.path.startswith(p) for p in api.forbid):
                    return self._status(
                        403,
                        "Forbidden",
                        f'{url.path} is forbidden: User "system:serviceaccount:remediator:bot" cannot list',
                    )
                if q.get("watch") == "true":
                    return self._watch(q)
                m = PATH.match(url.path)
                if not m:
                    api.unexpected.append(self.path)
                    return self._status(404, "NotFound", "the server could not find the requested resource")
                gv = m.group("core") or m.group("gv")
                kind = api.kind_of.get((gv, m.group("plural")))
                if kind is None or gv not in api.groups:
                    return self._status(404, "NotFound", "the server could not find the requested resource")
                ns = m.group("ns") or ""
                items = api.objects.get((kind, ns), [])
                if not ns and not m.group("name"):  # a list across all namespaces (remediator scan)
                    items = [o for (k, _), objs in api.objects.items() if k == kind for o in objs]
                if m.group("sub") == "log":
                    key = (ns, m.group("name"), q.get("container", ""), q.get("previous") == "true")
                    if key not in api.logs:
                        return self._status(
                            400, "BadRequest", f'previous terminated container "{key[2]}" in pod "{key[1]}" not found'
                        )
                    lines = api.logs[key]
                    tail = int(q.get("tailLines", len(lines)))
                    text = "\n".join(lines[-tail:] if tail else []) + "\n"
                    return self._send(200, text.encode(), "text/plain")
                if m.group("name"):
                    for obj in items:
                        if obj["metadata"]["name"] == m.group("name"):
                            return self._send(200, obj)
                    return self._status(404, "NotFound", f'{m.group("plural")} "{m.group("name")}" not found')
                if q.get("labelSelector"):
                    items = [o for o in items if _label_match(q["labelSelector"], o["metadata"].get("labels") or {})]
                if q.get("fieldSelector"):
                    items = [o for o in items if _field_match(q["fieldSelector"], o)]
                if "as=PartialObjectMetadataList" in (self.headers.get("Accept") or ""):
                    items = [
                        {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
                        for o in items
                    ]
                start = int(q.get("continue") or 0)
                limit = int(q.get("limit") or 0) or len(items) or 1
                page = items[start : start + limit]
                nxt = start + limit
                meta = {"resourceVersion": api.list_version}
                if nxt < len(items):
                    meta["continue"] = str(nxt)
                self._send(
                    200,
                    {
                        "kind": f"{kind}List",
                        "apiVersion": gv,
                        "metadata": meta,
                        "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page],
                    },
                )

        return Handler
