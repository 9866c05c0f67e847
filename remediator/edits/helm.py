"""A Helm chart source: which values files (in order) and options the Application passes to it.

The chart's templates are not resolved here: values are mapped to rendered fields by
:mod:`remediator.edits.locate`, and the chart is rendered by :mod:`remediator.edits.render`.
"""

from __future__ import annotations

from typing import Any

from remediator.edits.origin import AppSource, Checkout, as_map, within


def helm_source(
    index: Checkout,
    path: str,
    namespace: str,
    spec: dict[str, Any],
    release: str,
    refs: dict[str, bool] | None = None,
    remote: bool = False,
) -> AppSource:
    """``refs``: the Application's ``ref`` sources, True when that repository is the one checked out
    (then ``$ref/file`` is a file of it). ``remote``: a chart from a Helm repository, whose
    non-``$`` value files are files of the chart, not of Git."""
    h = as_map(spec.get("helm"))
    src = AppSource("helm", path, namespace=namespace, release=str(h.get("releaseName") or release or "release"))
    value_files = h.get("valueFiles")
    files = [str(v) for v in value_files if v] if isinstance(value_files, list) else []
    files = files or ([] if remote else ["values.yaml"])
    root = index.repo / path
    for f in files:
        p = root / f
        if f.startswith("$"):
            name, _, rest = f[1:].partition("/")
            if name not in (refs or {}):
                src.errors.append(f"values file {f!r}: no source has ref: {name}")
                continue
            if not (refs or {}).get(name):
                src.errors.append(f"values file {f!r} is in another repository (ref {name}) than the one checked out")
                continue
            p = index.repo / rest
        elif remote:
            continue  # a file of the chart itself
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
