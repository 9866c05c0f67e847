"""Value objects shared by every stage: object references, evidence lines, findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# A path to a field of a Kubernetes object: keys, list indexes, and selectors of a named list item
# (``{"name": "app"}`` picks the container named app). Remedies speak it; edits resolve it in files.
Selector = dict[str, str]
PathPart = str | int | Selector
FieldPath = tuple[PathPart, ...]


def path_str(path: FieldPath) -> str:
    """``spec.template.spec.containers[name=app].resources.limits.memory``."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif isinstance(p, dict):
            out += "[" + ",".join(f"{k}={v}" for k, v in p.items()) + "]"
        else:
            out += ("." if out else "") + p
    return out


class Category(StrEnum):
    """The finding vocabulary of ../shared/spec/scenarios.md (renaming one breaks scenarios)."""

    OOM_KILLED = "oom-killed"
    CRASH_LOOP = "crash-loop"
    CONFIG_ERROR = "config-error"
    IMAGE_PULL = "image-pull"
    MISSING_SECRET = "missing-secret"
    MISSING_CONFIGMAP = "missing-configmap"
    EXTERNAL_SECRET_SYNC = "external-secret-sync"
    RBAC_FORBIDDEN = "rbac-forbidden"
    DNS_RESOLUTION = "dns-resolution"
    CONNECTION_REFUSED = "connection-refused"
    MODEL_NOT_FOUND = "model-not-found"
    PVC_PENDING = "pvc-pending"
    UNSCHEDULABLE = "unschedulable"
    PROBE_FAILURE = "probe-failure"
    SERVICE_NO_ENDPOINTS = "service-no-endpoints"
    QUOTA_EXCEEDED = "quota-exceeded"
    JOB_FAILED = "job-failed"
    NODE_NOT_READY = "node-not-ready"
    NOT_DEPLOYED = "not-deployed"
    SYNC_FAILED = "sync-failed"
    INVALID_SPEC = "invalid-spec"
    CONTAINER_START_ERROR = "container-start-error"
    SECURITY_CONTEXT = "security-context"
    ADMISSION_WEBHOOK = "admission-webhook"
    VOLUME_ATTACH = "volume-attach"
    STORAGE_FULL = "storage-full"
    NETWORK_POLICY = "network-policy"
    INGRESS = "ingress"
    AUTOSCALING = "autoscaling"
    LOG_FILTER = "log-filter"
    CPU_THROTTLING = "cpu-throttling"
    UNKNOWN = "unknown"


# How close to the root a category usually sits: when two findings explain the same
# symptoms, the higher one is the cause and the lower one is folded under it.
ROOTNESS: dict[Category, int] = {
    Category.ADMISSION_WEBHOOK: 98,
    Category.SECURITY_CONTEXT: 97,
    Category.SYNC_FAILED: 96,
    Category.EXTERNAL_SECRET_SYNC: 96,
    Category.NETWORK_POLICY: 94,
    Category.PVC_PENDING: 93,
    Category.NODE_NOT_READY: 91,
    Category.RBAC_FORBIDDEN: 90,
    Category.MISSING_SECRET: 89,
    Category.MISSING_CONFIGMAP: 89,
    Category.QUOTA_EXCEEDED: 88,
    Category.INVALID_SPEC: 87,
    Category.MODEL_NOT_FOUND: 87,
    Category.DNS_RESOLUTION: 86,
    Category.SERVICE_NO_ENDPOINTS: 86,
    Category.STORAGE_FULL: 86,
    Category.VOLUME_ATTACH: 86,
    Category.NOT_DEPLOYED: 95,
    Category.IMAGE_PULL: 85,
    Category.CONTAINER_START_ERROR: 85,
    Category.OOM_KILLED: 84,
    Category.CONFIG_ERROR: 84,
    Category.INGRESS: 82,
    Category.CONNECTION_REFUSED: 80,
    Category.UNSCHEDULABLE: 78,
    Category.CPU_THROTTLING: 76,  # the cause of probe timeouts it explains
    Category.AUTOSCALING: 74,
    Category.PROBE_FAILURE: 72,
    Category.JOB_FAILED: 70,
    Category.CRASH_LOOP: 60,
    Category.LOG_FILTER: 50,
    Category.UNKNOWN: 0,
}


@dataclass(frozen=True, order=True)
class ObjectRef:
    """A Kubernetes object by kind, namespace ("" when cluster-scoped) and name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True)
class EvidenceLine:
    """One observation a finding rests on, with where it was read."""

    source: str
    text: str


@dataclass(frozen=True)
class Finding:
    """A diagnosed problem: category, culprit, causal chain (symptom first, root last)."""

    category: Category
    culprit: ObjectRef
    summary: str
    confidence: float
    chain: tuple[str, ...]
    evidence: tuple[EvidenceLine, ...]
    detector: str = ""
    # Objects whose trouble this finding explains (pods, workloads, the culprit itself).
    affects: frozenset[ObjectRef] = frozenset()
    # Structured facts for the remedies (container, env var, host, quantities, ...).
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # Symptoms and lesser findings folded under this one by the ranking.
    folded: tuple[Finding, ...] = ()

    @property
    def rootness(self) -> int:
        return ROOTNESS[self.category]

    def score(self) -> float:
        return self.confidence * 100 + self.rootness / 10
