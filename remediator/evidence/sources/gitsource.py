"""The Git side as evidence: the objects an app's source folder declares (plain manifests)."""

from __future__ import annotations

import os
from pathlib import Path

from remediator.errors import InputError
from remediator.evidence.relations import dig
from remediator.evidence.sources.snapshot import iter_objects, parse_documents
from remediator.evidence.store import Obj

SKIP = {"kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml"}


def source_path(app: Obj | None) -> str:
    """The app's ``spec.source.path`` (first source of a multi-source app); "" = the repo root."""
    if app is None:
        return ""
    path = dig(app, "spec", "source", "path")
    if path is None:
        for src in dig(app, "spec", "sources") or []:
            if isinstance(src, dict) and src.get("path"):
                path = src["path"]
                break
    return str(path or "").strip("/")


def load_desired(repo: Path, app: Obj | None, errors: list[str]) -> list[Obj]:
    """Objects declared under the app's source path; values files and kustomizations are skipped."""
    root = repo / source_path(app)
    out: list[Obj] = []
    if not root.is_dir():
        errors.append(f"{root}: the app's source path is not a folder of the repository")
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if not fn.endswith((".yaml", ".yml", ".json")) or fn in SKIP or fn.startswith("values"):
                continue
            path = Path(dirpath) / fn
            rel = path.relative_to(repo).as_posix()
            try:
                docs = parse_documents(path.read_text(encoding="utf-8", errors="replace"), rel)
            except InputError as e:
                errors.append(str(e))
                continue
            for doc in docs:
                if isinstance(doc, dict) and "{{" not in str(doc.get("metadata", "")):
                    for obj in iter_objects(doc, rel, []):
                        out.append({**obj, "_source": rel})
    return out
