"""rbac-forbidden: a service account is denied by the API server."""

from __future__ import annotations

import difflib
import re

from remediator.detectors.base import Detector, LogHit, finding, log_line, scan_logs
from remediator.detectors.signatures import LOG_SIGNATURES
from remediator.evidence.relations import pod_template, sa_ref, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, Finding, ObjectRef


def bindings_naming(ev: Evidence, sa_name: str) -> list[tuple[Obj, int, dict[str, object]]]:
    """(binding, subject index, subject) for every ServiceAccount subject with that name (cluster and Git)."""
    out = []
    seen = set()
    for source in (ev.all("ClusterRoleBinding") + ev.all("RoleBinding"), ev.desired):
        for b in source:
            if b.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
                continue
            key = (b.get("kind"), ref_of(b).name, ref_of(b).namespace)
            if key in seen:
                continue
            for i, s in enumerate(b.get("subjects") or []):
                if isinstance(s, dict) and s.get("kind") == "ServiceAccount" and s.get("name") == sa_name:
                    out.append((b, i, s))
                    seen.add(key)
    return out


def _role_grants(ev: Evidence, binding: Obj, verb: str, resource: str, group: str) -> bool:
    """Whether the role a binding refers to (cluster or Git) has a rule allowing verb on group/resource."""
    kind, name = _role_key(binding)
    ns = "" if kind == "ClusterRole" else ref_of(binding).namespace
    roles = [r for r in (ev.all(kind) + ev.desired) if r.get("kind") == kind and ref_of(r).name == name]
    roles = [r for r in roles if kind == "ClusterRole" or ref_of(r).namespace in (ns, "")]
    for role in roles:
        for rule in role.get("rules") or []:
            if not isinstance(rule, dict):
                continue
            groups = [str(g) for g in rule.get("apiGroups") or []]
            resources = [str(r) for r in rule.get("resources") or []]
            verbs = [str(v) for v in rule.get("verbs") or []]
            if (
                (group in groups or "*" in groups)
                and (resource in resources or "*" in resources)
                and (verb in verbs or "*" in verbs)
            ):
                return True
    return False


def misnamed_subjects(
    ev: Evidence, sa: ObjectRef, verb: str, resource: str, group: str
) -> list[tuple[Obj, int, dict[str, object]]]:
    """Bindings whose role grants the denied call to a ServiceAccount subject that exists nowhere (neither in
    the cluster nor in Git), in the denied account's namespace: the subject most likely meant this account."""
    existing = {(ref_of(o).namespace, ref_of(o).name) for o in ev.all("ServiceAccount")}
    existing |= {(ref_of(o).namespace, ref_of(o).name) for o in ev.desired if o.get("kind") == "ServiceAccount"}
    out = []
    seen = set()
    for source in (ev.desired, ev.all("ClusterRoleBinding") + ev.all("RoleBinding")):
        for b in source:
            kind = b.get("kind")
            if kind not in ("RoleBinding", "ClusterRoleBinding"):
                continue
            key = (kind, ref_of(b).name, ref_of(b).namespace)
            if key in seen or (kind == "RoleBinding" and ref_of(b).namespace not in (sa.namespace, "")):
                continue
            for i, s in enumerate(b.get("subjects") or []):
                if not isinstance(s, dict) or s.get("kind") != "ServiceAccount":
                    continue
                sns = str(s.get("namespace") or ref_of(b).namespace or sa.namespace)
                if sns != sa.namespace or (sns, str(s.get("name"))) in existing:
                    continue
                if _role_grants(ev, b, verb, resource, group):
                    out.append((b, i, s))
                    seen.add(key)
                    break
    return out


def _role_key(binding: Obj) -> tuple[str, str]:
    role = binding.get("roleRef") or {}
    return str(role.get("kind") or "ClusterRole"), str(role.get("name"))


