"""What a remedy returns: typed changes to objects (not to files), or a refusal with the rule behind it.

Remedies are pure: they read a finding, the evidence and the policy, and say what the objects in
Git should look like. :mod:`remediator.edits.plan` finds where each value comes from and edits the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence, Obj
from remediator.model import FieldPath, Finding, ObjectRef
from remediator.policy import Policy


@dataclass(frozen=True)
class SetField:
    """Set one scalar field of an object as it is rendered. ``current`` is the value the cluster
    runs (used to find a Helm value by value); ``role`` names what the field is, for the mapping
    of Helm values (``memory-limit``, ``env-value``, ``image``, ``storage``, ``subject-namespace``...)."""

    target: ObjectRef
    path: FieldPath
    value: Any
    current: Any = None
    role: str = ""


@dataclass(frozen=True)
class CreateObjects:
    """New objects in a new file of the app's source, placed next to ``near``'s source file."""

    filename: str
    objects: tuple[dict[str, Any], ...]
    near: ObjectRef | None = None


@dataclass(frozen=True)
class RemoveField:
    """Remove one field (a key and everything below it) of an object as it is rendered."""

    target: ObjectRef
    path: FieldPath


Change = SetField | CreateObjects | RemoveField


@dataclass(frozen=True)
class Check:
    """After the edit, the rendered object ``target`` must hold ``value`` at ``path`` (None: no such field)."""

    target: ObjectRef
    path: FieldPath
    value: Any


@dataclass
class Proposal:
    remedy: str
    reason: str
    changes: list[Change]
    risk: str = ""
    rollback: str = "Revert the pull request; Argo CD syncs the previous manifests back."
    warnings: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @classmethod
    def setting(cls, remedy: str, reason: str, change: SetField, risk: str = "", **more: Any) -> Proposal:
        """The common proposal: one field set, checked on the rendered object to hold the new value."""
        return cls(remedy, reason, [change], risk, checks=[Check(change.target, change.path, change.value)], **more)


@dataclass(frozen=True)
class Refusal:
    category: str
    reason: str
    rule: str  # the policy key or built-in rule that refused


@dataclass
class Context:
    """What a remedy may read besides the finding: evidence, policy, the objects as declared in Git
    (rendered by our own resolution), and the image history of the app's source files."""

    ev: Evidence
    policy: Policy
    desired: list[Obj]
    image_history: Callable[[ObjectRef, str], list[str]] = lambda ref, container: []

    def desired_obj(self, ref: ObjectRef) -> Obj | None:
        for o in self.desired:
            if str(o.get("kind")) == ref.kind and str(dig(o, "metadata", "name")) == ref.name:
                ns = str(dig(o, "metadata", "namespace") or "")
                if ns in ("", ref.namespace):
                    return o
        return None

    def obj(self, ref: ObjectRef) -> Obj | None:
        """The object as declared in Git, else as seen in the cluster."""
        return self.desired_obj(ref) or self.ev.get_ref(ref)


Plan = Callable[[Finding, Context], "Proposal | Refusal"]


@dataclass(frozen=True)
class Remedy:
    name: str  # the policy key
    categories: tuple[str, ...]
    plan: Plan
    summary: str
    # The policy switches (``remedies.<key>``) the gate requires on: None = ``name``; () = none,
    # the plan checks its own (one per kind of edit it makes).
    switches: tuple[str, ...] | None = None


def pod_spec_path(obj: Obj | None) -> FieldPath:
    kind = str((obj or {}).get("kind") or "Deployment")
    if kind == "Pod":
        return ("spec",)
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template", "spec")
    return ("spec", "template", "spec")


def container_path(obj: Obj | None, container: str) -> FieldPath:
    """The path of a (init) container by name, e.g. spec.template.spec.containers[name=app]."""
    base = pod_spec_path(obj)
    spec = dig(obj or {}, *[b for b in base if isinstance(b, str)]) or {}
    for c in spec.get("initContainers") or [] if isinstance(spec, dict) else []:
        if isinstance(c, dict) and c.get("name") == container:
            return (*base, "initContainers", {"name": container})
    return (*base, "containers", {"name": container})


def container_of(obj: Obj | None, container: str) -> dict[str, Any]:
    spec = dig(obj or {}, *[b for b in pod_spec_path(obj) if isinstance(b, str)]) or {}
    if not isinstance(spec, dict):
        return {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if isinstance(c, dict) and c.get("name") == container:
            return c
    return {}
