"""Render an app's source the way Argo CD does, to check an edit: the real ``kubectl kustomize`` /
``helm template`` when they are installed (``pip install 'remediator[render]'`` brings kubectl),
our own resolution otherwise."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from remediator.edits.index import SourceIndex
from remediator.errors import PermanentError
from remediator.redact import redact
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
        raise RenderError(f"{Path(cmd[0]).name} {cmd[1]}: {tool_error(p.stderr or p.stdout)}")
    return p.stdout


MAX_ERROR = 2048


def tool_error(text: str) -> str:
    """A tool's whole error output (every line), redacted and bounded to ~2 KB."""
    text = redact(text.strip()) or "failed"
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR] + " [...]"


def argo_image(text: str) -> dict[str, str]:
    """An Argo CD ``kustomize.images`` entry (``name=new:tag``, ``name:tag``, ``name@digest``) as a kustomization image."""
    name, _, new = text.partition("=")
    target = new or name
    out: dict[str, str] = {}
    if "@" in target:
        target, out["digest"] = target.split("@", 1)
    elif ":" in target.rsplit("/", 1)[-1]:
        target, out["newTag"] = target.rsplit(":", 1)
    if new:
        out["newName"] = target
    else:
        name = target
    return {"name": name, **out}


def argo_kustomize(folder: Path, spec: dict[str, Any]) -> dict[str, Any] | None:
    """A kustomization wrapping ``folder`` with the Application's own options (images, namePrefix,
    nameSuffix, patches, commonLabels), applied after the folder's as Argo CD does; None without options."""
    k = spec.get("kustomize")
    if not isinstance(k, dict):
        return None
    wrap: dict[str, Any] = {}
    if isinstance(k.get("images"), list):
        wrap["images"] = [argo_image(str(i)) for i in k["images"]]
    for key in ("namePrefix", "nameSuffix"):
        if k.get(key):
            wrap[key] = str(k[key])
    if isinstance(k.get("patches"), list):
        wrap["patches"] = k["patches"]
    if isinstance(k.get("commonLabels"), dict):
        wrap["commonLabels"] = k["commonLabels"]
    if not wrap:
        return None
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": [], **wrap}


def remote_base(entry: str) -> list[dict[str, Any]]:
    """The objects a remote Kustomize base (``github.com/org/repo//path?ref=v1``, ``https://…``,
    ``git::…``) renders to, fetched and built read-only by ``kubectl kustomize``. Raises RenderError."""
    kubectl = find_tool("kubectl")
    if not kubectl:
        raise RenderError(f"kubectl is not installed; the remote base {entry} cannot be resolved here")
    with tempfile.TemporaryDirectory(prefix="remediator-remote-") as tmp:
        out = _run([kubectl, "kustomize", entry], Path(tmp))
    return _objects(out, f"kubectl kustomize {entry}")


def chart_cache() -> Path:
    """Where fetched charts are kept: ``REMEDIATOR_CHART_CACHE``, else ~/.cache/remediator/charts."""
    env = os.environ.get("REMEDIATOR_CHART_CACHE", "")
    return Path(env) if env else Path.home() / ".cache" / "remediator" / "charts"


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", part)[:100] or "_"


def fetch_chart(repo_url: str, chart: str, version: str, cache: Path | None = None) -> Path:
    """A chart from a Helm repository (classic ``index.yaml`` or ``oci://``) unpacked in the cache;
    returns the chart's folder. Uses the Helm SDK, else ``helm pull``. Raises RenderError."""
    if builtin_only():
        raise RenderError("REMEDIATOR_RENDER=builtin: charts are not fetched")
    if not repo_url or not chart:
        raise RenderError("the chart source has no repoURL or chart")
    oci = repo_url.startswith("oci://") or "://" not in repo_url
    key = _safe(re.sub(r"^[a-z]+://", "", repo_url))
    dest = (cache or chart_cache()) / key / f"{_safe(chart)}-{_safe(version or 'latest')}"
    folder = dest / chart.rsplit("/", 1)[-1]
    if (folder / "Chart.yaml").is_file() and version and "*" not in version:
        return folder
    dest.mkdir(parents=True, exist_ok=True)
    ref = f"{'' if repo_url.startswith('oci://') else 'oci://'}{repo_url.rstrip('/')}/{chart}" if oci else chart
    errors: list[str] = []
    try:
        if builtin_only():
            raise ImportError
        import helm_python
    except ImportError:
        pass
    else:
        try:
            helm_python.pull(
                ref,
                version=version or None,
                repo_url=None if oci else repo_url,
                untar=True,
                untar_dir=str(dest),
                destination=str(dest),
            )
        except helm_python.HelmError as e:
            errors.append(f"Helm SDK: {tool_error(str(e))}")
        if (folder / "Chart.yaml").is_file():
            return folder
    helm = find_tool("helm")
    if helm:
        cmd = [helm, "pull", ref, "--untar", "--untardir", str(dest)]
        cmd += ["--repo", repo_url] if not oci else []
        cmd += ["--version", version] if version else []
        try:
            _run(cmd, dest)
        except RenderError as e:
            errors.append(str(e))
        if (folder / "Chart.yaml").is_file():
            return folder
    raise RenderError(
        f"chart {chart} {version} from {repo_url} could not be fetched: "
        + ("; ".join(errors) or "neither the Helm SDK nor helm is installed")
    )


