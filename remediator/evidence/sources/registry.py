"""Ask container registries which tags an image's repository has (Docker Registry HTTP API v2,
``GET /v2/<repository>/tags/list``). Public images only: on a ``401`` the anonymous bearer-token flow
the ``WWW-Authenticate`` challenge names (``Bearer realm=...,service=...,scope=...``) is followed with
no credentials; the pods' imagePullSecrets are never read. Each answer becomes ``Probe`` evidence
exactly as a snapshot's ``probes/`` folder records it (the URL without paging parameters, every
page's tags merged), so ``snapshot`` writes what was asked."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx

from remediator.evidence.images import parse_image
from remediator.evidence.relations import containers, pod_template
from remediator.evidence.store import Evidence, Probe
from remediator.yamlload import LoadError, load_one

MAX_BODY = 2 * 1024 * 1024
MAX_PAGES = 10
MAX_REPOSITORIES = 8
_PARAM = re.compile(r'(\w+)="([^"]*)"')
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def challenge(header: str) -> dict[str, str] | None:
    """The parameters of a ``Bearer`` challenge, or None for another scheme."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return {k.lower(): v for k, v in _PARAM.findall(rest)}


class RegistryClient:
    """Anonymous reads of tag lists. ``scheme`` is ``https`` for real registries (``http`` for tests)."""

    def __init__(
        self, timeout: float = 5.0, transport: httpx.BaseTransport | None = None, scheme: str = "https"
    ) -> None:
        self.scheme = scheme
        self.http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _json(self, r: httpx.Response) -> object:
        if len(r.content) > MAX_BODY:
            raise ValueError(f"answer larger than {MAX_BODY // 1024} KiB")
        return load_one(r.text, str(r.url), as_json=True)

    def _token(self, params: dict[str, str], registry: str) -> str | None:
        realm = params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("https", self.scheme) or not parts.netloc:
            return None  # a realm we would not send a request to
        key = f"{realm}|{params.get('service', '')}|{params.get('scope', '')}"
        if key not in self._tokens:
            query = {k: params[k] for k in ("service", "scope") if params.get(k)}
            r = self.http.get(realm, params=query)
            if r.status_code != 200:
                return None
            body = self._json(r)
            token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                return None
            self._tokens[key] = token
        return self._tokens[key]

    def _get(self, url: str, registry: str) -> httpx.Response:
        r = self.http.get(url)
        if r.status_code == 401:
            params = challenge(r.headers.get("www-authenticate", ""))
            token = self._token(params, registry) if params is not None else None
            if token:
                r = self.http.get(url, headers={"Authorization": f"Bearer {token}"})
        return r

    def tags(self, registry: str, repository: str) -> Probe:
        """The repository's tag list as a Probe (every page), or the error that stopped it."""
        base = f"{self.scheme}://{registry}/v2/{repository}/tags/list"
        tags: list[str] = []
        url: str | None = base
        status: int | None = None
        name = repository
        try:
            for _ in range(MAX_PAGES):
                if url is None:
                    break
                r = self._get(url, registry)
                status = r.status_code
                if status != 200:
                    try:
                        body = self._json(r)
                    except (LoadError, ValueError):
                        body = None
                    return Probe(base, status, body, None, "live")
                body = self._json(r)
                if not isinstance(body, dict) or not isinstance(body.get("tags") or [], list):
                    return Probe(base, None, None, "the answer is not a tag list", "live")
                name = str(body.get("name") or name)
                tags += [str(t) for t in body.get("tags") or [] if isinstance(t, str) and t not in tags]
                m = _NEXT.search(r.headers.get("link", ""))
                nxt = urljoin(url, m.group(1)) if m else None
                url = nxt if nxt and urlsplit(nxt).netloc == registry else None
        except (httpx.HTTPError, LoadError, ValueError) as e:
            return Probe(base, None, None, f"{type(e).__name__}: {e}"[:200], "live")
        return Probe(base, status, {"name": name, "tags": tags}, None, "live")


def image_repositories(ev: Evidence) -> list[tuple[str, str]]:
    """(registry, repository) of the images the app's pods run, at most ``MAX_REPOSITORIES``."""
    out: list[tuple[str, str]] = []
    for pod in ev.scoped("Pod"):
        for c in containers(pod_template(pod)):
            ref = parse_image(str(c.get("image") or ""))
            if ref is not None and (ref.registry, ref.repository) not in out:
                out.append((ref.registry, ref.repository))
    return out[:MAX_REPOSITORIES]


def probe_registries(
    ev: Evidence, timeout: float = 5.0, transport: httpx.BaseTransport | None = None, scheme: str = "https"
) -> None:
    """Add one Probe per image repository of the app's pods: its tag list, or why it is missing."""
    with RegistryClient(timeout, transport, scheme) as client:
        for registry, repository in image_repositories(ev):
            ev.probes.append(client.tags(registry, repository))
