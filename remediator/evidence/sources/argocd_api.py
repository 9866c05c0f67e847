"""A small typed client for the Argo CD REST API (httpx).

No maintained Python client exists: the ``argocd-client`` of the design card is not published and
``argocd-python-client`` is a 2021 generated client. This one covers what the bot reads: session
login, applications, the resource tree, managed resources, one resource's live manifest, events
and pod logs (the grpc-gateway's newline-delimited JSON stream), so evidence can be gathered with
Argo CD credentials alone.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from remediator.errors import ForbiddenError, InputError, NotFoundError, RemediatorError, TemporaryError
from remediator.evidence.sanitize import clean_object
from remediator.yamlload import LoadError, load_one


class ResourceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    group: str = ""
    version: str = ""
    kind: str
    namespace: str = ""
    name: str
    uid: str = ""


class ResourceNode(ResourceRef):
    parentRefs: list[ResourceRef] = []
    health: dict[str, Any] | None = None


def _clean_states(item: dict[str, Any]) -> dict[str, Any]:
    """A managed resource whose live/target/normalized/predicted states (JSON strings) hold no Secret
    values; a state that is not JSON is dropped."""
    out = dict(item)
    for key in ("liveState", "targetState", "normalizedLiveState", "predictedLiveState"):
        raw = out.get(key)
        if not isinstance(raw, str) or raw in ("", "null"):
            continue
        try:
            state = load_one(raw, key, as_json=True)
        except LoadError:
            out[key] = ""
            continue
        if isinstance(state, dict):
            state.setdefault("kind", item.get("kind"))
            out[key] = json.dumps(clean_object(state))
        else:
            out[key] = ""
    return out


class ArgoCDClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 15.0,
        verify: bool = True,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 16,
    ) -> None:
        """``max_connections``: the connection pool, sized to the collector's concurrency (the
        client is shared by its threads)."""
        if not base_url.startswith(("http://", "https://")):
            raise InputError(f"Argo CD URL must start with http:// or https://: {base_url!r}")
        self.base = base_url.rstrip("/")
        self.token = token
        self._secret = password
        n = max(1, max_connections)
        self.http = httpx.Client(
            base_url=self.base,
            timeout=timeout,
            verify=verify,
            transport=transport,
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
        )
        if not token:
            if not (username and password):
                raise InputError("Argo CD needs a token ($ARGOCD_TOKEN) or a username and password")
            self._login(username, password)

    def close(self) -> None:
        self.http.close()

    def _redact(self, text: str) -> str:
        for s in (self.token, self._secret):
            if s:
                text = text.replace(s, "***")
        return text

    def _fail(self, what: str, e: Exception) -> RemediatorError:
        if isinstance(e, httpx.HTTPStatusError):
            code = e.response.status_code
            try:
                msg = str(e.response.json().get("message") or e.response.text)
            except ValueError:
                msg = e.response.text
            msg = self._redact(msg.strip().splitlines()[0] if msg.strip() else "")
            if code in (401, 403):
                return ForbiddenError(f"Argo CD {what}: {code} {msg}")
            if code == 404:
                return NotFoundError(f"Argo CD {what}: not found ({msg})")
            if code >= 500:
                return TemporaryError(f"Argo CD {what}: {code} {msg}")
            return InputError(f"Argo CD {what}: {code} {msg}")
        return TemporaryError(f"Argo CD {what}: {type(e).__name__}: {self._redact(str(e))[:200]}")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _get(self, what: str, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            r = self.http.get(
                path, params={k: v for k, v in (params or {}).items() if v not in (None, "")}, headers=self._headers()
            )
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError) as e:
            raise self._fail(what, e) from e

    def _login(self, username: str, password: str) -> None:
        try:
            r = self.http.post("/api/v1/session", json={"username": username, "password": password})
            r.raise_for_status()
            self.token = str(r.json()["token"])
        except (httpx.HTTPError, ValueError, KeyError) as e:
            raise self._fail("login", e) from e

    # --- reads ------------------------------------------------------------------------

    def application(self, name: str, app_namespace: str | None = None) -> dict[str, Any]:
        app: dict[str, Any] = self._get(
            f"get application {name}", f"/api/v1/applications/{name}", {"appNamespace": app_namespace}
        )
        app.setdefault("kind", "Application")
        app.setdefault("apiVersion", "argoproj.io/v1alpha1")
        return clean_object(app)

    def applications(self) -> list[dict[str, Any]]:
        body = self._get("list applications", "/api/v1/applications")
        items = [a for a in body.get("items") or [] if isinstance(a, dict)]
        for a in items:
            a.setdefault("kind", "Application")
        return [clean_object(a) for a in items]

    def resource_tree(self, name: str, app_namespace: str | None = None) -> list[ResourceNode]:
        body = self._get(
            f"resource tree of {name}", f"/api/v1/applications/{name}/resource-tree", {"appNamespace": app_namespace}
        )
        return [ResourceNode.model_validate(n) for n in body.get("nodes") or []]

    def managed_resources(self, name: str, app_namespace: str | None = None) -> list[dict[str, Any]]:
        body = self._get(
            f"managed resources of {name}",
            f"/api/v1/applications/{name}/managed-resources",
            {"appNamespace": app_namespace},
        )
        return [_clean_states(x) for x in body.get("items") or [] if isinstance(x, dict)]

    def resource(self, name: str, ref: ResourceRef, app_namespace: str | None = None) -> dict[str, Any] | None:
        body = self._get(
            f"resource {ref.kind} {ref.namespace}/{ref.name} of {name}",
            f"/api/v1/applications/{name}/resource",
            {"namespace": ref.namespace, "resourceName": ref.name, "version": ref.version, "kind": ref.kind,
             "group": ref.group, "appNamespace": app_namespace},
        )  # fmt: skip
        manifest = body.get("manifest")
        if not manifest:
            return None
        try:
            obj = load_one(manifest, "manifest", as_json=True)
        except LoadError:
            return None
        if not isinstance(obj, dict):
            return None
        obj.setdefault("kind", ref.kind)
        return clean_object(obj)

    def events(
        self, name: str, ref: ResourceRef | None = None, app_namespace: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"appNamespace": app_namespace}
        if ref is not None:
            params.update(resourceNamespace=ref.namespace, resourceName=ref.name, resourceUID=ref.uid)
        body = self._get(f"events of {name}", f"/api/v1/applications/{name}/events", params)
        items = [e for e in body.get("items") or [] if isinstance(e, dict)]
        for e in items:
            e.setdefault("kind", "Event")
            e.setdefault("apiVersion", "v1")
        return items

    def logs(
        self, name: str, namespace: str, pod: str, container: str, tail: int = 500, previous: bool = False,
        app_namespace: str | None = None,
    ) -> list[str]:  # fmt: skip
        """Log lines of one container; [] when it has none (e.g. no previous run)."""
        params: dict[str, str | int] = {"namespace": namespace, "podName": pod, "container": container, "tailLines": tail,
                                        "follow": "false", "previous": "true" if previous else "false"}  # fmt: skip
        if app_namespace:
            params["appNamespace"] = app_namespace
        lines: list[str] = []
        try:
            with self.http.stream(
                "GET",
                f"/api/v1/applications/{name}/logs",
                params={k: v for k, v in params.items() if v is not None},
                headers=self._headers(),
            ) as r:
                if r.status_code in (400, 404):
                    return []
                r.raise_for_status()
                for raw in r.iter_lines():
                    if not raw.strip():
                        continue
                    try:
                        entry = load_one(raw, "log", as_json=True)
                    except LoadError:
                        continue
                    res = entry.get("result") or {}
                    if "error" in entry and not res:
                        break
                    if res.get("last"):
                        break
                    if "content" in res:
                        lines.append(str(res["content"]))
        except httpx.HTTPError as e:
            raise self._fail(f"logs of {namespace}/{pod}/{container}", e) from e
        return lines

    # --- preflight (remediator doctor) ----------------------------------------------------

    def version(self) -> str:
        """The server's version (``GET /api/version``, answered without a session)."""
        body = self._get("version", "/api/version")
        return str(body.get("Version") or "unknown") if isinstance(body, dict) else "unknown"

    def userinfo(self) -> tuple[bool, str]:
        """(logged in, username) of the token (``GET /api/v1/session/userinfo``)."""
        body = self._get("session userinfo", "/api/v1/session/userinfo")
        body = body if isinstance(body, dict) else {}
        return bool(body.get("loggedIn")), str(body.get("username") or "")

    def can_i(self, resource: str, action: str, subresource: str = "*") -> bool:
        """Whether the account may do ``action`` on ``resource`` (``GET /api/v1/account/can-i/...`` → yes/no)."""
        body = self._get(
            f"can-i {resource}/{action}/{subresource}", f"/api/v1/account/can-i/{resource}/{action}/{subresource}"
        )
        return isinstance(body, dict) and body.get("value") == "yes"
