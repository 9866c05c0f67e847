"""A FAKE Argo CD API server on 127.0.0.1 that answers the real ``/api/v1/...`` paths from a
snapshot folder: session login, application get/list, resource-tree, managed-resources, resource,
events, and pod logs as the grpc-gateway's newline-delimited JSON stream. Records every request and
counts the bytes answered; anything else is a 404 listed as unexpected.

Like the real server: tree nodes carry their health, ``managed-resources`` holds only the
top-level (managed) resources, not their children (ReplicaSets, Pods), and the app-level events
(no ``resourceName``) are the Application's own. ``latency`` (seconds) is added to every request,
for benchmarks; the listen backlog accepts many concurrent clients."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from remediator.evidence.health import health_of
from remediator.evidence.relations import owner_refs
from remediator.evidence.scope import apply_scope
from remediator.evidence.sources.snapshot import load_snapshot
from remediator.evidence.store import ref_of
from tests.fakes.loopback import LoopbackServer

GROUPS = {
    "Deployment": "apps",
    "StatefulSet": "apps",
    "DaemonSet": "apps",
    "ReplicaSet": "apps",
    "Job": "batch",
    "CronJob": "batch",
}


class FakeArgoCD(LoopbackServer):
    def __init__(
        self,
        snapshot: Path,
        app: str,
        token: str = "argocd-token-123",
        user: tuple[str, str] = ("admin", "pw"),
        latency: float = 0.0,
    ) -> None:
        self.ev = load_snapshot(snapshot)
        self.latency = latency
        self.bytes_sent = 0
        self._lock = threading.Lock()
        apply_scope(self.ev, app)
        self.app_name = app
        self.token = token
        self.user = user
        self.requests: list[str] = []
        self.unexpected: list[str] = []
        self.denied: set[str] = set()  # can-i "resource/action/subresource" answered "no"
        self._serve(self._handler())
        self._server.socket.listen(256)  # a backlog for concurrent clients (the default is 5)

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_sent = 0

    def _nodes(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for kind in sorted(self.ev.kinds()):
            if kind in ("Application", "Node", "StorageClass", "Namespace"):
                continue
            for o in self.ev.scoped(kind):
                r = ref_of(o)
                out.append({
                    "group": GROUPS.get(kind, ""), "version": "v1", "kind": kind, "namespace": r.namespace, "name": r.name,
                    "uid": str((o.get("metadata") or {}).get("uid") or f"uid-{kind}-{r.name}"),
                    "parentRefs": [{"kind": p.kind, "namespace": p.namespace, "name": p.name} for p in owner_refs(o)],
                })  # fmt: skip
                h = health_of(o)
                if h is not None:
                    out[-1]["health"] = {"status": str(h.status)}
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                with fake._lock:
                    fake.bytes_sent += len(data)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                fake.requests.append("POST " + self.path)
                if fake.latency:
                    time.sleep(fake.latency)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path == "/api/v1/session":
                    if (body.get("username"), body.get("password")) == fake.user:
                        self._send(200, {"token": fake.token})
                    else:
                        self._send(
                            401,
                            {
                                "error": "invalid username or password",
                                "code": 16,
                                "message": "invalid username or password",
                            },
                        )
                    return
                fake.unexpected.append("POST " + self.path)
                self._send(404, {"message": "Not Found"})

            def do_GET(self) -> None:
                fake.requests.append("GET " + self.path)
                if fake.latency:
                    time.sleep(fake.latency)
                authorized = self.headers.get("Authorization") == f"Bearer {fake.token}"
                if self.path == "/api/version":  # answered without a session
                    self._send(200, {"Version": "v2.13.1+fake", "BuildDate": "2026-01-01T00:00:00Z"})
                    return
                if self.path == "/api/v1/session/userinfo":  # a session-less caller is "not logged in"
                    self._send(200, {"loggedIn": True, "username": fake.user[0], "iss": "argocd"} if authorized
                               else {"loggedIn": False})  # fmt: skip
                    return
                if authorized and self.path.startswith("/api/v1/account/can-i/"):
                    what = unquote(self.path.removeprefix("/api/v1/account/can-i/"))
                    self._send(200, {"value": "no" if what in fake.denied else "yes"})
                    return
                if not authorized:
                    self._send(
                        401, {"error": "no session information", "code": 16, "message": "no session information"}
                    )
                    return
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                path = unquote(parts.path)
                ev = fake.ev
                prefix = f"/api/v1/applications/{fake.app_name}"
                app = ev.app or {}
                if path == "/api/v1/applications":
                    self._send(200, {"items": [app]})
                elif path == prefix:
                    self._send(200, app)
                elif path.startswith("/api/v1/applications/") and path.count("/") == 4:
                    self._send(
                        404,
                        {
                            "error": "not found",
                            "code": 5,
                            "message": f'applications.argoproj.io "{path.rsplit("/", 1)[1]}" not found',
                        },
                    )
                elif path == prefix + "/resource-tree":
                    self._send(200, {"nodes": fake._nodes()})
                elif path == prefix + "/managed-resources":
                    self._send(200, {"items": [{"kind": n["kind"], "group": n["group"], "namespace": n["namespace"], "name": n["name"],
                                                 "liveState": json.dumps(ev.get(n["kind"], n["namespace"], n["name"]))}
                                                for n in fake._nodes() if not n["parentRefs"]]})  # fmt: skip
                elif path == prefix + "/resource":
                    obj = ev.get(q.get("kind", ""), q.get("namespace", ""), q.get("resourceName", ""))
                    if obj is None:
                        self._send(404, {"message": "not found"})
                    else:
                        self._send(200, {"manifest": json.dumps(obj)})
                elif path == prefix + "/events":
                    items: list[dict[str, Any]] = []
                    for e in ev.all_events():
                        if q.get("resourceName") and (
                            e.involved.name != q["resourceName"]
                            or e.involved.namespace != q.get("resourceNamespace", "")
                        ):
                            continue
                        if not q.get("resourceName") and (e.involved.kind, e.involved.name) != (
                            "Application",
                            fake.app_name,
                        ):
                            continue  # app-level: the Application's own events
                        items.append({"metadata": {"name": f"{e.involved.name}.{len(items)}", "namespace": e.involved.namespace,
                                                   "uid": f"{e.involved.kind}/{e.involved.name}/{e.reason}/{e.message}"},
                                      "involvedObject": {"kind": e.involved.kind, "namespace": e.involved.namespace, "name": e.involved.name},
                                      "reason": e.reason, "message": e.message, "type": e.type, "count": e.count, "lastTimestamp": e.time})  # fmt: skip
                    self._send(200, {"items": items})
                elif path == prefix + "/logs":
                    logs = [lf for lf in ev.logs_for(q.get("namespace", ""), q.get("podName", ""))
                            if lf.container == q.get("container") and lf.previous == (q.get("previous") == "true")]  # fmt: skip
                    if not logs:
                        self._send(400, {"message": "previous terminated container not found"})
                        return
                    tail = int(q.get("tailLines") or 0)
                    lines = logs[0].lines[-tail:] if tail else logs[0].lines
                    out = b"".join(
                        json.dumps({"result": {"content": ln, "podName": q.get("podName"), "last": False}}).encode()
                        + b"\n"
                        for ln in lines
                    )
                    out += (
                        json.dumps({"result": {"content": "", "podName": q.get("podName"), "last": True}}).encode()
                        + b"\n"
                    )
                    self._send(200, out, "application/json")
                else:
                    fake.unexpected.append("GET " + path)
                    self._send(404, {"message": "Not Found"})

        return Handler
