"""Resource health computed the way Argo CD's health checks do (gitops-engine ``pkg/health``).

Argo CD 3.x keeps per-resource health out of the Application (``resourceHealthSource: appTree``),
so the bot works it out itself from each object's spec and status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from remediator.evidence.relations import condition, conditions, container_statuses, dig, spec, status
from remediator.evidence.store import Obj


class Health(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class HealthStatus:
    status: Health
    message: str = ""


OK = HealthStatus(Health.HEALTHY)

# Waiting reasons that mean the container will not start without a change.
BAD_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "StartError",
    }
)


def _generation_observed(obj: Obj) -> bool:
    gen = dig(obj, "metadata", "generation")
    obs = status(obj).get("observedGeneration")
    return gen is None or obs is None or int(obs) >= int(gen)


def deployment(obj: Obj) -> HealthStatus:
    if spec(obj).get("paused"):
        return HealthStatus(Health.SUSPENDED, "Deployment is paused")
    if not _generation_observed(obj):
        return HealthStatus(
            Health.PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        )
    prog = condition(obj, "Progressing")
    if prog and prog.get("reason") == "ProgressDeadlineExceeded":
        return HealthStatus(
            Health.DEGRADED, f'Deployment "{dig(obj, "metadata", "name")}" exceeded its progress deadline'
        )
    st = status(obj)
    want = spec(obj).get("replicas", 1)
    updated = st.get("updatedReplicas", 0) or 0
    if want is not None and updated < want:
        return HealthStatus(
            Health.PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {want} new replicas have been updated...",
        )
    if (st.get("replicas", 0) or 0) > updated:
        return HealthStatus(
            Health.PROGRESSING, "Waiting for rollout to finish: old replicas are pending termination..."
        )
    if (st.get("availableReplicas", 0) or 0) < updated:
        return HealthStatus(Health.PROGRESSING, "Waiting for rollout to finish: updated replicas are available...")
    return OK


def statefulset(obj: Obj) -> HealthStatus:
    if not _generation_observed(obj):
        return HealthStatus(Health.PROGRESSING, "Waiting for statefulset spec update to be observed...")
    st = status(obj)
    want = spec(obj).get("replicas", 1) or 0
    if (st.get("readyReplicas", 0) or 0) < want:
        return HealthStatus(Health.PROGRESSING, f"Waiting for {want} pods to be ready...")
    if st.get("updateRevision") and st.get("currentRevision") != st.get("updateRevision"):
        return HealthStatus(Health.PROGRESSING, "waiting for statefulset rolling update to complete")
    return OK


def daemonset(obj: Obj) -> HealthStatus:
    if not _generation_observed(obj):
        return HealthStatus(
            Health.PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        )
    st = status(obj)
    want = st.get("desiredNumberScheduled", 0) or 0
    if (st.get("updatedNumberScheduled", 0) or 0) < want or (st.get("numberAvailable", 0) or 0) < want:
        return HealthStatus(
            Health.PROGRESSING,
            f"Waiting for daemon set rollout to finish: {st.get('numberAvailable', 0)} of {want} updated pods are available...",
        )
    return OK


def pod(obj: Obj) -> HealthStatus:
    phase = status(obj).get("phase")
    restart = spec(obj).get("restartPolicy", "Always")
    if restart == "Always":
        msgs = []
        for cs in container_statuses(obj):
            waiting = dig(cs, "state", "waiting") or {}
            if waiting.get("reason") in BAD_WAITING:
                msgs.append(waiting.get("message") or waiting.get("reason"))
        if msgs:
            return HealthStatus(Health.DEGRADED, "; ".join(str(m) for m in msgs))
    if phase == "Pending":
        return HealthStatus(Health.PROGRESSING, str(status(obj).get("message", "")))
    if phase == "Succeeded":
        return OK
    if phase == "Failed":
        return HealthStatus(
            Health.DEGRADED, str(status(obj).get("message") or status(obj).get("reason") or "pod failed")
        )
    if phase == "Running":
        if restart != "Always":
            return OK
        ready = condition(obj, "Ready")
        if ready and ready.get("status") == "True":
            return OK
        for cs in container_statuses(obj):
            if dig(cs, "lastState", "terminated"):
                return HealthStatus(Health.DEGRADED, f"container {cs.get('name')} restarted and is not ready")
        return HealthStatus(Health.PROGRESSING, "pod is not ready")
    return HealthStatus(Health.UNKNOWN, str(status(obj).get("message", "")))


def pvc(obj: Obj) -> HealthStatus:
    phase = status(obj).get("phase")
    if phase == "Bound":
        return OK
    if phase == "Lost":
        return HealthStatus(Health.DEGRADED, "claim lost its volume")
    return HealthStatus(Health.PROGRESSING, f"claim is {phase or 'Pending'}")


def service(obj: Obj) -> HealthStatus:
    if spec(obj).get("type") == "LoadBalancer" and not dig(obj, "status", "loadBalancer", "ingress"):
        return HealthStatus(Health.PROGRESSING, "waiting for the load balancer")
    return OK


def ingress(obj: Obj) -> HealthStatus:
    if not dig(obj, "status", "loadBalancer", "ingress"):
        return HealthStatus(Health.PROGRESSING, "waiting for the ingress to get an address")
    return OK


def job(obj: Obj) -> HealthStatus:
    for c in conditions(obj):
        if c.get("status") != "True":
            continue
        if c.get("type") == "Failed":
            return HealthStatus(Health.DEGRADED, str(c.get("message") or c.get("reason") or "job failed"))
        if c.get("type") == "Complete":
            return OK
        if c.get("type") == "Suspended":
            return HealthStatus(Health.SUSPENDED, str(c.get("message", "")))
    return HealthStatus(Health.PROGRESSING, "job is running")


def hpa(obj: Obj) -> HealthStatus:
    for c in conditions(obj):
        if c.get("type") in ("AbleToScale", "ScalingActive") and c.get("status") == "False":
            return HealthStatus(Health.DEGRADED, str(c.get("message", "")))
    return OK


def ready_condition(obj: Obj) -> HealthStatus:
    """CRDs that report a Ready condition (ExternalSecret, SecretStore, Certificate, ...)."""
    ready = condition(obj, "Ready")
    if ready is None:
        return HealthStatus(Health.PROGRESSING, "waiting for status")
    if ready.get("status") == "True":
        return OK
    return HealthStatus(Health.DEGRADED, str(ready.get("message") or ready.get("reason") or "not ready"))


def application(obj: Obj) -> HealthStatus:
    h = dig(obj, "status", "health") or {}
    try:
        value = Health(h.get("status", "Unknown"))
    except ValueError:
        value = Health.UNKNOWN
    return HealthStatus(value, str(h.get("message", "")))


CHECKS = {
    "Deployment": deployment,
    "StatefulSet": statefulset,
    "DaemonSet": daemonset,
    "ReplicaSet": statefulset,
    "Pod": pod,
    "PersistentVolumeClaim": pvc,
    "Service": service,
    "Ingress": ingress,
    "Job": job,
    "HorizontalPodAutoscaler": hpa,
    "ExternalSecret": ready_condition,
    "SecretStore": ready_condition,
    "ClusterSecretStore": ready_condition,
    "Application": application,
}


def health_of(obj: Obj) -> HealthStatus | None:
    """The health of an object, or None for kinds that have no health (ConfigMap, Secret, ...)."""
    check = CHECKS.get(str(obj.get("kind", "")))
    if check is None:
        return None
    try:
        return check(obj)
    except (TypeError, ValueError, AttributeError):
        return HealthStatus(Health.UNKNOWN, "status could not be read")
