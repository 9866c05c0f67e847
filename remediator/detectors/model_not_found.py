"""model-not-found: an LLM server answers that the configured model does not exist (Ollama 404, OpenAI 404)."""

from __future__ import annotations

import re
from typing import Any

from remediator.detectors.base import (
    HOST_RE,
    Detector,
    LogHit,
    affects,
    finding,
    log_line,
    pod_container_specs,
    scan_logs,
    scoped_pods,
)
from remediator.detectors.signatures import LOG_SIGNATURES
from remediator.evidence.relations import env_values, workload_of
from remediator.evidence.store import Evidence, Obj, Probe, ref_of
from remediator.model import Category, EvidenceLine, Finding

MODEL_VAR = re.compile(r"MODEL", re.I)


def served_models(probe: Probe) -> list[str] | None:
    """Model names from an Ollama ``/api/tags`` or OpenAI ``/v1/models`` answer."""
    body: Any = probe.body
    if probe.status not in (None, 200) or not isinstance(body, dict):
        return None
    if isinstance(body.get("models"), list):
        return [str(m.get("name") or m.get("model")) for m in body["models"] if isinstance(m, dict)]
    if isinstance(body.get("data"), list):
        return [str(m.get("id")) for m in body["data"] if isinstance(m, dict) and m.get("id")]
    return None


def _host(url: str) -> str:
    m = HOST_RE.search(url)
    return m.group(1) if m else ""


def model_env(pod: Obj, container: str | None, model: str | None) -> tuple[str, str, str] | None:
    """(container, env var, value) that configures the model."""
    specs = pod_container_specs(pod)
    order = [container] if container in specs else []
    order += [c for c in specs if c not in order]
    for cname in order:
        if cname is None:
            continue
        for name, value in env_values(specs[cname]):
            if model and value == model:
                return cname, name, value
    for cname in order:
        if cname is None:
            continue
        for name, value in env_values(specs[cname]):
            if MODEL_VAR.search(name) and not value.startswith(("http://", "https://")):
                return cname, name, value
    return None


def _configmap_data(ev: Evidence, namespace: str, name: str) -> dict[str, str]:
    cm = ev.get("ConfigMap", namespace, name)
    if cm is None:
        cm = next(
            (
                o
                for o in ev.desired
                if o.get("kind") == "ConfigMap"
                and ref_of(o).name == name
                and (ref_of(o).namespace or namespace) == namespace
            ),
            None,
        )
    data = (cm or {}).get("data") or {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def model_configmap(
    ev: Evidence, pod: Obj, container: str | None, model: str | None
) -> tuple[str, str, str, str, str] | None:
    """(container, env var, ConfigMap name, key, value) when the model reaches a container from a ConfigMap
    (``envFrom.configMapRef`` or ``env.valueFrom.configMapKeyRef``) rather than a literal env value."""
    ns = ref_of(pod).namespace
    specs = pod_container_specs(pod)
    order = [container] if container in specs else []
    order += [c for c in specs if c not in order]
    candidates: list[tuple[str, str, str, str, str]] = []
    for cname in order:
        if cname is None:
            continue
        spec_ = specs[cname]
        for env in spec_.get("env") or []:
            ref = ((env or {}).get("valueFrom") or {}).get("configMapKeyRef") if isinstance(env, dict) else None
            if isinstance(ref, dict) and ref.get("name") and ref.get("key"):
                value = _configmap_data(ev, ns, str(ref["name"])).get(str(ref["key"]))
                if value is not None:
                    candidates.append((cname, str(env.get("name")), str(ref["name"]), str(ref["key"]), value))
        for src in spec_.get("envFrom") or []:
            ref = (src or {}).get("configMapRef") if isinstance(src, dict) else None
            if isinstance(ref, dict) and ref.get("name"):
                prefix = str(src.get("prefix") or "")
                for key, value in _configmap_data(ev, ns, str(ref["name"])).items():
                    candidates.append((cname, prefix + key, str(ref["name"]), key, value))
    for c in candidates:
        if model and c[4] == model:
            return c
    for c in candidates:
        if MODEL_VAR.search(c[1]) and not c[4].startswith(("http://", "https://")):
            return c
    return None


def detect(ev: Evidence) -> list[Finding]:
    hits = scan_logs(ev, LOG_SIGNATURES, "core")["model"]
    catalogs = [(p, m) for p in ev.probes if (m := served_models(p)) is not None]
    by_pod: dict[tuple[str, str], list[LogHit]] = {}
    for h in hits:
        by_pod.setdefault((h.log.namespace, h.log.pod), []).append(h)
    out = []
    seen_pods = set()
    for pod in scoped_pods(ev):
        ref = ref_of(pod)
        phits = by_pod.get((ref.namespace, ref.name), [])
        named = next((h.match.group("model") for h in phits if h.match.groupdict().get("model")), None)
        env = model_env(pod, phits[0].log.container if phits else None, named)
        from_cm = None
        if env is None or (named and env[2] != named):
            from_cm = model_configmap(ev, pod, phits[0].log.container if phits else None, named)
            if from_cm is not None:
                env = from_cm[:2] + from_cm[4:]
        lines: list[EvidenceLine] = [log_line(h.log, h.lineno, h.line) for h in phits[-3:]]
        available: list[str] = []
        server = ""
        urls = [v for c in pod_container_specs(pod).values() for _, v in env_values(c) if "://" in v]
        for probe, models in catalogs:
            if not urls or any(_host(u) == _host(probe.url) for u in urls) or len(catalogs) == 1:
                available, server = models, probe.url
                lines.append(
                    EvidenceLine(f"probe {probe.source}", f"{probe.url} lists: {', '.join(models) or '(none)'}")
                )
                break
        current = named or (env[2] if env else None)
        if not phits:
            # No error logged yet, but the server's list says the configured model is not there.
            if not (env and available and env[2] not in available):
                continue
            conf = 0.75
        else:
            conf = 0.92 if named or (current and available and current not in available) else 0.75
        if available and current in available:
            continue
        wl = workload_of(ev, pod)
        if wl in seen_pods:
            continue
        seen_pods.add(wl)
        if from_cm is not None:
            lines.append(
                EvidenceLine(
                    f"ConfigMap {ref.namespace}/{from_cm[2]} key {from_cm[3]}",
                    f"{from_cm[3]}={from_cm[4]} (env {from_cm[1]} of container {from_cm[0]})",
                )
            )
        elif env:
            lines.append(EvidenceLine(f"spec {wl} container {env[0]} env {env[1]}", f"{env[1]}={env[2]}"))
        out.append(
            finding(
                Category.MODEL_NOT_FOUND,
                wl,
                f"{wl.name} asks for model {current!r}, which the model server does not have"
                + (f" (it serves: {', '.join(available)})" if available else ""),
                confidence=conf,
                chain=(
                    f"{wl} fails its LLM calls",
                    "model server answers 404",
                    f"model {current!r} is not pulled on the server",
                    *([f"set by env {env[1]} of container {env[0]}"] if env else []),
                    *([f"from key {from_cm[3]} of ConfigMap {from_cm[2]}"] if from_cm else []),
                ),
                evidence=lines,
                detector="model_not_found",
                affects=affects(ev, pod),
                details={
                    "container": env[0] if env else None,
                    "env": env[1] if env else None,
                    "model": current,
                    "available": available,
                    "server": server,
                    **({"configmap": from_cm[2], "configmap_key": from_cm[3]} if from_cm else {}),
                },
            )
        )
    return out


DETECTOR = Detector("model_not_found", (Category.MODEL_NOT_FOUND,), detect, "LLM server 404 / model not found")
