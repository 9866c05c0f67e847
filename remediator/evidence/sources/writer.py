"""Writing evidence as a snapshot folder (layout in ../shared/spec/scenarios.md).

Written into a temporary sibling folder and renamed at the end: an interrupted run leaves no
half-written snapshot. No Secret value is ever written (``sanitize.clean_object``), and by default
every other string is redacted too (log lines, event messages, object fields, probe answers): users
attach snapshots to bug reports. ``redacted=False`` keeps them, for local debugging only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from remediator.errors import InputError
from remediator.evidence.sanitize import clean_object
from remediator.evidence.store import Evidence, Obj, ref_of
from remediator.redact import redact, redact_data


def _same(x: Any) -> Any:
    return x


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name) or "_"


def write_snapshot(ev: Evidence, out: Path, redacted: bool = True) -> int:
    """Write every object, event, log and probe; returns the number of files written."""
    text = redact if redacted else _same
    data = redact_data if redacted else _same
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: output folder exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        groups: dict[tuple[str, str], list[Obj]] = defaultdict(list)
        for ref in ev.refs():
            obj = ev.get_ref(ref)
            if obj is None:
                continue
            obj = data(clean_object(obj))
            groups[(ref.namespace or "_cluster", ref.kind)].append(obj)
        count = 0
        for (ns, kind), objs in sorted(groups.items()):
            path = tmp / "objects" / _safe(ns) / f"{_safe(kind)}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            objs.sort(key=lambda o: ref_of(o).name)
            path.write_text(
                yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs}, sort_keys=False), encoding="utf-8"
            )
            count += 1
        events = list(ev.all_events())
        if events:
            by_ns: dict[str, list[Obj]] = defaultdict(list)
            for i, e in enumerate(events):
                by_ns[e.involved.namespace or "_cluster"].append(
                    {
                        "apiVersion": "v1",
                        "kind": "Event",
                        "metadata": {"name": f"{e.involved.name}.{i}", "namespace": e.involved.namespace},
                        "involvedObject": {
                            "kind": e.involved.kind,
                            "namespace": e.involved.namespace,
                            "name": e.involved.name,
                        },
                        "reason": e.reason,
                        "message": text(e.message),
                        "type": e.type,
                        "count": e.count,
                        "lastTimestamp": e.time or None,
                    }
                )
            for ns, items in by_ns.items():
                path = tmp / "events" / f"{_safe(ns)}.yaml"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(
                    yaml.safe_dump({"apiVersion": "v1", "kind": "EventList", "items": items}, sort_keys=False),
                    encoding="utf-8",
                )
                count += 1
        for log in ev.all_logs():
            name = f"{_safe(log.container)}{'.previous' if log.previous else ''}.log"
            path = tmp / "logs" / _safe(log.namespace) / _safe(log.pod) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text("\n".join(log.lines)) + ("\n" if log.lines else ""), encoding="utf-8")
            count += 1
        for i, p in enumerate(ev.probes):
            path = tmp / "probes" / f"probe-{i}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            body = data(
                {"url": p.url, "status": p.status, "body": p.body}
                if p.error is None
                else {"url": p.url, "error": p.error}
            )
            path.write_text(json.dumps(body, indent=2), encoding="utf-8")
            count += 1
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        return count
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
