"""Secret values never enter the evidence store: every adapter (the live cluster, the Argo CD API,
snapshot folders, the snapshot writer, the model's ``get_object``) passes each object through
``clean_object`` before it is stored, written or sent.

What goes: a Secret's ``data`` and ``stringData`` and its ``last-applied-configuration``
annotation (kubectl copies the whole Secret, values included, into it); ``metadata.managedFields``
of every object (it names the Secret's keys and is bulk no detector reads); inside any other
object's last-applied annotation, the data of any Secret it embeds (a ``List``), then ``redact`` on
the rest; and the literal value of a container env var or Helm parameter whose name says it is a
secret (``DB_PASSWORD=hunter2``). Detectors need none of these: they read Secret names and keys
(``missing-secret``), never values. Pure and cheap: only metadata and pod specs are walked.
"""

from __future__ import annotations

import json
from typing import Any

from remediator.evidence.store import Obj
from remediator.redact import redact, secret_name
from remediator.yamlload import LoadError, load_one

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SECRET_FIELDS = ("data", "stringData")
MASK = "***"


def _strip_secrets(doc: Any) -> Any:
    """A parsed manifest (or List of them) without Secret values."""
    if isinstance(doc, list):
        return [_strip_secrets(x) for x in doc]
    if not isinstance(doc, dict):
        return doc
    if doc.get("kind") == "Secret":
        return {k: v for k, v in doc.items() if k not in SECRET_FIELDS}
    if isinstance(doc.get("items"), list):
        return {**doc, "items": [_strip_secrets(x) for x in doc["items"]]}
    return doc


def _last_applied(text: str) -> str:
    try:
        doc = load_one(text, "last-applied-configuration", as_json=True)  # bounded: nesting, size
    except LoadError:
        return redact(text)
    return redact(json.dumps(_strip_secrets(doc), separators=(",", ":")))


def _env(items: Any) -> Any:
    """Env entries / Helm parameters with a secret name lose their literal value."""
    if not isinstance(items, list):
        return items
    out = []
    changed = False
    for it in items:
        if (
            isinstance(it, dict)
            and isinstance(it.get("value"), str)
            and it["value"]
            and isinstance(it.get("name"), str)
            and secret_name(it["name"])
        ):
            it = {**it, "value": MASK}
            changed = True
        out.append(it)
    return out if changed else items


def _pod_spec(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    new = spec
    for key in ("initContainers", "containers", "ephemeralContainers"):
        conts = spec.get(key)
        if not isinstance(conts, list):
            continue
        cleaned = list(conts)
        for i, c in enumerate(conts):
            if isinstance(c, dict) and isinstance(c.get("env"), list):
                env = _env(c["env"])
                if env is not c["env"]:
                    cleaned[i] = {**c, "env": env}
        if any(a is not b for a, b in zip(cleaned, conts, strict=True)):
            new = {**new, key: cleaned}
    return new


def _with(obj: Obj, path: tuple[str, ...], fn: Any) -> Obj:
    """``obj`` with the value at ``path`` replaced by ``fn(value)`` (copies only along the path)."""
    head, rest = path[0], path[1:]
    cur = obj.get(head)
    if cur is None:
        return obj
    if rest:
        if not isinstance(cur, dict):
            return obj
        new = _with(cur, rest, fn)
    else:
        new = fn(cur)
    return obj if new is cur else {**obj, head: new}


def _helm(source: Any) -> Any:
    """An Argo CD source with its Helm parameters and inline values cleaned."""
    if not isinstance(source, dict) or not isinstance(source.get("helm"), dict):
        return source
    helm = new = source["helm"]
    params = _env(helm.get("parameters"))
    if params is not helm.get("parameters"):
        new = {**new, "parameters": params}
    values = helm.get("values")
    if isinstance(values, str) and (redacted := redact(values)) != values:
        new = {**new, "values": redacted}
    return source if new is helm else {**source, "helm": new}


def clean_object(obj: Obj) -> Obj:
    """``obj`` without secret values (the input is not modified; unchanged parts are shared)."""
    kind = obj.get("kind")
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        new_meta = meta
        if "managedFields" in meta:
            new_meta = {k: v for k, v in meta.items() if k != "managedFields"}
        ann = meta.get("annotations")
        if isinstance(ann, dict) and LAST_APPLIED in ann:
            if kind == "Secret":
                ann = {k: v for k, v in ann.items() if k != LAST_APPLIED}
            else:
                raw = ann[LAST_APPLIED]
                ann = {**ann, LAST_APPLIED: _last_applied(raw) if isinstance(raw, str) else ""}
            new_meta = {**new_meta, "annotations": ann}
        if new_meta is not meta:
            obj = {**obj, "metadata": new_meta}
    if kind == "Secret":
        return {k: v for k, v in obj.items() if k not in SECRET_FIELDS}
    if kind == "Pod":
        obj = _with(obj, ("spec",), _pod_spec)
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        obj = _with(obj, ("spec", "template", "spec"), _pod_spec)
    elif kind == "CronJob":
        obj = _with(obj, ("spec", "jobTemplate", "spec", "template", "spec"), _pod_spec)
    elif kind == "Application":
        obj = _with(obj, ("spec", "source"), _helm)
        sources = (obj.get("spec") or {}).get("sources") if isinstance(obj.get("spec"), dict) else None
        if isinstance(sources, list):
            cleaned = [_helm(s) for s in sources]
            if any(a is not b for a, b in zip(cleaned, sources, strict=True)):
                obj = {**obj, "spec": {**obj["spec"], "sources": cleaned}}
    return obj
