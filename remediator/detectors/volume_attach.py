"""volume-attach: a volume cannot be attached or mounted (Multi-Attach for ReadWriteOnce, mount timeouts)."""

from __future__ import annotations

import re

from remediator.detectors.base import Detector, affects, event_line, events_of, finding, scoped_pods
from remediator.evidence.relations import dig, spec, status, workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, Finding, ObjectRef

ATTACH = re.compile(
    r"Multi-Attach error for volume \"(?P<vol>[^\"]+)\"|AttachVolume\.Attach failed for volume \"(?P<vol2>[^\"]+)\"|"
    r"Unable to attach or mount volumes: unmounted volumes=\[(?P<names>[^\]]*)\]|"
    r"MountVolume\.(?:MountDevice|WaitForAttach) failed for volume \"(?P<vol3>[^\"]+)\"",
    re.I,
)
NOT_OURS = re.compile(r'(?:secret|configmap)s? "[^"]+" not found', re.I)
# the attach/detach controller names the pods of the same namespace that hold the volume
USED_BY = re.compile(r"Volume is already used by pod\(s\) (?P<pods>[^\s,]+(?:, [^\s,]+)*)")


def holder_workload(ev: Evidence, namespace: str, pod: str) -> ObjectRef | None:
    """The workload of a pod named in a Multi-Attach message: from the pod, else from its ReplicaSet."""
    obj = ev.get("Pod", namespace, pod)
    if obj is not None:
        return workload_of(ev, obj)
    rs = ev.get("ReplicaSet", namespace, pod.rsplit("-", 1)[0])
    return workload_of(ev, rs) if rs is not None else None


def claim_for(ev: Evidence, pod: Obj, volume: str) -> ObjectRef | None:
    ns = ref_of(pod).namespace
    pv = ev.get("PersistentVolume", "", volume)
    claim = dig(pv, "spec", "claimRef", "name") if pv else None
    if claim:
        return ObjectRef("PersistentVolumeClaim", ns, str(claim))
    for v in spec(pod).get("volumes") or []:
        if isinstance(v, dict) and v.get("name") == volume and dig(v, "persistentVolumeClaim", "claimName"):
            return ObjectRef("PersistentVolumeClaim", ns, str(v["persistentVolumeClaim"]["claimName"]))
    claims = [
        dig(v, "persistentVolumeClaim", "claimName") for v in spec(pod).get("volumes") or [] if isinstance(v, dict)
    ]
    claims = [c for c in claims if c]
    return ObjectRef("PersistentVolumeClaim", ns, str(claims[0])) if len(claims) == 1 else None


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for pod in scoped_pods(ev):
        if status(pod).get("phase") == "Running" and all(
            c.get("ready") for c in status(pod).get("containerStatuses") or [] if isinstance(c, dict)
        ):
            continue
        events = [
            e
            for e in events_of(ev, pod)
            if e.type != "Normal" and ATTACH.search(e.message) and not NOT_OURS.search(e.message)
        ]
        if not events:
            continue
        # the Multi-Attach event names the cause; the mount time-outs that follow it only repeat the symptom
        main = next((e for e in reversed(events) if "Multi-Attach" in e.message), events[-1])
        m = ATTACH.search(main.message)
        assert m is not None
        vol = m.group("vol") or m.group("vol2") or m.group("vol3") or (m.group("names") or "").split(" ")[0]
        wl = workload_of(ev, pod)
        claim = claim_for(ev, pod, vol)
        multi = "Multi-Attach" in main.message
        um = USED_BY.search(main.message)
        used_by = [p.strip() for p in um.group("pods").split(",")] if um else []
        holders = {holder_workload(ev, ref_of(pod).namespace, p) for p in used_by}
        # a rollout that deadlocks: the old pod of the same workload holds the ReadWriteOnce volume
        same_workload = bool(multi and used_by and holders == {wl} and wl != ref_of(pod))
        cause = (
            "the ReadWriteOnce volume is still attached to another pod/node (Multi-Attach)"
            if multi
            else f"volume {vol} cannot be attached or mounted in time"
        )
        out.append(
            finding(
                Category.VOLUME_ATTACH,
                wl if same_workload else claim or wl,
                f"pod of {wl} cannot start: {cause}",
                confidence=0.88,
                chain=(f"{wl} is not available", f"Pod {ref_of(pod).name} ContainerCreating", cause),
                evidence=[event_line(e) for e in events[-3:]],
                detector="volume_attach",
                affects=affects(ev, pod) | ({claim} if claim else set()),
                details={
                    "volume": vol,
                    "multi_attach": multi,
                    "workload": wl.as_dict(),
                    "claim": claim.name if claim else "",
                    "used_by": used_by,
                    "holders": sorted(str(h) for h in holders if h is not None),
                    "same_workload": same_workload,
                },
            )
        )
    return out


DETECTOR = Detector(
    "volume_attach", (Category.VOLUME_ATTACH,), detect, "FailedAttachVolume / Multi-Attach / mount timeouts"
)
