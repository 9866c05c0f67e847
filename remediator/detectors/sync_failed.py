"""sync-failed: Argo CD cannot apply the manifests (immutable field, invalid manifest, missing CRD, admission)."""

from __future__ import annotations

import re

from remediator.detectors.app_messages import sync_messages
from remediator.detectors.base import Detector, finding
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, EvidenceLine, Finding, ObjectRef

# Messages a more specific detector explains.
CLAIMED = re.compile(r"failed calling webhook|admission webhook .* denied|violates PodSecurity", re.I)


def why(text: str) -> str:
    t = text.lower()
    if "field is immutable" in t:
        return "a field that cannot change after creation was changed (immutable field)"
    if (
        "no matches for kind" in t
        or "could not find the requested resource" in t
        or "ensure crds are installed" in t
        or re.search(r"could not find \S+ for requested resource|crd is installed", t)
    ):
        return "the resource's CRD is not installed"
    if "is invalid" in t or "error validating" in t or "unknown field" in t:
        return "the manifest is rejected as invalid"
    if "forbidden" in t:
        return "the API server forbids the change"
    return text[:160]


def detect(ev: Evidence) -> list[Finding]:
    found: dict[ObjectRef, list[EvidenceLine]] = {}
    texts: dict[ObjectRef, str] = {}
    for msg in sync_messages(ev):
        if CLAIMED.search(msg.text) or not msg.text:
            continue
        ref = msg.resource or ref_of(msg.app)
        found.setdefault(ref, []).append(msg.line)
        texts.setdefault(ref, msg.text)
    out = []
    for ref, lines in found.items():
        cause = why(texts[ref])
        out.append(
            finding(
                Category.SYNC_FAILED,
                ref,
                f"Argo CD cannot apply {ref}: {cause}",
                confidence=0.9 if ref.kind != "Application" else 0.75,
                chain=("Application sync failed", f"{ref} rejected", cause),
                evidence=lines,
                detector="sync_failed",
                affects={ref},
                details={"message": texts[ref][:300]},
            )
        )
    return out


DETECTOR = Detector("sync_failed", (Category.SYNC_FAILED,), detect, "Application operationState / SyncFailed resources")
