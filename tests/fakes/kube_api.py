"""A FAKE Kubernetes API server on 127.0.0.1 that answers the real REST paths from a snapshot.

The real ``kubernetes`` client talks HTTP to it. It pages lists (``limit``/``continue``),
serves pod logs (``previous``, ``tailLines``), can refuse chosen paths with 403 or delay them,
and records every request so tests can assert nothing unexpected was asked.
"""

from __future__ import annotations

import json
import queue
import re
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from remediator.evidence.sources.snapshot import load_snapshot
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
PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<gv>[^/]+/[^/]+))(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>log))?$"
)


class FakeKubeAPI(LoopbackServer):
    def __init__(self, snapshot: Path, *, forbid: tuple[str, ...] = (), delay: dict[str, float] | None = None) -> None:
        ev = load_snapshot(snapshot)
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        by_plural = {(gv, plural): kind for kind, (gv, plural) in KINDS.items()}
        self.kind_of = by_plural
        for ref in ev.refs():
            obj = ev.get_ref(ref)
            if obj is not None and ref.kind in KINDS:
                self.objects.setdefault((ref.kind, ref.namespace), []).append(obj)
        for e in ev.all_events():
            self.objects.setdefault(("Event", e.involved.namespace), []).append(
                {
                    "metadata": {"name": f"{e.involved.name}.ev", "namespace": e.involved.namespace},
                    "involvedObject": {
                        "kind": e.involved.kind,
                        "name": e.involved.name,
                        "namespace": e.involved.namespace,
                    },
                    "reason": e.reason,
                    "message": e.message,
                    "type": e.type,
                    "count": e.count,
                }
            )
        self.logs = {(lg.namespace, lg.pod, lg.container, lg.previous): lg.lines for lg in ev.all_logs()}
        self.forbid = forbid
        self.delay = delay or {}
        self.requests: list[str] = []
        self.unexpected: list[str] = []
        # watch: events handed to the next ?watch=true request, resource versions answered with 410 Gone
        self.watch_events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self.expired: set[str] = set()
        self.list_version = "1000"
        self._serve(self._handler())

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

            def do_GET(self) -> None:
                url = urlparse(self.path)
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                api.requests.append(self.path)
                if self.headers.get("Authorization") != "Bearer fake-token":
                    return self._status(401, "Unauthorized", "Unauthorized")
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
                if kind is None:
                    return self._status(404, "NotFound", "the server could not find the requested resource")
                ns = m.group("ns") or ""
                items = api.objects.get((kind, ns), [])
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
