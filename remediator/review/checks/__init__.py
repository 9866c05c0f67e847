"""The review's static checks, one module each; ``RULES`` is the registry."""

from __future__ import annotations

from remediator.review.checks import (
    host_service,
    image_tag,
    memory,
    missing_ref,
    model_env,
    probe_port,
    pvc_minimum,
    rbac_subject,
)
from remediator.review.model import Rule

RULES: tuple[Rule, ...] = (
    rbac_subject.RULE,
    memory.RULE,
    model_env.RULE,
    host_service.RULE,
    pvc_minimum.RULE,
    probe_port.RULE,
    missing_ref.RULE,
    image_tag.RULE,
)
HELPERS = ("common",)
