"""Render an app's source the way Argo CD does, to check an edit: the real ``kubectl kustomize`` /
``helm template`` when they are installed (``pip install 'remediator[render]'`` brings kubectl),
our own resolution otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from remediator.edits.index import SourceIndex
from remediator.errors import PermanentError
from remediator.yamlload import LoadError, load_all, load_one

TIMEOUT_S = 60


def builtin_only() -> bool:
    """``REMEDIATOR_RENDER=builtin`` forces our own resolution (to compare it with the real tools)."""
    return os.environ.get("REMEDIATOR_RENDER", "") == "builtin"


def find_tool(name: str) -> str | None:
    """A tool on PATH, or installed next to this Python (a venv's bin/ with remediator[render])."""
    if builtin_only():
        return None
    found = shutil.which(name)
    if found:
        return found
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.is_file() and os.access(cand, os.X_OK) else None


class RenderError(PermanentError):
    """The source cannot be rendered (kubectl kustomize / helm / our own resolution failed)."""


def _run(cmd: list[str], cwd: Path) -> str:
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RenderError(f"{cmd[0]}: {e}") from e
    if p.returncode != 0:
        err = (p.stderr or p.stdout).strip().splitlines()
        raise RenderError(f"{Path(cmd[0]).name} {cmd[1]}: {err[-1] if err else 'failed'}")
    return p.stdout


def render(
    repo: Path, kind: str, root: str, namespace: str = "", spec: dict[str, Any] | None = None, release: str = ""
) -> tuple[list[dict[str, Any]], str]:
    """The objects the source renders to, and which renderer produced them."""
    folder = repo / root
    if kind == "kustomize":
        kubectl = find_tool("kubectl")
        if kubectl:
            out = _run([kubectl, "kustomize", str(folder)], repo)
            return _objects(out, "kubectl kustomize output"), "kubectl kustomize"
    if kind == "helm":
        helm = find_tool("helm")
        if helm:
            h = (spec or {}).get("helm")
            h = h if isinstance(h, dict) else {}
            value_files = h.get("valueFiles")
            cmd = [helm, "template", release or "release", str(folder)]
            for vf in value_files if isinstance(value_files, list) else []:
                cmd += ["-f", str(folder / str(vf))]
            if namespace:
                cmd += ["--namespace", namespace]
            out = _run(cmd, repo)
            return _objects(out, "helm template output"), "helm template"
        try:
            if builtin_only():
                raise ImportError
            import helm_python
        except ImportError:
            raise RenderError("helm is not installed; the chart cannot be rendered here") from None
        return _render_sdk(
            helm_python, folder, spec or {}, namespace, release
        ), f"Helm SDK {helm_python.helm_sdk_version()}"
    src = SourceIndex(repo).source(root, namespace, spec, release)
    if src.errors and not src.objects:
        raise RenderError(src.errors[0])
    return [o.data for o in src.objects], "remediator (built-in resolution)"


def _objects(text: str, name: str) -> list[dict[str, Any]]:
    """The objects of a renderer's output, read with the project's bounded loader."""
    try:
        return [d for d in load_all(text, name, as_json=False) if isinstance(d, dict)]
    except LoadError as e:
        raise RenderError(str(e)) from e


def _values(text: str, name: str) -> Any:
    try:
        return load_one(text, name, as_json=False)
    except LoadError as e:
        raise RenderError(str(e)) from e


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values: maps merge key by key, anything else is replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def helm_values(folder: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """The values an Argo CD Helm source passes: valueFiles in order, then values/valuesObject, then parameters."""
    h: dict[str, Any] = spec["helm"] if isinstance(spec.get("helm"), dict) else {}
    values: dict[str, Any] = {}
    value_files = h.get("valueFiles")
    for vf in value_files if isinstance(value_files, list) else []:
        p = folder / str(vf)
        if p.is_file():
            loaded = _values(p.read_text(encoding="utf-8", errors="replace"), str(vf))
            if isinstance(loaded, dict):
                values = deep_merge(values, loaded)
    inline = h.get("valuesObject") or (
        _values(h["values"], "the Application's helm.values") if isinstance(h.get("values"), str) else None
    )
    if isinstance(inline, dict):
        values = deep_merge(values, inline)
    params = h.get("parameters")
    for prm in params if isinstance(params, list) else []:
        if isinstance(prm, dict) and prm.get("name"):
            node = values
            keys = str(prm["name"]).split(".")
            for k in keys[:-1]:
                child = node.get(k)
                if not isinstance(child, dict):
                    child = node[k] = {}
                node = child
            node[keys[-1]] = prm.get("value")
    return values


def _render_sdk(helm: Any, folder: Path, spec: dict[str, Any], namespace: str, release: str) -> list[dict[str, Any]]:
    try:
        with helm.Chart.load(str(folder)) as chart:
            manifests = chart.render(
                helm_values(folder, spec), name=release or "release", namespace=namespace or "default"
            )
    except helm.HelmError as e:
        raise RenderError(f"helm: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    out: list[dict[str, Any]] = []
    for name, text in sorted(manifests.items()):
        if name.endswith("NOTES.txt"):
            continue
        out += _objects(text, name)
    return out
