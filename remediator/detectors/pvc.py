"""pvc-pending: a PersistentVolumeClaim stays unbound (size below class minimum, no provisioner, no class)."""

from __future__ import annotations

import re

from remediator.detectors.base import Detector, event_line, events_of, finding, spec_line, status_line
from remediator.evidence.relations import dig, pod_references, spec, status, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

SIZE_HINT = re.compile(
    r"(?:size|capacity|disk|storage|volume)[^.]*?(?:invalid|must|minimum|at least|less than|smaller|range|\[)|"
    r"(?:minimum|at least)\s*\d+\s*[GMT]i?",
    re.I,
)
MIN_SIZE = re.compile(
    r"(?:minimum(?: size)?(?: is| of)?|at least|must be (?:>=|greater than or equal to)|\[)\s*(\d+)\s*([GMT]i?B?)?",
    re.I,
)


def pods_using(ev: Evidence, claim: Obj) -> list[Obj]:
    ref = ref_of(claim)
    return [
        p
        for p in ev.all("Pod", ref.namespace)
        if any(k == "PersistentVolumeClaim" and n == ref.name for k, n, _ in pod_references(spec(p)))
    ]


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for pvc in ev.scoped("PersistentVolumeClaim"):
        if status(pvc).get("phase") in ("Bound",):
            continue
        ref = ref_of(pvc)
        events = [e for e in events_of(ev, pvc)]
        warn = [e for e in events if e.type != "Normal" or e.reason in ("ExternalProvisioning", "ProvisioningFailed")]
        cls_name = spec(pvc).get("storageClassName")
        cls = ev.get("StorageClass", "", str(cls_name)) if cls_name else None
        if cls_name is None:
            defaults = [
                c
                for c in ev.all("StorageClass")
                if dig(c, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class") == "true"
            ]
            cls = defaults[0] if defaults else None
        users = pods_using(ev, pvc)
        blocked = [p for p in users if status(p).get("phase") == "Pending"]
        wffc = any(e.reason == "WaitForFirstConsumer" for e in events) or (
            cls is not None and cls.get("volumeBindingMode") == "WaitForFirstConsumer"
        )
        if wffc and not any(e.reason == "ProvisioningFailed" for e in events):
            continue  # normal until a pod is scheduled; the scheduler finding says why it is not
        request = dig(pvc, "spec", "resources", "requests", "storage")
        text = " ".join(e.message for e in warn)
        minimum = None
        if cls_name and cls is None and "StorageClass" in ev.kinds():
            cause = f"StorageClass {cls_name} does not exist"
        elif cls_name is None and cls is None:
            cause = "the claim names no StorageClass and the cluster has no default class"
        elif SIZE_HINT.search(text):
            m = MIN_SIZE.search(text)
            minimum = f"{m.group(1)}{(m.group(2) or 'Gi').replace('B', '')}" if m else None
            cause = f"requested size {request} is below what StorageClass {cls_name} provisions" + (
                f" (minimum {minimum})" if minimum else ""
            )
        elif any(e.reason == "ProvisioningFailed" for e in warn):
            cause = f"the provisioner of StorageClass {cls_name} fails: {next(e.message for e in warn if e.reason == 'ProvisioningFailed')[:160]}"
        elif cls is not None and cls.get("provisioner") == "kubernetes.io/no-provisioner":
            cause = f"StorageClass {cls_name} has no provisioner and no PersistentVolume matches"
        elif warn or blocked:
            prov = cls.get("provisioner") if cls else "?"
            cause = f"no volume is provisioned for it by {prov}"
        else:
            continue
        touched: set[ObjectRef] = {ref}
        for p in blocked or users:
            touched |= {ref_of(p), workload_of(ev, p)}
        wls = sorted({workload_of(ev, p) for p in users})
        lines: list[EvidenceLine] = [status_line(pvc, "status.phase", str(status(pvc).get("phase") or "Pending"))]
        lines += [event_line(e) for e in warn[-3:]]
        for p in blocked[:1]:
            lines += [event_line(e) for e in events_of(ev, p) if e.reason == "FailedScheduling"][-1:]
        if cls is not None:
            lines.append(
                spec_line(
                    cls,
                    "provisioner",
                    f"provisioner: {cls.get('provisioner')}, volumeBindingMode: {cls.get('volumeBindingMode', 'Immediate')}",
                )
            )
        out.append(
            finding(
                Category.PVC_PENDING,
                ref,
                f"{ref} ({request}, class {cls_name or 'default'}) stays Pending: {cause}",
                confidence=0.92 if warn or (cls_name and cls is None) else 0.75,
                chain=(
                    *(f"{w} is not available" for w in wls[:2]),
                    *(["Pod Pending: unbound immediate PersistentVolumeClaims"] if blocked else []),
                    f"PersistentVolumeClaim {ref.name} Pending",
                    cause,
                ),
                evidence=lines,
                detector="pvc",
                affects=touched,
                details={
                    "request": request,
                    "storage_class": cls_name,
                    "minimum": minimum,
                    "provisioner": cls.get("provisioner") if cls else None,
                },
            )
        )
    return out


DETECTOR = Detector("pvc", (Category.PVC_PENDING,), detect, "PersistentVolumeClaims that stay Pending")
