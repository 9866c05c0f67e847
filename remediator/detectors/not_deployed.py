"""not-deployed: resources declared in Git are missing from the cluster (Argo CD OutOfSync/Missing)."""

from __future__ import annotations

import re

from remediator.detectors.base import Detector, finding, status_line
from remediator.evidence.relations import dig, labels, selector_matches, spec
from remediator.evidence.store import CLUSTER_SCOPED, WORKLOAD_KINDS, Evidence, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

EXCLUDED = re.compile(
    r"Resource (?P<group>[\w.-]*)/(?P<kind>[A-Za-z]+) (?P<name>[a-z0-9][a-z0-9.-]*) is excluded in the settings"
)
ORDER = {k: i for i, k in enumerate(("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Service"))}


def _rank(ref: ObjectRef) -> int:
    return ORDER.get(ref.kind, len(ORDER))


def detect(ev: Evidence) -> list[Finding]:
    missing: dict[ObjectRef, tuple[float, list[EvidenceLine]]] = {}
    apps = ev.scoped("Application")
    for app in apps:
        dest = str(dig(app, "spec", "destination", "namespace") or "")
        for i, r in enumerate(dig(app, "status", "resources") or []):
            if not isinstance(r, dict) or not r.get("name") or not r.get("kind"):
                continue
            kind = str(r["kind"])
            ref = ObjectRef(kind, "" if kind in CLUSTER_SCOPED else str(r.get("namespace") or dest), str(r["name"]))
            health = dig(r, "health", "status")
            absent = ev.get_ref(ref) is None
            if health == "Missing" or (r.get("status") == "OutOfSync" and absent and kind in ev.kinds()):
                text = f"status: {r.get('status')}, health: {health or '-'}"
                # When the last sync failed, missing resources follow from that failure (the sync-failed or
                # admission-webhook finding says why), so they rank below it.
                failed = dig(app, "status", "operationState", "phase") in ("Failed", "Error")
                missing[ref] = (
                    0.6 if failed else 0.9 if health == "Missing" else 0.7,
                    [status_line(app, f"status.resources[{i}]", f"{kind} {ref.name}: {text}")],
                )
    excluded: dict[ObjectRef, str] = {}
    for app in apps:
        dest = str(dig(app, "spec", "destination", "namespace") or "")
        for i, c in enumerate(dig(app, "status", "conditions") or []):
            m = EXCLUDED.search(str(c.get("message") or "")) if isinstance(c, dict) else None
            if m is None:
                continue
            kind = m.group("kind")
            ref = ObjectRef(kind, "" if kind in CLUSTER_SCOPED else dest, m.group("name"))
            excluded[ref] = m.group("group")
            missing[ref] = (0.85, [status_line(app, f"status.conditions[{i}]", f"{c.get('type')}: {m.group(0)}")])
    dest = str(dig(ev.app, "spec", "destination", "namespace") or "") if ev.app else ""
    for obj in ev.desired:
        ref = ref_of(obj)
        if not ref.namespace and ref.kind not in CLUSTER_SCOPED:
            ref = ObjectRef(ref.kind, dest or "default", ref.name)
        if ref in missing or ref.kind not in ev.kinds() or ev.get_ref(ref) is not None:
            continue
        if ref.kind not in WORKLOAD_KINDS and ref.kind not in ("Service", "Ingress", "ConfigMap", "ServiceAccount"):
            continue
        missing[ref] = (
            0.6,
            [EvidenceLine(f"git {obj.get('_source', 'repo')}", f"{ref} is declared but absent from the cluster")],
        )
    out = []
    for ref, (conf, lines) in sorted(missing.items(), key=lambda kv: (_rank(kv[0]), kv[0])):
        touched = {ref}
        # A missing workload also explains its Service having no endpoints.
        desired = next((o for o in ev.desired if ref_of(o).name == ref.name and o.get("kind") == ref.kind), None)
        tmpl_labels = dig(desired, "spec", "template", "metadata", "labels") if desired else None
        if isinstance(tmpl_labels, dict):
            for svc in ev.all("Service", ref.namespace):
                if spec(svc).get("selector") and selector_matches(spec(svc)["selector"], tmpl_labels):
                    touched.add(ref_of(svc))
        if ref in excluded:
            group = excluded[ref]
            summary = (
                f"{ref} is declared in Git but Argo CD never applies it: {group or 'core'}/{ref.kind} is in "
                "resource.exclusions of argocd-cm (Argo CD 3.0+ excludes Endpoints and EndpointSlice by default)"
            )
            chain: tuple[str, ...] = (
                "Application condition ExcludedResourceWarning",
                f"{ref} is skipped by discovery and sync",
                f"argocd-cm resource.exclusions lists {group or 'core'}/{ref.kind}",
            )
        else:
            summary = f"{ref} is declared in Git but missing from the cluster"
            chain = ("Application OutOfSync / Missing", f"{ref} was never applied (or was deleted)")
        out.append(
            finding(
                Category.NOT_DEPLOYED,
                ref,
                summary,
                confidence=conf,
                chain=chain,
                evidence=lines,
                detector="not_deployed",
                affects=touched,
                details={
                    "labels": labels(desired) if desired else {},
                    **({"excluded_by_argocd": True, "group": excluded[ref]} if ref in excluded else {}),
                },
            )
        )
    return out


DETECTOR = Detector("not_deployed", (Category.NOT_DEPLOYED,), detect, "Application resources that are Missing")
