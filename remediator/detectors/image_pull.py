"""image-pull: an image cannot be pulled (bad name or tag, missing credentials, registry down)."""

from __future__ import annotations

import re

from remediator.detectors.base import (
    Detector,
    affects,
    container_states,
    event_line,
    events_of,
    finding,
    pod_container_specs,
    scoped_pods,
    status_line,
    unhealthy,
)
from remediator.evidence.relations import workload_of
from remediator.evidence.store import Evidence
from remediator.model import Category, Finding

PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
PULL_EVENT = re.compile(
    r"Failed to pull image|Error: (?:ErrImagePull|ImagePullBackOff)|Back-off pulling image|InvalidImageName", re.I
)
IMAGE_IN = re.compile(r'image "([^"]+)"')


def why(text: str) -> str:
    t = text.lower()
    if "unauthorized" in t or "authentication required" in t or "no basic auth" in t or "denied: " in t:
        return "the registry refuses the credentials"
    if "pull access denied" in t or "insufficient_scope" in t:
        # containerd and Docker print this both for a repository that does not exist and for one
        # that needs credentials: the registry denies access, it does not say which
        return "the registry denies access (the repository does not exist or needs credentials)"
    if "pull access denied" in t or "repository does not exist" in t or "not found" in t or "manifest unknown" in t:
        return "the image or tag does not exist"
    if "invalid reference format" in t or "invalidimagename" in t:
        return "the image reference is malformed"
    if "timeout" in t or "i/o timeout" in t or "no such host" in t or "connection refused" in t:
        return "the registry cannot be reached"
    return "the image cannot be pulled"


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for pod in scoped_pods(ev):
        specs = pod_container_specs(pod)
        events = [e for e in events_of(ev, pod) if e.type != "Normal" and PULL_EVENT.search(e.message + " " + e.reason)]
        states = [c for c in container_states(pod) if c.waiting_reason in PULL_REASONS]
        if not states and not (events and unhealthy(pod)):
            continue
        names = [c.name for c in states] or [
            n for n in specs if any(str(specs[n].get("image")) in e.message for e in events)
        ]
        cname = names[0] if names else next(iter(specs), "")
        image = str(specs.get(cname, {}).get("image", ""))
        if not image and events:
            m = IMAGE_IN.search(events[0].message)
            image = m.group(1) if m else ""
        texts = " ".join([c.waiting_message for c in states] + [e.message for e in events])
        cause = why(texts)
        wl = workload_of(ev, pod)
        out.append(
            finding(
                Category.IMAGE_PULL,
                wl,
                f"image {image!r} of container {cname} in {wl} cannot be pulled: {cause}",
                confidence=0.95 if states else 0.75,
                chain=(
                    f"{wl} is not available",
                    f"Pod {pod['metadata']['name']} {states[0].waiting_reason if states else 'image pull failing'}",
                    f"image {image} cannot be pulled",
                    cause,
                ),
                evidence=[
                    *[
                        status_line(
                            pod, c.path("state.waiting"), f"{c.waiting_reason}: {c.waiting_message}".strip(": ")
                        )
                        for c in states[:2]
                    ],
                    *[event_line(e) for e in events[:3]],
                ],
                detector="image_pull",
                affects=affects(ev, pod),
                details={"container": cname, "image": image, "cause": cause, "message": texts[:1000]},
            )
        )
    return out


DETECTOR = Detector("image_pull", (Category.IMAGE_PULL,), detect, "ErrImagePull / ImagePullBackOff")
