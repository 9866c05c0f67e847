"""Helpers shared by the checks: workloads' containers with their paths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from remediator.evidence.relations import dig
from remediator.model import FieldPath
from remediator.remedies.base import pod_spec_path
from remediator.review.context import Declared, ReviewContext

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod")


def pod_specs(ctx: ReviewContext) -> Iterator[tuple[Declared, FieldPath, dict[str, Any]]]:
    for d in ctx.of_kind(*WORKLOADS):
        if not ctx.in_focus(d):
            continue
        base = pod_spec_path(d.obj)
        spec = dig(d.obj, *[b for b in base if isinstance(b, str)])
        if isinstance(spec, dict):
            yield d, base, spec


def containers(ctx: ReviewContext) -> Iterator[tuple[Declared, FieldPath, dict[str, Any], dict[str, Any]]]:
    """(object, container path, container, pod spec) for every (init) container in focus."""
    for d, base, spec in pod_specs(ctx):
        for key in ("initContainers", "containers"):
            for c in spec.get(key) or []:
                if isinstance(c, dict) and c.get("name"):
                    yield d, (*base, key, {"name": str(c["name"])}), c, spec


def subject(d: Declared, container: dict[str, Any] | None = None) -> str:
    where = f"{d.ref.kind} {d.ref.namespace + '/' if d.ref.namespace else ''}{d.ref.name}"
    return where + (f" container {container.get('name')}" if container else "")
