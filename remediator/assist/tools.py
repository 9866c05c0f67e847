"""The read-only evidence tools an investigation may call: the same Evidence interface the detectors
read. Every result is redacted (and optionally anonymised) before it goes to the model; logs and
events are data, never instructions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remediator.evidence.relations import owner_refs
from remediator.evidence.sanitize import clean_object
from remediator.evidence.store import Evidence, ref_of
from remediator.model import ObjectRef
from remediator.redact import redact

MAX_CHARS = 6000


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GetObject(_Args):
    kind: str
    namespace: str = ""
    name: str


class ListObjects(_Args):
    kind: str
    namespace: str | None = None


class ListEvents(_Args):
    kind: str
    namespace: str = ""
    name: str


class ReadLog(_Args):
    namespace: str
    pod: str
    container: str | None = None
    previous: bool = False
    tail: int = Field(default=80, ge=1, le=400)


class Owners(_Args):
    kind: str
    namespace: str = ""
    name: str


SCHEMAS: dict[str, tuple[type[_Args], str]] = {
    "get_object": (GetObject, "Get one object (spec and status) as JSON."),
    "list_objects": (ListObjects, "List the names of objects of a kind, optionally in one namespace."),
    "list_events": (ListEvents, "List the events of one object."),
    "read_log": (ReadLog, "Read the last lines of a container log (current, or the previous run)."),
    "owners": (Owners, "Follow owner references up from an object (Pod -> ReplicaSet -> Deployment)."),
    "resource_tree": (_Args, "List every object of the application under investigation."),
}


def tool_specs() -> list[dict[str, Any]]:
    out = []
    for name, (model, desc) in SCHEMAS.items():
        params = model.model_json_schema()
        params.pop("title", None)
        params.setdefault("properties", {})
        out.append({"type": "function", "function": {"name": name, "description": desc, "parameters": params}})
    return out


@dataclass
class Anonymizer:
    """Replaces object names with placeholders before text leaves the process, and restores them."""

    enabled: bool
    forward: dict[str, str] = field(default_factory=dict)

    def learn(self, ev: Evidence) -> None:
        if not self.enabled:
            return
        names = sorted(
            {r.name for r in ev.refs()} | {r.namespace for r in ev.refs() if r.namespace}, key=len, reverse=True
        )
        for i, n in enumerate(names):
            if len(n) >= 3:
                self.forward.setdefault(n, f"obj-{i:03d}")

    def hide(self, text: str) -> str:
        for real, fake in self.forward.items():
            text = re.sub(rf"(?<![\w-]){re.escape(real)}(?![\w-])", fake, text)
        return text

    def show(self, text: str) -> str:
        for real, fake in self.forward.items():
            text = re.sub(rf"(?<![\w-]){re.escape(fake)}(?![\w-])", real, text)
        return text

    def show_obj(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.show(data)
        if isinstance(data, dict):
            return {k: self.show_obj(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.show_obj(v) for v in data]
        return data


class EvidenceTools:
    def __init__(self, ev: Evidence, anon: Anonymizer) -> None:
        self.ev = ev
        self.anon = anon
        self.seen_text: list[str] = []  # everything shown to the model (for citation checks)

    def call(self, name: str, raw: dict[str, Any]) -> str:
        spec = SCHEMAS.get(name)
        if spec is None:
            return f"error: no tool named {name!r}; tools: {', '.join(SCHEMAS)}"
        try:
            args = spec[0].model_validate(self.anon.show_obj(raw))
        except ValidationError as e:
            return f"error: bad arguments for {name}: {e.errors()[0]['msg']}"
        out = getattr(self, "_" + name)(args)
        text = redact(out)[:MAX_CHARS]
        self.seen_text.append(text)
        return self.anon.hide(text)

    def _get_object(self, a: GetObject) -> str:
        obj = self.ev.get(a.kind, a.namespace, a.name)
        if obj is None:
            return f"not found: {a.kind} {a.namespace}/{a.name}"
        # no Secret value, last-applied copy or managedFields, whatever source filled the store
        slim = {k: v for k, v in clean_object(obj).items() if k not in ("_source",)}
        return json.dumps(slim, indent=1, default=str)

    def _list_objects(self, a: ListObjects) -> str:
        refs = [ref_of(o) for o in self.ev.all(a.kind, a.namespace)]
        return "\n".join(str(r) for r in sorted(refs)[:200]) or f"no {a.kind} objects"

    def _list_events(self, a: ListEvents) -> str:
        evs = self.ev.events_for(ObjectRef(a.kind, a.namespace, a.name))
        return "\n".join(f"{e.time} {e.line()}" for e in evs[-50:]) or "no events"

    def _read_log(self, a: ReadLog) -> str:
        logs = [
            lf
            for lf in self.ev.logs_for(a.namespace, a.pod)
            if lf.previous == a.previous and (a.container is None or lf.container == a.container)
        ]
        if not logs:
            return "no such log"
        return "\n".join(logs[0].lines[-a.tail :])

    def _owners(self, a: Owners) -> str:
        chain: list[str] = []
        obj = self.ev.get(a.kind, a.namespace, a.name)
        while obj is not None and len(chain) < 6:
            refs = owner_refs(obj)
            if not refs:
                break
            chain.append(str(refs[0]))
            obj = self.ev.get_ref(refs[0])
        return " -> ".join(chain) or "no owners"

    def _resource_tree(self, a: _Args) -> str:
        refs = sorted(r for r in self.ev.refs() if self.ev.in_focus(r))
        return "\n".join(str(r) for r in refs[:300]) or "no objects"

    def corpus(self) -> str:
        """Every text the evidence holds (what a citation may quote)."""
        parts = [json.dumps(o, default=str) for r in self.ev.refs() if (o := self.ev.get_ref(r)) is not None]
        parts += [e.line() for e in self.ev.all_events()]
        parts += [ln for lf in self.ev.all_logs() for ln in lf.lines]
        return "\n".join(parts)
