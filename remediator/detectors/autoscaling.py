"""autoscaling: a HorizontalPodAutoscaler cannot act (no resource requests, metrics unavailable)."""

from __future__ import annotations

import re

from remediator.detectors.base import Detector, event_line, events_of, finding, status_line
from remediator.evidence.relations import conditions, spec
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

FAILED = re.compile(
    r"missing request for (?P<res>\w+)(?: in container \"?(?P<c>[^\"\s]+)\"?)?|unable to (?:get|fetch) metrics|"
    r"failed to get \w+ utilization|no metrics returned|the server could not find the requested resource",
    re.I,
)


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for hpa in ev.scoped("HorizontalPodAutoscaler"):
        lines: list[EvidenceLine] = []
        for c in conditions(hpa):
            if (
                c.get("type") in ("ScalingActive", "AbleToScale")
                and c.get("status") == "False"
                and c.get("reason") != "ScalingDisabled"
            ):
                lines.append(
                    status_line(
                        hpa, f"status.conditions[{c.get('type')}]", f"{c.get('reason')}: {c.get('message', '')}"
                    )
                )
        lines += [event_line(e) for e in events_of(ev, hpa) if e.type != "Normal" and FAILED.search(e.message)][-2:]
        if not lines:
            continue
        text = " ".join(ln.text for ln in lines)
        # the missing-request match, when any, though "failed to get cpu utilization" comes first
        m = next((x for x in FAILED.finditer(text) if x.group("res")), None) or FAILED.search(text)
        if m and m.group("res"):
            cause = f"containers of the target set no {m.group('res')} request, so utilisation cannot be computed"
        elif "FailedGetScale" in text:
            cause = "the scale target does not exist"
        else:
            cause = "resource metrics are unavailable (metrics-server missing or failing)"
        ref = ref_of(hpa)
        tgt = spec(hpa).get("scaleTargetRef") or {}
        target = ObjectRef(str(tgt.get("kind", "")), ref.namespace, str(tgt.get("name", "")))
        # missing requests: the target's pod template must change, so the target is the culprit
        culprit = target if m and m.group("res") and target.kind and target.name else ref
        out.append(
            finding(
                Category.AUTOSCALING,
                culprit,
                f"{ref} cannot scale {target.name}: {cause}",
                confidence=0.85,
                chain=(f"{target} is not scaled", f"HPA {ref.name} ScalingActive=False", cause),
                evidence=lines,
                detector="autoscaling",
                affects={ref, culprit},
                details={
                    "hpa": ref.as_dict(),
                    "target": target.as_dict(),
                    "resource": m.group("res") if m and m.group("res") else None,
                    "container": m.group("c") if m and m.group("c") else None,
                },
            )
        )
    return out


DETECTOR = Detector("autoscaling", (Category.AUTOSCALING,), detect, "HPA ScalingActive=False / FailedGetResourceMetric")
