"""The detector registry: one module per failure family, listed here once.

Adding a family = a module with a ``DETECTOR``, one line below, a scenario and a README line.
"""

from __future__ import annotations

from remediator.detectors import (
    admission_webhook,
    autoscaling,
    config_error,
    connection,
    container_start,
    cpu_throttling,
    crash_loop,
    dns,
    external_secret,
    image_pull,
    ingress,
    invalid_spec,
    job,
    log_filter,
    missing_ref,
    model_not_found,
    network_policy,
    node,
    not_deployed,
    oom,
    probes,
    pvc,
    quota,
    rbac,
    security_context,
    service_endpoints,
    storage_full,
    sync_failed,
    unschedulable,
    volume_attach,
)
from remediator.detectors.base import Detector

REGISTRY: tuple[Detector, ...] = (
    oom.DETECTOR,
    crash_loop.DETECTOR,
    config_error.DETECTOR,
    image_pull.DETECTOR,
    missing_ref.DETECTOR,
    external_secret.DETECTOR,
    rbac.DETECTOR,
    dns.DETECTOR,
    connection.DETECTOR,
    model_not_found.DETECTOR,
    pvc.DETECTOR,
    unschedulable.DETECTOR,
    probes.DETECTOR,
    service_endpoints.DETECTOR,
    quota.DETECTOR,
    job.DETECTOR,
    node.DETECTOR,
    not_deployed.DETECTOR,
    sync_failed.DETECTOR,
    invalid_spec.DETECTOR,
    container_start.DETECTOR,
    security_context.DETECTOR,
    admission_webhook.DETECTOR,
    volume_attach.DETECTOR,
    storage_full.DETECTOR,
    network_policy.DETECTOR,
    ingress.DETECTOR,
    autoscaling.DETECTOR,
    log_filter.DETECTOR,
    cpu_throttling.DETECTOR,
)

# Modules in this folder that are helpers, not detectors.
HELPERS = frozenset({"base", "signatures", "app_messages"})
