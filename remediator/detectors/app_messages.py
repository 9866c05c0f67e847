"""Messages an Argo CD Application reports about its last sync: shared by sync-level detectors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from remediator.evidence.relations import conditions, dig
from remediator.evidence.store import CLUSTER_SCOPED, Evidence, Obj
from remediator.model import EvidenceLine, ObjectRef


@dataclass(frozen=True)
class SyncMessage:
    app: Obj
    resource: ObjectRef | None
    text: str
    line: EvidenceLine


RESOURCE_IN_TEXT = re.compile(
    r'(?P<kind>[A-Z][A-Za-z]+)(?:\.[\w.]+)? "(?P<name>[a-z0-9][a-z0-9.-]*)" is (?:invalid|forbidden)'
)


def sync_messages(ev: Evidence) -> Iterator[SyncMessage]:
    """Failed sync results, a failed operation and error conditions of the scoped Applications."""
    for app in ev.scoped("Application"):
        name = str(dig(app, "metadata", "name"))
        dest = str(dig(app, "spec", "destination", "namespace") or "")
        op = dig(app, "status", "operationState") or {}
        for i, r in enumerate(dig(op, "syncResult", "resources") or []):
            if (isinstance(r, dict) and r.get("status") in ("SyncFailed",)) or (
                isinstance(r, dict) and r.get("hookPhase") == "Failed"
            ):
                kind = str(r.get("kind", ""))
                ref: ObjectRef | None = ObjectRef(
                    kind, "" if kind in CLUSTER_SCOPED else str(r.get("namespace") or dest), str(r.get("name", ""))
                )
                msg = str(r.get("message", ""))
                yield SyncMessage(
                    app,
                    ref,
                    msg,
                    EvidenceLine(
                        f"status Application {name} .status.operationState.syncResult.resources[{i}]",
                        f"{kind} {r.get('name', '')}: {msg}",
                    ),
                )
        if op.get("phase") in ("Failed", "Error"):
            msg = str(op.get("message", ""))
            m = RESOURCE_IN_TEXT.search(msg)
            ref = ObjectRef(m.group("kind"), dest, m.group("name")) if m else None
            yield SyncMessage(
                app,
                ref,
                msg,
                EvidenceLine(f"status Application {name} .status.operationState", f"{op.get('phase')}: {msg}"),
            )
        for c in conditions(app):
            if str(c.get("type", "")).endswith("Error"):
                msg = str(c.get("message", ""))
                m = RESOURCE_IN_TEXT.search(msg)
                ref = ObjectRef(m.group("kind"), dest, m.group("name")) if m else None
                yield SyncMessage(
                    app, ref, msg, EvidenceLine(f"status Application {name} .status.conditions[{c.get('type')}]", msg)
                )
