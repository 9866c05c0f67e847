"""Check an edit before anyone sees it: write it to a scratch copy of the source, render the source
(kubectl kustomize / helm / our own resolution, :mod:`remediator.edits.render`), validate every
edited object against the Kubernetes schema of the cluster's version, and require each of the
remedy's checks to hold on the rendered objects. Any failure refuses the edit."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from remediator.edits.locate import Refused, get_path
from remediator.edits.origin import AppSource
from remediator.edits.render import RenderError, render
from remediator.edits.yamlfile import YamlFile, plain
from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence
from remediator.model import ObjectRef
from remediator.policy import Policy
from remediator.remedies.base import CreateObjects, Proposal, RemoveField, SetField


def verify(
    repo: Path,
    sources: list[AppSource],
    changed: list[tuple[str, str | None, str]],
    p: Proposal,
    policy: Policy,
    cluster: str | None = None,
) -> list[str]:
    """Write the result to a scratch copy, render, validate the edited objects and run the checks."""
    import kubernetes_validate

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="remediator-check-") as tmp:
        scratch = Path(tmp) / "repo"
        shutil.copytree(repo, scratch, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        for rel, _old, new in changed:
            (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
            (scratch / rel).write_text(new, encoding="utf-8", newline="")
        rendered: list[dict[str, Any]] = []
        unrendered = False
        edited = {rel: new for rel, _old, new in changed}
        for s in sources:
            spec = _edited_spec(s, edited)
            try:
                if s.remote and not s.chart_dir:
                    raise RenderError(f"{s.remote} could not be fetched: {s.fetch_error}")
                objs, how = render(
                    scratch,
                    s.kind,
                    s.root,
                    s.namespace,
                    spec,
                    s.release,
                    chart_dir=Path(s.chart_dir) if s.chart_dir else None,
                    value_paths=[scratch / v for v in s.values_files] if s.remote else None,
                )
            except RenderError as e:
                if s.kind != "helm":
                    raise
                unrendered = True
                notes.append(f"not rendered ({e}); the values file edit was checked by parsing it")
                continue
            rendered += objs
            notes.append(f"rendered {s.root or '.'} with {how}: {len(objs)} objects")
        targets = {_ref(c.target) for c in p.changes if isinstance(c, SetField | RemoveField)}
        for c in p.changes:
            if isinstance(c, CreateObjects):
                targets |= {(str(o["kind"]), str(dig(o, "metadata", "name"))) for o in c.objects}
        version = schema_version(cluster or policy.kubernetes_version)
        checked = 0
        for obj in rendered:
            key = (str(obj.get("kind")), str(dig(obj, "metadata", "name")))
            if key not in targets:
                continue
            try:
                kubernetes_validate.validate(obj, version, strict=False)
                checked += 1
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
                continue
            except kubernetes_validate.ValidationError as e:
                raise Refused(
                    f"{key[0]} {key[1]} would not pass Kubernetes {version} schema validation: {str(e).splitlines()[0]}",
                    "schema",
                ) from e
        notes.append(
            f"schema-validated {checked} edited object(s) against Kubernetes {version}"
            + (" (the cluster's version)" if cluster else " (policy kubernetes_version)")
        )
        for chk in [] if unrendered else p.checks:
            hit: dict[str, Any] | None = next(
                (o for o in rendered if str(o.get("kind")) == chk.target.kind and _name_matches(o, chk.target)), None
            )
            got = get_path(hit, chk.path) if hit is not None else None
            if hit is None or str(got) != str(chk.value):
                raise Refused(
                    f"after the edit, the rendered {chk.target} has {got!r} at {'.'.join(map(str, chk.path))}, not "
                    f"{chk.value!r}: something else in the source overrides it; edit manually",
                    "render-check",
                )
        if p.checks and not unrendered:
            notes.append(f"the rendered source no longer has the cause ({len(p.checks)} check(s) hold)")
    for rel, _old, new in changed:
        if rel.endswith((".yaml", ".yml")) and "{{" not in new:
            YamlFile.parse(new, rel)  # parses again, or raises
    return notes


def _edited_spec(s: AppSource, edited: dict[str, str]) -> dict[str, Any] | None:
    """The source as the edited Application file declares it (an override edited there), else as
    the cluster's Application has it."""
    if s.app_file is None or s.app_file.file not in edited:
        return s.spec
    yf = YamlFile.parse(edited[s.app_file.file], s.app_file.file)
    data: Any = plain(yf.docs[s.app_file.doc].data) if s.app_file.doc < len(yf.docs) else None
    for part in s.app_path:
        data = (
            data[part]
            if isinstance(data, list) and isinstance(part, int) and part < len(data)
            else (data.get(part) if isinstance(data, dict) else None)
        )
    return data if isinstance(data, dict) else s.spec


def cluster_version(ev: Evidence) -> str | None:
    """The cluster's Kubernetes version (major.minor.0) from the nodes' kubelet versions, the oldest one."""
    found: list[tuple[int, int]] = []
    for n in ev.all("Node"):
        m = re.match(r"v?(\d+)\.(\d+)", str(dig(n, "status", "nodeInfo", "kubeletVersion") or ""))
        if m:
            found.append((int(m.group(1)), int(m.group(2))))
    return f"{min(found)[0]}.{min(found)[1]}.0" if found else None


def schema_version(wanted: str) -> str:
    """The schema version kubernetes-validate has that is closest to ``wanted`` (never newer when avoidable)."""
    import kubernetes_validate.utils as kvu

    have: list[str] = sorted({str(v) for v in kvu.all_versions()}, key=lambda v: tuple(int(x) for x in v.split(".")))
    key = tuple(int(x) for x in [*wanted.split("."), "0", "0"][:3] if x.isdigit())
    older = [v for v in have if tuple(int(x) for x in v.split(".")) <= key]
    return older[-1] if older else have[0]


def _ref(ref: ObjectRef) -> tuple[str, str]:
    return ref.kind, ref.name


def _name_matches(obj: dict[str, Any], ref: ObjectRef) -> bool:
    return str(dig(obj, "metadata", "name")) == ref.name
