"""Ask the model servers an app calls which models they serve (Ollama ``GET /api/tags``,
OpenAI-compatible ``GET /v1/models``). The base URLs come from the pods' env; the answers become
``Probe`` evidence, exactly as a snapshot's ``probes/`` folder records them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import httpx

from remediator.evidence.relations import containers, env_values, pod_template
from remediator.evidence.store import Evidence, Probe

# Env var names that carry a model server's URL (OLLAMA_URL, OLLAMA_HOST, OPENAI_BASE_URL, LLM_API_BASE, VLLM_ENDPOINT, ...).
SERVER_VAR = re.compile(r"OLLAMA|OPENAI|LLM|VLLM|MODEL|INFERENCE|(BASE|API)_?(URL|BASE|HOST|ENDPOINT)", re.I)


def server_urls(ev: Evidence) -> list[str]:
    """Base URLs (scheme://host:port[/path]) of the model servers the app's pods are configured to call."""
    out: list[str] = []
    for pod in ev.scoped("Pod"):
        for c in containers(pod_template(pod)):
            for name, value in env_values(c):
                if SERVER_VAR.search(name) and value.startswith(("http://", "https://")):
                    parts = urlsplit(value)
                    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
                    if base not in out:
                        out.append(base)
    return out


def _candidates(base: str) -> list[str]:
    root = re.sub(r"/(v1|api)(/.*)?$", "", base)
    return [f"{root}/api/tags", f"{root}/v1/models"]


def probe_model_servers(ev: Evidence, timeout: float = 3.0, transport: httpx.BaseTransport | None = None) -> None:
    """Add one Probe per server: the first answer that lists models, else the last error."""
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
        for base in server_urls(ev):
            last: Probe | None = None
            for url in _candidates(base):
                try:
                    r = client.get(url)
                except httpx.HTTPError as e:
                    last = Probe(url, None, None, f"{type(e).__name__}: {e}"[:200], "live")
                    continue
                try:
                    body = r.json()
                except ValueError:
                    body = None
                last = Probe(url, r.status_code, body, None, "live")
                if r.status_code == 200 and isinstance(body, dict) and ("models" in body or "data" in body):
                    break
            if last is not None:
                ev.probes.append(last)
