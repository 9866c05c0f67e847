"""Remedies: one module per kind of edit. ``REMEDIES`` maps a finding category to its remedies;
:mod:`remediator.remedies.gate` decides whether it may act (policy, ``OUT_OF_BAND`` causes)."""

from __future__ import annotations

from remediator.remedies import (
    external_service,
    image_rollback,
    memory_limit,
    model_env,
    probe_timing,
    pvc_size,
    rbac_namespace,
    service_selector,
)
from remediator.remedies.base import Remedy

ALL: tuple[Remedy, ...] = (
    rbac_namespace.REMEDY,
    memory_limit.REMEDY,
    model_env.REMEDY,
    external_service.REMEDY,
    pvc_size.REMEDY,
    image_rollback.REMEDY,
    probe_timing.REMEDY,
    service_selector.REMEDY,
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
    "quota-exceeded": "the namespace's ResourceQuota/LimitRange is owned by the platform team; ask for more or lower requests",
    "log-filter": "the log pipeline's filter lives in a ConfigMap the bot does not own; fix the pattern there",
}
