"""Reading a snapshot folder (layout in ../shared/spec/scenarios.md) into an evidence store."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from remediator.errors import InputError
from remediator.evidence.sanitize import clean_object
from remediator.evidence.store import Event, Evidence, LogFile, Obj, Probe
from remediator.model import ObjectRef
from remediator.yamlload import Loader, load_all, load_one

LOG_TAIL_BYTES = 256 * 1024
OBJECT_SUFFIXES = (".yaml", ".yml", ".json")


_Loader = Loader  # the project's bounded loader (benchmarks import it from here)


def parse_documents(text: str, name: str) -> list[Any]:
    """Parse a JSON or YAML file into its documents, within the loader's bounds (no alias bombs,
    no thousands of documents, no deep nesting). Raises InputError naming the file."""
    return [d for d in load_all(text, name) if d is not None]


def iter_objects(doc: Any, name: str, errors: list[str]) -> Iterator[Obj]:
    """Objects of one document: itself, or the items of a List/*List (typed items get their kind)."""
    if not isinstance(doc, dict):
        errors.append(f"{name}: a document is not an object (got {type(doc).__name__}); skipped")
        return
    kind = doc.get("kind")
    items = doc.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        item_kind = kind[: -len("List")] if kind != "List" else None
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                errors.append(f"{name}: items[{i}] is not an object; skipped")
                continue
            if "kind" not in item and item_kind:
                item = {**item, "kind": item_kind}
                if "apiVersion" not in item and "apiVersion" in doc:
                    item["apiVersion"] = doc["apiVersion"]
            yield from iter_objects(item, f"{name} items[{i}]", errors)
        return
    if not isinstance(kind, str) or not kind:
        errors.append(f"{name}: object without kind; skipped")
        return
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        if kind in ("Event",) and isinstance(meta, dict):
            meta = {**meta, "name": "event"}
            doc = {**doc, "metadata": meta}
        else:
            errors.append(f"{name}: {kind} without metadata.name; skipped")
            return
    yield doc


def event_from(obj: Obj, source: str) -> Event | None:
    """Normalise a v1 or events.k8s.io/v1 Event; None when it names no object."""
    inv = obj.get("involvedObject") or obj.get("regarding") or {}
    if not isinstance(inv, dict) or not inv.get("name"):
        return None
    series = obj.get("series") or {}
    count = obj.get("count") or obj.get("deprecatedCount") or (series.get("count") if isinstance(series, dict) else 0)
    time = (
        obj.get("lastTimestamp")
        or obj.get("deprecatedLastTimestamp")
        or (series.get("lastObservedTime") if isinstance(series, dict) else None)
        or obj.get("eventTime")
        or obj.get("firstTimestamp")
        or ""
    )
    kind = str(inv.get("kind", ""))
    return Event(
        involved=ObjectRef(kind, str(inv.get("namespace") or ""), str(inv["name"])),
        reason=str(obj.get("reason") or ""),
        message=str(obj.get("message") or obj.get("note") or "").strip(),
        type=str(obj.get("type") or "Normal"),
        count=count if isinstance(count, int) and not isinstance(count, bool) and 0 < count < 2**31 else 1,
        time=str(time),
        source=source,
    )


def read_tail(path: Path, limit: int = LOG_TAIL_BYTES) -> tuple[list[str], str | None]:
    """The last ``limit`` bytes of a log as lines; a note when it was cut or is binary."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if size > limit:
            f.seek(size - limit)
        data = f.read(limit)
    note = None
    if size > limit:
        data = data.split(b"\n", 1)[1] if b"\n" in data else data
        note = f"read only the last {limit // 1024} KiB of {size // 1024} KiB"
    if data.count(b"\0") > len(data) // 10 and data:
        return [], "binary content; skipped"
    text = data.replace(b"\0", b"").decode("utf-8", errors="replace")
    return text.splitlines(), note


def add_object(ev: Evidence, obj: Obj, source: str) -> None:
    if obj.get("kind") == "Event":
        event = event_from(obj, source)
        if event is not None:
            ev.add_event(event)
        return
    ev.add(clean_object(obj), source)  # no Secret value enters the store


def load_objects_file(ev: Evidence, path: Path, rel: str) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        docs = parse_documents(text, rel)
    except InputError as e:
        ev.errors.append(str(e))
        return
    except OSError as e:
        ev.errors.append(f"{rel}: cannot read: {e.strerror}")
        return
    for doc in docs:
        for obj in iter_objects(doc, rel, ev.errors):
            add_object(ev, obj, rel)


def load_log(ev: Evidence, path: Path, rel: str) -> None:
    parts = Path(rel).parts  # logs/<ns>/<pod>/<container>[.previous].log
    if len(parts) != 4 or not parts[3].endswith(".log"):
        ev.errors.append(f"{rel}: not logs/<namespace>/<pod>/<container>.log; skipped")
        return
    container = parts[3][: -len(".log")]
    previous = container.endswith(".previous")
    if previous:
        container = container[: -len(".previous")]
    lines, note = read_tail(path)
    if note:
        ev.errors.append(f"{rel}: {note}")
    ev.add_log(LogFile(parts[1], parts[2], container, previous, rel, lines))


def load_probe(ev: Evidence, path: Path, rel: str) -> None:
    try:
        data = load_one(path.read_text(encoding="utf-8", errors="replace"), rel, as_json=True)
    except InputError as e:  # malformed, or nested too deeply
        ev.errors.append(str(e))
        return
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict) or "url" not in item:
            ev.errors.append(f"{rel}: a probe needs a url; skipped")
            continue
        status = item.get("status")
        ev.probes.append(
            Probe(
                url=str(item["url"]),
                status=int(status) if isinstance(status, int | str) and str(status).isdigit() else None,
                body=item.get("body"),
                error=str(item["error"]) if item.get("error") else None,
                source=rel,
            )
        )


def load_snapshot(root: Path) -> Evidence:
    """Read a snapshot folder. Bad files are reported in ``errors``; the rest is still read."""
    if not root.exists():
        raise InputError(f"{root}: snapshot folder does not exist")
    if not root.is_dir():
        raise InputError(f"{root}: snapshot is not a folder")
    ev = Evidence()
    found = False
    # Bulk-loading builds one large graph of dicts that is never cyclic garbage: the cyclic
    # collector would rescan it again and again while it grows, doubling the load time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        found = _walk(ev, root)
    finally:
        if was_enabled:
            gc.enable()
    if not found:
        raise InputError(f"{root}: snapshot is empty (no object files and no logs)")
    return ev


def _walk(ev: Evidence, root: Path) -> bool:
    found = False
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root)
        top = rel_dir.parts[0] if rel_dir.parts else ""
        for fn in sorted(filenames):
            path = Path(dirpath) / fn
            rel = (rel_dir / fn).as_posix()
            if top == "logs":
                found = True
                load_log(ev, path, rel)
            elif top == "probes":
                if fn.endswith(".json"):
                    load_probe(ev, path, rel)
            elif fn.endswith(OBJECT_SUFFIXES):
                found = True
                load_objects_file(ev, path, rel)
    return found


class SnapshotSource:
    """An evidence source reading a snapshot folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, app: str | None = None) -> Evidence:
        from remediator.evidence.scope import apply_scope

        ev = load_snapshot(self.root)
        apply_scope(ev, app)
        return ev
