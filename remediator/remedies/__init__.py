"""Remedies: one module per kind of edit. ``REMEDIES`` maps a finding category to its remedies;
:mod:`remediator.remedies.gate` decides whether it may act (policy, ``OUT_OF_BAND`` causes)."""

from __future__ import annotations

from remediator.remedies import (
    anti_affinity,
    config_ref,
    container_command,
    cpu_arch,
    cpu_limit,
    ephemeral_storage,
    external_service,
    hpa_requests,
    image_rollback,
    image_tag,
    ingress_ref,
    limitrange_bounds,
    memory_limit,
    model_env,
    network_policy,
    node_selector,
    oom_rollback,
    priority_class,
    probe,
    pvc_size,
    quota_raise,
    rbac_namespace,
    rbac_rule,
    rollout_recreate,
    security_context,
    service_port,
    service_selector,
    volume_expand,
)
from remediator.remedies.base import Remedy

ALL: tuple[Remedy, ...] = (
    rbac_namespace.REMEDY,
    rbac_rule.REMEDY,  # after rbac-subject-namespace: a binding's wrong subject is fixed first
    oom_rollback.REMEDY,
    memory_limit.REMEDY,
    model_env.REMEDY,
    external_service.REMEDY,
    pvc_size.REMEDY,
    image_rollback.REMEDY,
    image_tag.REMEDY,  # after image-rollback: the last image that ran is preferred
    cpu_arch.REMEDY,  # before container-command: exec format error is its own case
    container_command.REMEDY,
    probe.REMEDY,
    service_port.REMEDY,  # before service-selector: it refuses when the selector matches no pod (that one's case)
    service_selector.REMEDY,
    ingress_ref.REMEDY,
    hpa_requests.REMEDY,
    limitrange_bounds.REMEDY,
    quota_raise.REMEDY,
    ephemeral_storage.REMEDY,
    volume_expand.REMEDY,  # a full PVC (ephemeral-storage handles emptyDir and ephemeral limits)
    cpu_limit.REMEDY,
    security_context.REMEDY,
    rollout_recreate.REMEDY,
    node_selector.REMEDY,
    anti_affinity.REMEDY,
    network_policy.REMEDY,
    config_ref.REMEDY,
    priority_class.REMEDY,
)
# A category's remedies, in the order they are tried: the first that proposes an edit wins (a more
# specific remedy, e.g. rolling back a memory regression, before a general one, raising the limit).
REMEDIES: dict[str, tuple[Remedy, ...]] = {}
for _r in ALL:
    for _c in _r.categories:
        REMEDIES[_c] = (*REMEDIES.get(_c, ()), _r)

# Categories whose cause lives outside the app's manifests: reported with next steps, never edited.
OUT_OF_BAND = {
    "external-secret-sync": "the secret store (Vault, cloud secret manager) must be unsealed, reachable or filled",
    "node-not-ready": "the node needs attention (kubelet, pressure, capacity); nothing in the app's Git changes it",
    "quota-exceeded": (
        "the namespace's ResourceQuota/LimitRange is the platform team's (not declared in the app's source, "
        "or quota-raise is off); ask for more or lower the requests"
    ),
    "log-filter": "the log pipeline's filter lives in a ConfigMap the bot does not own; fix the pattern there",
}
