"""Which objects belong to an Argo CD Application: tracked resources and their dependencies."""

from __future__ import annotations

from remediator.errors import NotFoundError
from remediator.evidence.relations import (
    dig,
    labels,
    meta,
    owner_refs,
    pod_references,
    pod_template,
    sa_ref,
    spec,
    top_owner,
)
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import ObjectRef

INSTANCE_LABEL = "app.kubernetes.io/instance"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"


def find_application(ev: Evidence, name: str) -> Obj:
    apps = [a for a in ev.all("Application") if meta(a).get("name") == name]
    if not apps:
        known = sorted({str(meta(a).get("name")) for a in ev.all("Application")})
        hint = f" (applications in the evidence: {', '.join(known)})" if known else " (the evidence has no Application)"
        raise NotFoundError(f"application {name!r} not found{hint}")
    return apps[0]


def tracked_refs(ev: Evidence, app: Obj) -> set[ObjectRef]:
    name = str(meta(app).get("name"))
    dest_ns = str(dig(app, "spec", "destination", "namespace") or "")
    out: set[ObjectRef] = {ref_of(app)}
    for r in dig(app, "status", "resources") or []:
        if isinstance(r, dict) and r.get("kind") and r.get("name"):
            ref = ObjectRef(str(r["kind"]), str(r.get("namespace") or ""), str(r["name"]))
            found = ev.get_ref(ref) or (ev.get(ref.kind, dest_ns, ref.name) if not ref.namespace else None)
            out.add(ref_of(found) if found is not None else ref)
    for ref in list(ev.refs()):
        obj = ev.get_ref(ref)
        if obj is None:
            continue
        if labels(obj).get(INSTANCE_LABEL) == name:
            out.add(ref)
            continue
        ann = meta(obj).get("annotations") or {}
        tid = ann.get(TRACKING_ANNOTATION) if isinstance(ann, dict) else None
        if isinstance(tid, str) and tid.split(":", 1)[0] == name:
            out.add(ref)
    return out


def _expand(ev: Evidence, focus: set[ObjectRef], namespaces: set[str]) -> None:
    # Pods (and ReplicaSets, Jobs) owned, directly or not, by something in focus.
    for kind in ("ReplicaSet", "Job", "Pod"):
        for obj in ev.all(kind):
            chain = []
            cur: Obj | None = obj
            hops = 0
            while cur is not None and hops < 5:
                chain.append(ref_of(cur))
                owners = owner_refs(cur)
                if not owners:
                    break
                if owners[0] in focus:
                    focus.update(chain)
                    break
                cur = ev.get_ref(owners[0])
                hops += 1
            if top_owner(ev, obj) in focus:
                focus.update(chain)
    for ref in list(focus):
        found = ev.get_ref(ref)
        if found is None:
            continue
        obj = found
        ns = ref.namespace
        if ns:
            namespaces.add(ns)
        if ref.kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"):
            ps = pod_template(obj)
            for kind, name, _opt in pod_references(ps):
                focus.add(ObjectRef(kind, ns, name))
            focus.add(sa_ref(ps, ns))
            if ps.get("nodeName"):
                focus.add(ObjectRef("Node", "", str(ps["nodeName"])))
        elif ref.kind == "Service":
            focus.add(ObjectRef("Endpoints", ns, ref.name))
            for es in ev.all("EndpointSlice", ns):
                if labels(es).get("kubernetes.io/service-name") == ref.name:
                    focus.add(ref_of(es))
        elif ref.kind == "ExternalSecret":
            store = spec(obj).get("secretStoreRef") or {}
            if isinstance(store, dict) and store.get("name"):
                kind = str(store.get("kind") or "SecretStore")
                focus.add(ObjectRef(kind, "" if kind == "ClusterSecretStore" else ns, str(store["name"])))
            target = dig(obj, "spec", "target", "name") or ref.name
            focus.add(ObjectRef("Secret", ns, str(target)))
        elif ref.kind == "Ingress":
            for svc in _ingress_services(obj):
                focus.add(ObjectRef("Service", ns, svc))
        elif ref.kind == "HorizontalPodAutoscaler":
            tgt = spec(obj).get("scaleTargetRef") or {}
            if isinstance(tgt, dict) and tgt.get("kind") and tgt.get("name"):
                focus.add(ObjectRef(str(tgt["kind"]), ns, str(tgt["name"])))
    # Claims → classes and volumes.
    for ref in list(focus):
        if ref.kind == "PersistentVolumeClaim":
            claim = ev.get_ref(ref)
            if claim is not None:
                obj = claim
                if spec(obj).get("storageClassName"):
                    focus.add(ObjectRef("StorageClass", "", str(spec(obj)["storageClassName"])))
                if spec(obj).get("volumeName"):
                    focus.add(ObjectRef("PersistentVolume", "", str(spec(obj)["volumeName"])))
    # Service accounts → the bindings that name them (in any namespace: a wrong one is the bug).
    sa_names = {r.name for r in focus if r.kind == "ServiceAccount"}
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for b in ev.all(kind):
            for s in b.get("subjects") or []:
                if isinstance(s, dict) and s.get("kind") == "ServiceAccount" and s.get("name") in sa_names:
                    focus.add(ref_of(b))
                    role = b.get("roleRef") or {}
                    if isinstance(role, dict) and role.get("name"):
                        rk = str(role.get("kind") or "ClusterRole")
                        focus.add(ObjectRef(rk, "" if rk == "ClusterRole" else ref_of(b).namespace, str(role["name"])))
    # Namespace-wide policy objects that act on the app's pods.
    for kind in ("ResourceQuota", "LimitRange", "NetworkPolicy"):
        for ns in namespaces:
            for obj in ev.all(kind, ns):
                focus.add(ref_of(obj))


def _ingress_services(obj: Obj) -> set[str]:
    out: set[str] = set()
    default = dig(obj, "spec", "defaultBackend", "service", "name")
    if default:
        out.add(str(default))
    for rule in spec(obj).get("rules") or []:
        for p in dig(rule, "http", "paths") or []:
            name = dig(p, "backend", "service", "name") or dig(p, "backend", "serviceName")
            if name:
                out.add(str(name))
    return out


def apply_scope(ev: Evidence, app: str | None) -> None:
    """Set ``ev.app`` and ``ev.focus`` for the named app; no app = the whole snapshot."""
    if app is None:
        apps = ev.all("Application")
        ev.app = apps[0] if len(apps) == 1 else None
        ev.focus = None
        return
    obj = find_application(ev, app)
    ev.app = obj
    focus = tracked_refs(ev, obj)
    dest_ns = str(dig(obj, "spec", "destination", "namespace") or "")
    present = [r for r in focus if r.kind != "Application" and ev.get_ref(r) is not None]
    if not present and dest_ns:
        # Nothing is tracked by label or status: take what is in the destination namespace.
        focus.update(r for r in ev.refs() if r.namespace == dest_ns)
    namespaces = {dest_ns} if dest_ns else set()
    _expand(ev, focus, namespaces)
    ev.focus = focus
