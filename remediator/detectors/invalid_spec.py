"""invalid-spec: the API server or a controller rejects the object as written."""

from __future__ import annotations

import re

from remediator.detectors.base import Detector, controller_events, event_line, finding, status_line
from remediator.evidence.relations import conditions, workload_of
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

INVALID = re.compile(
    r"no PriorityClass with name (?P<pc>\S+) was found|"
    r'priorityclass(?:\.scheduling\.k8s\.io)? "(?P<pc2>[^"]+)" not found|'
    r'(?P<objkind>serviceaccount|runtimeclass)(?:\.node\.k8s\.io)? "(?P<obj>[^"]+)" not found|'
    r"is invalid: |Invalid value: |Required value|Unsupported value|must be less than or equal to",
    re.I,
)
CLAIMED = re.compile(
    r"exceeded quota|usage per (?:Container|Pod)|violates PodSecurity|webhook|must specify (?:limits|requests)", re.I
)


def detect(ev: Evidence) -> list[Finding]:
    found: dict[ObjectRef, list[EvidenceLine]] = {}
    msgs: dict[ObjectRef, str] = {}
    for obj, e in controller_events(ev):
        if e.type == "Normal" or CLAIMED.search(e.message) or not INVALID.search(e.message):
            continue
        wl = workload_of(ev, obj)
        found.setdefault(wl, []).append(event_line(e))
        msgs.setdefault(wl, e.message)
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        for obj in ev.scoped(kind):
            for c in conditions(obj):
                msg = str(c.get("message", ""))
                if (
                    c.get("type") in ("ReplicaFailure", "FailureTarget")
                    and INVALID.search(msg)
                    and not CLAIMED.search(msg)
                ):
                    found.setdefault(ref_of(obj), []).append(
                        status_line(obj, f"status.conditions[{c.get('type')}]", msg)
                    )
                    msgs.setdefault(ref_of(obj), msg)
    out = []
    for wl, lines in found.items():
        m = INVALID.search(msgs[wl])
        gd = m.groupdict() if m else {}
        pc = gd.get("pc") or gd.get("pc2")
        if pc:
            cause = f"PriorityClass {pc} does not exist"
        elif gd.get("obj"):
            kind = {"serviceaccount": "ServiceAccount", "runtimeclass": "RuntimeClass"}[str(gd["objkind"]).lower()]
            cause = f"{kind} {gd['obj']} does not exist"
        else:
            cause = "the pod template is rejected as invalid"
        out.append(
            finding(
                Category.INVALID_SPEC,
                wl,
                f"{wl} cannot create pods: {cause}",
                confidence=0.9,
                chain=(f"{wl} has no pods", "pod creation rejected", cause),
                evidence=lines,
                detector="invalid_spec",
                affects={wl},
                details={"message": msgs[wl][:300], **({"priority_class": pc} if pc else {})},
            )
        )
    return out


DETECTOR = Detector(
    "invalid_spec", (Category.INVALID_SPEC,), detect, "FailedCreate: invalid pod template / missing referenced object"
)
