"""Pure helpers over Kubernetes object dicts: owners, references, selectors, statuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import ObjectRef


def meta(obj: Obj) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def spec(obj: Obj) -> dict[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, dict) else {}


def status(obj: Obj) -> dict[str, Any]:
    s = obj.get("status")
    return s if isinstance(s, dict) else {}


def labels(obj: Obj) -> dict[str, str]:
    lab = meta(obj).get("labels")
    return lab if isinstance(lab, dict) else {}


def dig(obj: Any, *path: str | int) -> Any:
    cur = obj
    for p in path:
        if isinstance(p, int):
            if not isinstance(cur, list) or len(cur) <= p:
                return None
        elif not isinstance(cur, dict):
            return None
        cur = cur[p] if isinstance(p, int) else cur.get(p)
        if cur is None:
            return None
    return cur


def conditions(obj: Obj) -> list[dict[str, Any]]:
    c = status(obj).get("conditions")
    return [x for x in c if isinstance(x, dict)] if isinstance(c, list) else []


def condition(obj: Obj, ctype: str) -> dict[str, Any] | None:
    for c in conditions(obj):
        if c.get("type") == ctype:
            return c
    return None


def pod_template(obj: Obj) -> dict[str, Any]:
    """The pod spec of a Pod or of any workload's template (CronJob included)."""
    if obj.get("kind") == "Pod":
        return spec(obj)
    if obj.get("kind") == "CronJob":
        return dig(obj, "spec", "jobTemplate", "spec", "template", "spec") or {}
    return dig(obj, "spec", "template", "spec") or {}


def containers(pod_spec: dict[str, Any], init: bool = True) -> list[dict[str, Any]]:
    out = [c for c in pod_spec.get("containers") or [] if isinstance(c, dict)]
    if init:
        out += [c for c in pod_spec.get("initContainers") or [] if isinstance(c, dict)]
    return out


def container_statuses(pod: Obj) -> Iterator[dict[str, Any]]:
    st = status(pod)
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in st.get(key) or []:
            if isinstance(cs, dict):
                yield cs


def owner_refs(obj: Obj) -> list[ObjectRef]:
    ns = ref_of(obj).namespace
    out = []
    for o in meta(obj).get("ownerReferences") or []:
        if isinstance(o, dict) and o.get("kind") and o.get("name"):
            out.append(ObjectRef(str(o["kind"]), ns, str(o["name"])))
    return out


def top_owner(ev: Evidence, obj: Obj) -> ObjectRef:
    """Follow ownerReferences up (Pod → ReplicaSet → Deployment, Pod → Job → CronJob).

    When an owner is not in the evidence, a ReplicaSet's Deployment is still named by the
    pod-template-hash convention, so the culprit is the object a user edits.
    """
    ref = ref_of(obj)
    seen = {ref}
    cur = obj
    while True:
        owners = owner_refs(cur)
        if not owners:
            return ref
        nxt = owners[0]
        if nxt in seen:
            return ref
        seen.add(nxt)
        found = ev.get_ref(nxt)
        if found is None:
            if nxt.kind == "ReplicaSet":
                h = labels(cur).get("pod-template-hash")
                if h and nxt.name.endswith("-" + h):
                    return ObjectRef("Deployment", nxt.namespace, nxt.name[: -len(h) - 1])
            return nxt
        ref, cur = nxt, found


def selector_matches(selector: Any, lab: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels/matchExpressions) or a plain map (Service) against labels."""
    if not isinstance(selector, dict):
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        ml = selector.get("matchLabels") or {}
        if any(lab.get(k) != str(v) for k, v in ml.items()):
            return False
        for expr in selector.get("matchExpressions") or []:
            key, op = expr.get("key"), expr.get("operator")
            vals = [str(v) for v in expr.get("values") or []]
            if op == "In" and lab.get(key) not in vals:
                return False
            if op == "NotIn" and lab.get(key) in vals:
                return False
            if op == "Exists" and key not in lab:
                return False
            if op == "DoesNotExist" and key in lab:
                return False
        return True
    return all(lab.get(k) == str(v) for k, v in selector.items())


def pod_references(pod_spec: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(kind, name, optional) of the ConfigMaps, Secrets and PVCs a pod spec uses."""
    for vol in pod_spec.get("volumes") or []:
        if not isinstance(vol, dict):
            continue
        if isinstance(vol.get("secret"), dict):
            yield "Secret", str(vol["secret"].get("secretName", "")), bool(vol["secret"].get("optional"))
        if isinstance(vol.get("configMap"), dict):
            yield "ConfigMap", str(vol["configMap"].get("name", "")), bool(vol["configMap"].get("optional"))
        if isinstance(vol.get("persistentVolumeClaim"), dict):
            yield "PersistentVolumeClaim", str(vol["persistentVolumeClaim"].get("claimName", "")), False
        for src in dig(vol, "projected", "sources") or []:
            for key, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                if isinstance(src, dict) and isinstance(src.get(key), dict):
                    yield kind, str(src[key].get("name", "")), bool(src[key].get("optional"))
    for c in containers(pod_spec):
        for ef in c.get("envFrom") or []:
            for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if isinstance(ef, dict) and isinstance(ef.get(key), dict):
                    yield kind, str(ef[key].get("name", "")), bool(ef[key].get("optional"))
        for env in c.get("env") or []:
            vf = env.get("valueFrom") if isinstance(env, dict) else None
            if isinstance(vf, dict):
                for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if isinstance(vf.get(key), dict):
                        yield kind, str(vf[key].get("name", "")), bool(vf[key].get("optional"))
    for s in pod_spec.get("imagePullSecrets") or []:
        if isinstance(s, dict) and s.get("name"):
            yield "Secret", str(s["name"]), True


def env_values(container: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for env in container.get("env") or []:
        if isinstance(env, dict) and isinstance(env.get("value"), str | int | float):
            yield str(env.get("name", "")), str(env["value"])


def workload_of(ev: Evidence, pod: Obj) -> ObjectRef:
    cache = ev.memo("workload_of")
    key = id(pod)
    if key not in cache:
        cache[key] = top_owner(ev, pod)
    ref: ObjectRef = cache[key]
    return ref


def sa_ref(pod_spec: dict[str, Any], namespace: str) -> ObjectRef:
    name = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
    return ObjectRef("ServiceAccount", namespace, str(name))
