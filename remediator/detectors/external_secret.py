"""external-secret-sync: an ExternalSecret cannot sync from its provider (Vault sealed, auth denied, path empty)."""

from __future__ import annotations

import re

from remediator.detectors.base import Detector, event_line, events_of, finding, log_line, status_line
from remediator.evidence.relations import condition, dig, pod_references, pod_template, spec, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

# Provider errors as External Secrets Operator and the providers print them, most telling last.
PROVIDER_CAUSES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"connection refused|no such host|i/o timeout|dial tcp", re.I), "the provider cannot be reached"),
    (re.compile(r"Vault is sealed|Code: 503", re.I), "Vault is sealed (503)"),
    (
        re.compile(r"permission denied|Code: 403|AccessDenied|unauthorized|401", re.I),
        "the provider denies the store's credentials (403 permission denied)",
    ),
    (
        re.compile(
            r"Secret does not exist|secret not found|No value found|NoSuchKey|ResourceNotFound|key .* not found", re.I
        ),
        "the secret path or key is empty in the provider",
    ),
]


def _not_ready(obj: Obj) -> dict[str, object] | None:
    ready = condition(obj, "Ready")
    if ready is not None and ready.get("status") != "True":
        return ready
    return None


def _mentions(ev: Evidence, names: set[str]) -> list[EvidenceLine]:
    """Controller log lines (any namespace) that name the ExternalSecret or its store."""
    out: list[EvidenceLine] = []
    quoted = [re.compile(r"(?<![\w-])" + re.escape(n) + r"(?![\w-])") for n in names if n]
    for log in ev.all_logs():
        if not any(n in log.text() for n in names if n):
            continue
        for i, line in log.numbered():
            if any(rx.search(line) for rx in quoted) and re.search(
                r"error|fail|denied|sealed|refused|not exist|not found", line, re.I
            ):
                out.append(log_line(log, i, line))
    return out[-12:]


def detect(ev: Evidence) -> list[Finding]:
    out = []
    users: dict[tuple[str, str], list[Obj]] = {}
    for kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
        for obj in ev.scoped(kind):
            ns = ref_of(obj).namespace
            for rk, name, _ in pod_references(pod_template(obj)):
                if rk == "Secret":
                    users.setdefault((ns, name), []).append(obj)
    candidates = list(ev.scoped("ExternalSecret"))
    for es in ev.all("ExternalSecret"):
        target = str(dig(es, "spec", "target", "name") or es["metadata"]["name"])
        if (ref_of(es).namespace, target) in users and es not in candidates:
            candidates.append(es)
    for es in candidates:
        ref = ref_of(es)
        store_ref = spec(es).get("secretStoreRef") or {}
        store_kind = str(store_ref.get("kind") or "SecretStore") if isinstance(store_ref, dict) else "SecretStore"
        store_name = str(store_ref.get("name") or "") if isinstance(store_ref, dict) else ""
        store = ev.get(store_kind, ref.namespace, store_name) if store_name else None
        ready = _not_ready(es)
        store_bad = _not_ready(store) if store is not None else None
        if ready is None and store_bad is None:
            continue
        target = str(dig(es, "spec", "target", "name") or ref.name)
        secret_ref = ObjectRef("Secret", ref.namespace, target)
        lines: list[EvidenceLine] = []
        if ready is not None:
            lines.append(
                status_line(es, "status.conditions[Ready]", f"{ready.get('reason', '')}: {ready.get('message', '')}")
            )
        if store is not None and store_bad is not None:
            lines.append(
                status_line(
                    store, "status.conditions[Ready]", f"{store_bad.get('reason', '')}: {store_bad.get('message', '')}"
                )
            )
        lines += [event_line(e) for e in events_of(ev, es) if e.type != "Normal"][-3:]
        lines += _mentions(ev, {ref.name, store_name})
        cause = "the provider returned an error"
        causes = []
        text = "\n".join(ln.text for ln in lines)
        for rx, label in PROVIDER_CAUSES:
            if rx.search(text):
                causes.append(label)
        if causes:
            cause = "; then ".join(causes[-2:])
        dependents = users.get((ref.namespace, target), [])
        touched = {secret_ref, ref}
        for d in dependents:
            touched.add(ref_of(d))
            touched.add(workload_of(ev, d))
        wls = sorted({workload_of(ev, d) for d in dependents})
        missing = ev.get_ref(secret_ref) is None
        out.append(
            finding(
                Category.EXTERNAL_SECRET_SYNC,
                ref,
                f"{ref} cannot sync Secret {target} from {store_kind} {store_name}: {cause}",
                confidence=0.92 if ready is not None else 0.8,
                chain=(
                    *(f"{w} is not available" for w in wls[:3]),
                    *(["Pod CreateContainerConfigError"] if dependents and missing else []),
                    f"Secret {target} {'not found' if missing else 'is stale'}",
                    f"ExternalSecret {ref.name} {(ready or {}).get('reason') or 'not ready'}",
                    cause,
                ),
                evidence=lines,
                detector="external_secret",
                affects=touched,
                details={"store": {"kind": store_kind, "name": store_name}, "target": target, "causes": causes},
            )
        )
    return out


DETECTOR = Detector("external_secret", (Category.EXTERNAL_SECRET_SYNC,), detect, "ExternalSecret not Ready")
