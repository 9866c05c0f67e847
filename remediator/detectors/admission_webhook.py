"""admission-webhook: an admission webhook rejects or blocks objects (Service missing, timing out, denying)."""

from __future__ import annotations

import re

from remediator.detectors.app_messages import sync_messages
from remediator.detectors.base import Detector, controller_events, event_line, finding
from remediator.evidence.relations import workload_of
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

CALLING = re.compile(r'failed calling webhook "(?P<hook>[^"]+)"')
DENIED = re.compile(r'admission webhook "(?P<hook>[^"]+)" denied the request')


def configuration_of(ev: Evidence, hook: str) -> Obj | None:
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for cfg in ev.all(kind):
            if any(isinstance(w, dict) and w.get("name") == hook for w in cfg.get("webhooks") or []):
                return cfg
    return None


def why(text: str) -> str:
    t = text.lower()
    if "service" in t and "not found" in t:
        return "the webhook's Service does not exist"
    if "no endpoints available" in t or "connection refused" in t:
        return "the webhook's Service has no running backend"
    if "deadline exceeded" in t or "timeout" in t or "timed out" in t:
        return "the webhook does not answer in time"
    if "x509" in t or "certificate" in t:
        return "the webhook's TLS certificate is not trusted"
    if "denied the request" in t:
        return "the webhook denies the object: " + text.split("denied the request", 1)[1].strip(" :")[:140]
    return text[:160]


def detect(ev: Evidence) -> list[Finding]:
    found: dict[ObjectRef, tuple[str, list[EvidenceLine], set[ObjectRef]]] = {}
    sources: list[tuple[ObjectRef, str, EvidenceLine]] = []
    for obj, e in controller_events(ev):
        if e.type != "Normal":
            sources.append((workload_of(ev, obj), e.message, event_line(e)))
    for msg in sync_messages(ev):
        sources.append((msg.resource or ref_of(msg.app), msg.text, msg.line))
    for rejected, text, line in sources:
        m = CALLING.search(text) or DENIED.search(text)
        if not m:
            continue
        hook = m.group("hook")
        cfg = configuration_of(ev, hook)
        if CALLING.search(text) and cfg is not None:
            culprit = ref_of(cfg)
        elif CALLING.search(text):
            culprit = ObjectRef("ValidatingWebhookConfiguration", "", hook)
        else:
            culprit = rejected
        entry = found.setdefault(culprit, (text, [], set()))
        entry[1].append(line)
        entry[2].update({rejected, culprit})
    out = []
    for culprit, (text, lines, touched) in found.items():
        cause = why(text)
        out.append(
            finding(
                Category.ADMISSION_WEBHOOK,
                culprit,
                f"admission webhook blocks {', '.join(sorted(str(t) for t in touched if t != culprit)) or culprit}: {cause}",
                confidence=0.9,
                chain=("objects cannot be created or updated", f"admission webhook call fails for {culprit}", cause),
                evidence=lines,
                detector="admission_webhook",
                affects=touched,
                details={"message": text[:300]},
            )
        )
    return out


DETECTOR = Detector(
    "admission_webhook", (Category.ADMISSION_WEBHOOK,), detect, "failed calling webhook / webhook denied"
)