def render(
    repo: Path,
    kind: str,
    root: str,
    namespace: str = "",
    spec: dict[str, Any] | None = None,
    release: str = "",
    chart_dir: Path | None = None,
    value_paths: list[Path] | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """The objects the source renders to, and which renderer produced them. A chart from a Helm
    repository is rendered from ``chart_dir`` (fetched) with ``value_paths`` (the ``$values`` files)."""
    folder = chart_dir or repo / root
    if kind == "helm" and chart_dir is None and (spec or {}).get("chart") and not (spec or {}).get("path"):
        raise RenderError(f"chart {(spec or {}).get('chart')} from {(spec or {}).get('repoURL')} was not fetched")
    if kind == "kustomize":
        kubectl = find_tool("kubectl")
        if kubectl:
            wrapper = argo_kustomize(folder, spec or {})
            if wrapper is None:
                out = _run([kubectl, "kustomize", str(folder)], repo)
                return _objects(out, "kubectl kustomize output"), "kubectl kustomize"
            with tempfile.TemporaryDirectory(prefix="remediator-argo-") as tmp:
                wrapper["resources"] = [os.path.relpath(folder.resolve(), Path(tmp).resolve())]
                (Path(tmp) / "kustomization.yaml").write_text(json.dumps(wrapper), encoding="utf-8")
                out = _run([kubectl, "kustomize", tmp], repo)
            return _objects(
                out, "kubectl kustomize output"
            ), "kubectl kustomize (with the Application's kustomize options)"
    if kind == "helm":
        helm = find_tool("helm")
        if helm:
            h = (spec or {}).get("helm")
            h = h if isinstance(h, dict) else {}
            value_files = h.get("valueFiles")
            cmd = [helm, "template", release or "release", str(folder)]
            files = value_paths if value_paths is not None else [folder / str(v) for v in _list(value_files)]
            for vf in files:
                cmd += ["-f", str(vf)]
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
            helm_python, folder, spec or {}, namespace, release, value_paths
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


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def helm_values(folder: Path, spec: dict[str, Any], value_paths: list[Path] | None = None) -> dict[str, Any]:
    """The values an Argo CD Helm source passes: valueFiles in order, then values/valuesObject, then parameters."""
    h: dict[str, Any] = spec["helm"] if isinstance(spec.get("helm"), dict) else {}
    values: dict[str, Any] = {}
    files = value_paths if value_paths is not None else [folder / str(v) for v in _list(h.get("valueFiles"))]
    for p in files:
        if p.is_file():
            loaded = _values(p.read_text(encoding="utf-8", errors="replace"), p.name)
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


def _render_sdk(
    helm: Any, folder: Path, spec: dict[str, Any], namespace: str, release: str, value_paths: list[Path] | None = None
) -> list[dict[str, Any]]:
    try:
        with helm.Chart.load(str(folder)) as chart:
            manifests = chart.render(
                helm_values(folder, spec, value_paths), name=release or "release", namespace=namespace or "default"
            )
    except helm.HelmError as e:
        raise RenderError(f"helm: {tool_error(str(e)) if str(e) else type(e).__name__}") from e
    out: list[dict[str, Any]] = []
    for name, text in sorted(manifests.items()):
        if name.endswith("NOTES.txt"):
            continue
        out += _objects(text, name)
    return out
