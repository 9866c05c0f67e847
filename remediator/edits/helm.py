"""A Helm chart source: which values files (in order) and options the Application passes to it.

The chart's templates are not resolved here: values are mapped to rendered fields by
:mod:`remediator.edits.locate`, and the chart is rendered by :mod:`remediator.edits.render`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remediator.edits.origin import AppSource, as_map, within

if TYPE_CHECKING:
    from remediator.edits.index import SourceIndex


def helm_source(index: SourceIndex, path: str, namespace: str, spec: dict[str, Any], release: str) -> AppSource:
    h = as_map(spec.get("helm"))
    src = AppSource("helm", path, namespace=namespace, release=str(h.get("releaseName") or release or "release"))
    value_files = h.get("valueFiles")
    files = [str(v) for v in value_files if v] if isinstance(value_files, list) else []
    files = files or ["values.yaml"]
    root = index.repo / path
    for f in files:
        p = root / f
        if "://" in f:
            src.errors.append(f"{path}: values file {f!r} is remote; not edited")
        elif not within(index.repo, p):
            src.errors.append(f"{path}: values file {f!r} points outside the repository")
        elif p.is_file():
            src.values_files.append(index.rel(p))
        elif not h.get("ignoreMissingValueFiles"):
            src.errors.append(f"{path}: values file {f!r} does not exist")
    params = h.get("parameters")
    src.helm_parameters = [p for p in params if isinstance(p, dict)] if isinstance(params, list) else []
    src.helm_inline_values = bool(h.get("values") or h.get("valuesObject"))
    return src
