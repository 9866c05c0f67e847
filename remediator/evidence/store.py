"""The evidence store: every object, event, log and probe the detectors may look at.

Detectors read only this; it is filled by a source (a snapshot folder or a live cluster).
``focus`` marks the objects that belong to the application under diagnosis; lookups by
name (``get``) always see the whole cluster so a dependency outside the app is still found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from remediator.evidence.images import parse_image, same_registry
from remediator.evidence.shape import Problems, conform
from remediator.model import ObjectRef

Obj = dict[str, Any]

CLUSTER_SCOPED = frozenset(
    {
        "Node",
        "Namespace",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "IngressClass",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "CustomResourceDefinition",
        "ClusterSecretStore",
        "RuntimeClass",
        "APIService",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "ClusterIssuer",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
)

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod")


def _where(obj: Obj, source: str) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return f"{source or 'evidence'}: {str(obj.get('kind'))[:60]} {str(name)[:100]}"


def ref_of(obj: Obj) -> ObjectRef:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    kind = str(obj.get("kind", ""))
    ns = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or "")
    return ObjectRef(kind, ns, str(meta.get("name", "")))


@dataclass(frozen=True)
class Event:
    """A Kubernetes event, from ``v1`` or ``events.k8s.io/v1``, normalised."""

    involved: ObjectRef
    reason: str
    message: str
    type: str
    count: int
    time: str
    source: str

    def line(self) -> str:
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"{self.type} {self.reason}: {self.message}{times}"


@dataclass
class LogFile:
    """A container log (``kubectl logs``), current or ``--previous``; at most its tail is kept."""

    namespace: str
    pod: str
    container: str
    previous: bool
    path: str
    lines: list[str] = field(default_factory=list)
    _text: str | None = field(default=None, repr=False, compare=False)

    def numbered(self) -> Iterator[tuple[int, str]]:
        return enumerate(self.lines, start=1)

    def text(self) -> str:
        """The whole log as one string (for a fast first search over a file)."""
        if self._text is None:
            self._text = "\n".join(self.lines)
        return self._text


@dataclass(frozen=True)
class Probe:
    """What the bot saw when it asked something outside the cluster."""

    url: str
    status: int | None
    body: Any
    error: str | None
    source: str


class EvidenceSource(Protocol):
    """Anything that can fill an evidence store: a snapshot folder or a live cluster."""

    def load(self, app: str | None = None) -> Evidence: ...


class Evidence:
    """Indexed evidence. Built once, then read by pure detectors."""

    def __init__(self) -> None:
        self._objects: dict[ObjectRef, Obj] = {}
        self._by_kind: dict[str, list[ObjectRef]] = defaultdict(list)
        self._by_name: dict[tuple[str, str], list[ObjectRef]] = defaultdict(list)
        self.sources: dict[ObjectRef, str] = {}
        self._events: dict[ObjectRef, list[Event]] = defaultdict(list)
        self._events_by_name: dict[tuple[str, str], list[Event]] = defaultdict(list)
        self._logs: dict[tuple[str, str], list[LogFile]] = defaultdict(list)
        self.probes: list[Probe] = []
        self.errors: list[str] = []
        self.focus: set[ObjectRef] | None = None
        self.app: Obj | None = None
        self._problems = Problems(self.errors)
        self._desired: list[Obj] = []
        self._cache: dict[str, Any] = {}

    @property
    def desired(self) -> list[Obj]:
        """Objects declared in Git for the app (when the repo is known), for not-deployed."""
        return self._desired

    @desired.setter
    def desired(self, objs: list[Obj]) -> None:
        for obj in objs:
            conform(obj, _where(obj, str(obj.get("_source") or "the app's repository")), self._problems)
        self._desired = objs

    # ----- filling -----
    def add(self, obj: Obj, source: str = "") -> ObjectRef:
        """Add an object; its fields of the wrong type are removed and listed in ``errors``
        (:mod:`remediator.evidence.shape`), so every reader sees the types the API defines."""
        conform(obj, _where(obj, source), self._problems)
        ref = ref_of(obj)
        if ref not in self._objects:
            self._by_kind[ref.kind].append(ref)
            self._by_name[(ref.kind, ref.name)].append(ref)
        self._objects[ref] = obj
        self.sources[ref] = source
        return ref

    def add_event(self, event: Event) -> None:
        self._events[event.involved].append(event)
        self._events_by_name[(event.involved.kind, event.involved.name)].append(event)

    def add_log(self, log: LogFile) -> None:
        self._logs[(log.namespace, log.pod)].append(log)

    # ----- reading -----
    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        ns = "" if kind in CLUSTER_SCOPED else namespace
        obj = self._objects.get(ObjectRef(kind, ns, name))
        if obj is None:
            # Objects written without a namespace (plain manifests) are found by name alone.
            refs = self._by_name.get((kind, name), [])
            if len(refs) == 1 and refs[0].namespace in ("", ns):
                obj = self._objects[refs[0]]
        return obj

    def get_ref(self, ref: ObjectRef) -> Obj | None:
        return self.get(ref.kind, ref.namespace, ref.name)

    def exists(self, kind: str, namespace: str, name: str) -> bool:
        return self.get(kind, namespace, name) is not None

    def kinds(self) -> list[str]:
        return list(self._by_kind)

    def all(self, kind: str, namespace: str | None = None) -> list[Obj]:
        """Every object of a kind in the whole cluster (optionally one namespace)."""
        refs = self._by_kind.get(kind, [])
        return [self._objects[r] for r in refs if namespace is None or r.namespace == namespace]

    def scoped(self, kind: str) -> list[Obj]:
        """Objects of a kind that belong to the app under diagnosis (all, with no app)."""
        refs = self._by_kind.get(kind, [])
        if self.focus is None:
            return [self._objects[r] for r in refs]
        return [self._objects[r] for r in refs if r in self.focus]

    def in_focus(self, ref: ObjectRef) -> bool:
        return self.focus is None or ref in self.focus

    def refs(self) -> Iterable[ObjectRef]:
        return self._objects.keys()

    def events_for(self, ref: ObjectRef) -> list[Event]:
        found = self._events.get(ref)
        if found is not None:
            return found
        # Events whose involved object lacks a namespace, or names it differently.
        return [e for e in self._events_by_name.get((ref.kind, ref.name), []) if not e.involved.namespace]

    def all_events(self) -> Iterator[Event]:
        for events in self._events.values():
            yield from events

    def event_count(self) -> int:
        return sum(len(v) for v in self._events.values())

    def logs_for(self, namespace: str, pod: str) -> list[LogFile]:
        return self._logs.get((namespace, pod), [])

    def all_logs(self) -> Iterator[LogFile]:
        for logs in self._logs.values():
            yield from logs

    def registry_tags(self, image: str) -> list[str] | None:
        """The tags the image's registry lists for its repository (Docker Registry HTTP API v2
        ``GET https://REGISTRY/v2/REPOSITORY/tags/list`` answers among the probes, every page);
        None when no such answer is in the evidence."""
        ref = parse_image(image)
        if ref is None:
            return None
        tags: list[str] | None = None
        for p in self.probes:
            parts = urlsplit(p.url)
            if p.error or p.status != 200 or not isinstance(p.body, dict) or not isinstance(p.body.get("tags"), list):
                continue
            if parts.path != f"/v2/{ref.repository}/tags/list" or not same_registry(parts.netloc, ref.registry):
                continue
            tags = tags or []
            tags += [str(t) for t in p.body["tags"] if isinstance(t, str | int) and str(t) not in tags]
        return tags

    def memo(self, key: str) -> dict[Any, Any]:
        """A per-store scratch dict for derived indexes shared by detectors."""
        scratch: dict[Any, Any] = self._cache.setdefault(key, {})
        return scratch

    def __len__(self) -> int:
        return len(self._objects)