def detect(ev: Evidence) -> list[Finding]:
    hits = scan_logs(ev, LOG_SIGNATURES, "core")["rbac"]
    groups: dict[ObjectRef, list[LogHit]] = {}
    pods: dict[ObjectRef, Obj] = {}
    for h in hits:
        pod = ev.get("Pod", h.log.namespace, h.log.pod)
        user = h.match.groupdict().get("user") or ""
        if user.startswith("system:serviceaccount:") and user.count(":") == 3:
            _, _, ns, name = user.split(":")
            sa = ObjectRef("ServiceAccount", ns, name)
        elif pod is not None:
            sa = sa_ref(pod_template(pod), ref_of(pod).namespace)
        else:
            continue
        groups.setdefault(sa, []).append(h)
        if pod is not None:
            pods.setdefault(sa, pod)
    out = []
    for sa, sahits in groups.items():
        h = sahits[-1]
        gd = h.match.groupdict()
        verb, resource = gd.get("verb") or "?", gd.get("resource") or "?"
        pod = pods.get(sa)
        touched: set[ObjectRef] = set()
        if pod is not None:
            touched = {ref_of(pod), workload_of(ev, pod)}
        bindings = bindings_naming(ev, sa.name)
        wrong = [(b, i, s) for b, i, s in bindings if str(s.get("namespace") or ref_of(b).namespace) != sa.namespace]
        right = [(b, i, s) for b, i, s in bindings if (b, i, s) not in wrong]
        details: dict[str, object] = {
            "service_account": sa.as_dict(),
            "verb": verb,
            "resource": resource,
            "group": gd.get("group") or "",
            "scope_namespace": gd.get("ns") or "",
            "cluster_scope": bool(re.search(r"\bat the cluster scope\b", h.line)),
        }
        if wrong and not right:
            b, i, s = wrong[0]
            culprit = ref_of(b)
            cause = (
                f"{culprit.kind} {culprit.name} binds ServiceAccount {sa.name} in namespace "
                f"{s.get('namespace')!r}, but the account runs in {sa.namespace!r}"
            )
            details.update(subject_index=i, wrong_namespace=s.get("namespace"), right_namespace=sa.namespace)
            conf = 0.93
        elif right:
            # the binding that can grant the denied call (a RoleBinding only in the denied namespace; a
            # cluster-scope call only through a ClusterRoleBinding), its role declared in the app's source first
            scope_ns = str(gd.get("ns") or "")
            effective = [
                x
                for x in right
                if x[0].get("kind") == "ClusterRoleBinding"
                or (not details["cluster_scope"] and (not scope_ns or ref_of(x[0]).namespace in (scope_ns, "")))
            ]
            declared = {(str(o.get("kind")), ref_of(o).name) for o in ev.desired}
            effective.sort(key=lambda x: _role_key(x[0]) not in declared)
            b = (effective or right)[0][0]
            details["binding"] = ref_of(b).as_dict()
            role = b.get("roleRef") or {}
            rk = str(role.get("kind") or "ClusterRole")
            culprit = ObjectRef(rk, "" if rk == "ClusterRole" else ref_of(b).namespace, str(role.get("name")))
            cause = f"{rk} {culprit.name} bound to {sa.name} has no rule to {verb} {resource}"
            if not effective:
                where = "at the cluster scope" if details["cluster_scope"] else f"in namespace {scope_ns}"
                cause = f"no binding of {sa.name} can grant {verb} {resource} {where} ({rk} {culprit.name} is bound elsewhere)"
            conf = 0.85
        elif (
            verb != "?"
            and resource != "?"
            and (
                misnamed := sorted(
                    misnamed_subjects(ev, sa, verb, resource, str(gd.get("group") or "")),
                    key=lambda x: -difflib.SequenceMatcher(None, str(x[2].get("name")), sa.name).ratio(),
                )
            )
        ):
            b, i, s = misnamed[0]
            culprit = ref_of(b)
            cause = (
                f"{culprit.kind} {culprit.name} grants {verb} {resource} to ServiceAccount {s.get('name')!r}, "
                f"which does not exist in {sa.namespace!r}; the pods run as {sa.name!r}"
            )
            details.update(subject_index=i, wrong_name=s.get("name"), wrong_namespace=s.get("namespace"))
            conf = 0.9
        else:
            culprit = sa
            cause = f"no RoleBinding or ClusterRoleBinding grants ServiceAccount {sa.namespace}/{sa.name} anything"
            conf = 0.85
        touched.add(culprit)
        out.append(
            finding(
                Category.RBAC_FORBIDDEN,
                culprit,
                f"ServiceAccount {sa.namespace}/{sa.name} cannot {verb} {resource}: {cause}",
                confidence=conf,
                chain=(
                    *([f"{workload_of(ev, pod)} fails"] if pod is not None else []),
                    f'API server: User "system:serviceaccount:{sa.namespace}:{sa.name}" cannot {verb} "{resource}" (403)',
                    cause,
                ),
                evidence=[log_line(x.log, x.lineno, x.line) for x in sahits[-3:]],
                detector="rbac",
                affects=touched,
                details=details,
            )
        )
    return out


DETECTOR = Detector("rbac", (Category.RBAC_FORBIDDEN,), detect, "forbidden: User system:serviceaccount:... cannot ...")
