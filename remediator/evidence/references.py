"""References of a pod template to ConfigMaps and Secrets, with the keys they use and the field path of
each; the keys an existing ConfigMap or Secret holds; and the near-named object a mistyped reference
was meant to name (the culprit rule: a wrong reference is the referencing object's fault).

Shared by the missing-ref detector (which object is the culprit) and the config-ref remedy (which
fields to edit), so both reason from the same facts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from remediator.evidence.nearest import near_names
from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence, ref_of
from remediator.model import FieldPath, ObjectRef

# Keys a Secret of a well-known type always has (k8s.io/api/core/v1 SecretType* constants).
TYPE_KEYS: dict[str, set[str]] = {
    "kubernetes.io/tls": {"tls.crt", "tls.key"},
    "kubernetes.io/dockerconfigjson": {".dockerconfigjson"},
    "kubernetes.io/dockercfg": {".dockercfg"},
    "kubernetes.io/basic-auth": {"username", "password"},
    "kubernetes.io/ssh-auth": {"ssh-privatekey"},
}


@dataclass(frozen=True)
class Site:
    """One place in a pod spec that names a ConfigMap or Secret: ``path`` is the field holding the
    name, ``key`` (and ``key_path``) the key it reads when it reads one."""

    kind: str
    name: str
    path: FieldPath
    key: str | None = None
    key_path: FieldPath | None = None


def _items(src: dict[str, Any], kind: str, name: str, base: FieldPath) -> Iterator[Site]:
    items = [i for i in src.get("items") or [] if isinstance(i, dict) and i.get("key")]
    if not items:
        yield Site(kind, name, base)
    for it in items:
        key = str(it["key"])
        yield Site(kind, name, base, key, (*base[:-1], "items", {"key": key}, "key"))


def sites(pod_spec: dict[str, Any], base: FieldPath = ()) -> Iterator[Site]:
    """Every ConfigMap/Secret reference of a pod spec (volumes, projected volumes, envFrom,
    env valueFrom), with paths relative to ``base`` (the pod spec's path in its object)."""
    for vol in pod_spec.get("volumes") or []:
        if not isinstance(vol, dict) or not vol.get("name"):
            continue
        vp = (*base, "volumes", {"name": str(vol["name"])})
        if isinstance(vol.get("configMap"), dict) and vol["configMap"].get("name"):
            cm = vol["configMap"]
            yield from _items(cm, "ConfigMap", str(cm["name"]), (*vp, "configMap", "name"))
        if isinstance(vol.get("secret"), dict) and vol["secret"].get("secretName"):
            s = vol["secret"]
            yield from _items(s, "Secret", str(s["secretName"]), (*vp, "secret", "secretName"))
        for i, src in enumerate(dig(vol, "projected", "sources") or []):
            for key, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                if isinstance(src, dict) and isinstance(src.get(key), dict) and src[key].get("name"):
                    p = (*vp, "projected", "sources", i, key, "name")
                    yield from _items(src[key], kind, str(src[key]["name"]), p)
    for ckey in ("initContainers", "containers"):
        for c in pod_spec.get(ckey) or []:
            if not isinstance(c, dict) or not c.get("name"):
                continue
            cp = (*base, ckey, {"name": str(c["name"])})
            for i, ef in enumerate(c.get("envFrom") or []):
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if isinstance(ef, dict) and isinstance(ef.get(key), dict) and ef[key].get("name"):
                        yield Site(kind, str(ef[key]["name"]), (*cp, "envFrom", i, key, "name"))
            for env in c.get("env") or []:
                vf = env.get("valueFrom") if isinstance(env, dict) else None
                if not isinstance(vf, dict) or not env.get("name"):
                    continue
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    r = vf.get(key)
                    if isinstance(r, dict) and r.get("name"):
                        ep = (*cp, "env", {"name": str(env["name"])}, "valueFrom", key)
                        k = str(r["key"]) if r.get("key") is not None else None
                        yield Site(kind, str(r["name"]), (*ep, "name"), k, (*ep, "key") if k else None)


def object_keys(ev: Evidence, kind: str, namespace: str, name: str) -> set[str] | None:
    """The keys a ConfigMap or Secret holds, None when the evidence does not show them (a Secret's
    values are never collected: its type, an ExternalSecret/SealedSecret or Certificate that makes it,
    or a running pod that reads a key of it tell which keys it has)."""
    obj = ev.get(kind, namespace, name)
    if obj is None:
        return None
    if kind == "ConfigMap":
        return {str(k) for f in ("data", "binaryData") for k in (obj.get(f) or {})}
    if isinstance(obj.get("data"), dict) or isinstance(obj.get("stringData"), dict):
        return {str(k) for f in ("data", "stringData") for k in (obj.get(f) or {})}
    keys = set(TYPE_KEYS.get(str(obj.get("type") or ""), set()))
    for es in ev.all("ExternalSecret", namespace):
        if str(dig(es, "spec", "target", "name") or ref_of(es).name) == name:
            if dig(es, "spec", "dataFrom") or dig(es, "spec", "target", "template"):
                return None
            keys |= {str(d.get("secretKey")) for d in dig(es, "spec", "data") or [] if isinstance(d, dict)}
    for ss in ev.all("SealedSecret", namespace):
        if ref_of(ss).name == name:
            keys |= {str(k) for k in dig(ss, "spec", "encryptedData") or {}}
    for pod in ev.all("Pod", namespace):
        if all(bool(c.get("ready")) for c in dig(pod, "status", "containerStatuses") or [{}]):
            keys |= {s.key for s in sites(dig(pod, "spec") or {}) if s.kind == kind and s.name == name and s.key}
    return keys or None


def out_of_band(ev: Evidence, namespace: str, name: str) -> str | None:
    """What makes the Secret ``name`` outside the app's manifests (an ExternalSecret, a SealedSecret,
    a cert-manager Certificate, an operator that owns it), or None."""
    for es in ev.all("ExternalSecret", namespace):
        if str(dig(es, "spec", "target", "name") or ref_of(es).name) == name:
            return f"ExternalSecret {namespace}/{ref_of(es).name} (External Secrets Operator) makes it"
    for ss in ev.all("SealedSecret", namespace):
        if ref_of(ss).name == name:
            return f"SealedSecret {namespace}/{ref_of(ss).name} makes it (sealed-secrets controller)"
    for cert in ev.all("Certificate", namespace):
        if str(dig(cert, "spec", "secretName")) == name:
            return f"cert-manager Certificate {namespace}/{ref_of(cert).name} makes it"
    obj = ev.get("Secret", namespace, name)
    for o in dig(obj or {}, "metadata", "ownerReferences") or []:
        if isinstance(o, dict) and o.get("kind"):
            return f"{o.get('kind')} {o.get('name')} (an operator) owns it"
    return None


def near_object(ev: Evidence, ref: ObjectRef, keys: set[str]) -> list[str]:
    """Existing objects of ``ref``'s kind in its namespace whose name is near ``ref.name`` (see
    :func:`near_names`) and that hold ``keys`` (or whose keys the evidence does not show)."""
    names = {ref_of(o).name for o in ev.all(ref.kind, ref.namespace or None)}
    out = []
    for n in near_names(ref.name, names):
        have = object_keys(ev, ref.kind, ref.namespace, n)
        if have is None or keys <= have:
            out.append(n)
    return out
