"""What the files of a source declare, and where each rendered object comes from.

:class:`Origin` ties one object (as our own resolution renders it) to the document that declares
it, the kustomization layers it passes and the patches that touch it; :class:`AppSource` is one
resolved Application source. Files are read here with the bounded loader, documents cut at
``---`` the same way :class:`remediator.edits.yamlfile.YamlFile` cuts them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from remediator.evidence.store import CLUSTER_SCOPED
from remediator.model import ObjectRef
from remediator.yamlload import LoadError, load_all

MAX_BYTES = 5 * 1024 * 1024
YAML_EXT = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class DocRef:
    file: str  # repo-relative POSIX path
    doc: int  # index of the document in the file (as cut by YamlFile: at --- markers)


@dataclass
class Patch:
    kind: Literal["smp", "json6902"]
    layer: str  # the kustomization folder that lists it
    loc: DocRef | None  # the file document holding it; None when inline in the kustomization
    target: dict[str, Any]
    data: Any


Op = Callable[[dict[str, Any]], None]


@dataclass
class Origin:
    """Where one rendered object comes from. ``data`` (the object as our own resolution renders
    it) is built on first use: indexing reads only kinds and names, so a large repository is
    indexed without building every object."""

    ref: ObjectRef  # as rendered (final namespace and name)
    base: DocRef | None  # the document that declares it; None for generated objects
    loader: Callable[[], dict[str, Any]]  # a fresh copy of the declaring document
    layers: list[str] = field(default_factory=list)  # kustomization folders, innermost first
    names: dict[str, str] = field(default_factory=dict)  # layer -> the name its patches see
    patches: list[Patch] = field(default_factory=list)  # in the order they apply
    generated: bool = False
    remote: str = ""  # the remote Kustomize base it comes from (rendered by kubectl; never edited)
    ops: list[Op] = field(default_factory=list)  # kustomize transformations, in order
    _data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            d = self.loader()
            for op in self.ops:
                op(d)
            self._data = d
        return self._data


class Checkout(Protocol):
    """What the source resolvers (:mod:`remediator.edits.helm`, :mod:`remediator.edits.kustomize`)
    need of the index that calls them: the checkout, repo-relative paths, the objects a file declares,
    the kustomizations and remote bases. :class:`remediator.edits.index.SourceIndex` is the one
    implementation; the Protocol keeps the resolvers from importing it (no import cycle)."""

    repo: Path

    def rel(self, path: Path) -> str: ...

    def objects_in(self, path: Path, rel: str, default_ns: str) -> list[Origin]: ...

    def kustomizations(self) -> dict[str, Path]: ...

    def remote_docs(self, entry: str) -> list[dict[str, Any]]: ...


@dataclass
class AppSource:
    kind: Literal["directory", "kustomize", "helm"]
    root: str  # repo-relative source path ("" = repo root)
    objects: list[Origin] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    values_files: list[str] = field(default_factory=list)  # helm: repo-relative, in order
    helm_parameters: list[dict[str, Any]] = field(default_factory=list)
    helm_inline_values: bool = False
    release: str = ""
    namespace: str = ""
    recurse: bool = True
    spec: dict[str, Any] | None = None  # the Application source it came from
    remote: str = ""  # a chart from a Helm repository: "chart c 1.2.3 from URL" ("" = a folder of Git)
    chart_dir: str = ""  # the fetched chart's folder (remote charts; "" = not fetched)
    fetch_error: str = ""  # why the remote chart could not be fetched
    app_file: DocRef | None = None  # the repository file that declares the Application (app-of-apps)
    app_path: tuple[Any, ...] = ("spec", "source")  # where this source is in the Application

    @property
    def scope(self) -> list[str]:
        """Repository paths an edit of this source may touch: its folder ($values files for a remote
        chart, and those outside the folder) and the file that declares the Application."""
        out = [] if self.remote else [self.root]
        out += [v for v in self.values_files if v not in out]
        if self.app_file is not None:
            out.append(self.app_file.file)
        return out

    _by_name: dict[tuple[str, str], list[Origin]] | None = None
    _indexed: int = 0

    def find(self, ref: ObjectRef) -> list[Origin]:
        if self._by_name is None or self._indexed != len(self.objects):
            self._by_name = {}
            for o in self.objects:
                self._by_name.setdefault((o.ref.kind, o.ref.name), []).append(o)
            self._indexed = len(self.objects)
        out = self._by_name.get((ref.kind, ref.name), [])
        exact = [o for o in out if o.ref.namespace in (ref.namespace, "")]
        if exact:
            return exact
        gen = [
            o
            for o in self.objects
            if o.generated
            and o.ref.kind == ref.kind
            and re.fullmatch(re.escape(o.ref.name) + r"-[a-z0-9]{10}", ref.name)
        ]
        return gen


def load_docs(path: Path, rel: str) -> list[Any]:
    """Documents of a file as cut at ``---`` (the same cut as YamlFile). Raises ValueError naming the file."""
    if path.is_symlink():
        raise ValueError(f"{rel}: a symbolic link; not followed")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{rel}: larger than 5 MiB; not read")
    text = path.read_text(encoding="utf-8", errors="replace")
    if "{{" in text:
        raise ValueError(f"{rel}: a Helm template, not plain YAML")
    try:
        return load_all(text, rel)
    except LoadError as e:  # a bomb, too many documents, too deep, or malformed: the file is skipped
        raise ValueError(str(e)) from e


def objects_of(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    kind = str(doc.get("kind") or "")
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        return [d for d in doc["items"] if isinstance(d, dict)]
    if kind and isinstance(doc.get("metadata"), dict) and doc["metadata"].get("name"):
        return [doc]
    return []


def ref_in(obj: dict[str, Any], default_ns: str) -> ObjectRef:
    kind = str(obj.get("kind"))
    meta = obj.get("metadata") or {}
    ns = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or default_ns)
    return ObjectRef(kind, ns, str(meta.get("name")))


def within(repo: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(repo.resolve())
    except ValueError:
        return False
    return True


def glob_match(name: str, pattern: str) -> bool:
    pats = [p.strip() for p in pattern.strip("{}").split(",")] if pattern.startswith("{") else [pattern]
    return any(fnmatch.fnmatch(name, p) for p in pats if p)


_KIND = re.compile(r"^kind:[ \t]*['\"]?([A-Za-z0-9]+)['\"]?[ \t]*(?:#.*)?$", re.M)
_API = re.compile(r"^apiVersion:[ \t]*['\"]?([A-Za-z0-9./-]+)['\"]?[ \t]*(?:#.*)?$", re.M)
_META = re.compile(r"^metadata:[ \t]*(?:#.*)?\n((?:(?:[ \t]+.*|[ \t]*)\n?)*)", re.M)
_FIELD = re.compile(r"^( +)(name|namespace):[ \t]*['\"]?([A-Za-z0-9._:-]+)['\"]?[ \t]*(?:#.*)?$", re.M)
_DOC_SPLIT = re.compile(r"^---(?:[ \t].*)?$", re.M)


def quick_identities(text: str) -> list[tuple[int, str, str, str, str]] | None:
    """(document index, apiVersion, kind, name, namespace) of each document, read without building
    the objects; None when any document is not in the plain block style this scan can read for
    certain (then the caller parses the file)."""
    if "&" in text or "*" in text or "!" in text or "\t" in text or "\r" in text:
        return None
    out = []
    parts = _DOC_SPLIT.split(text)
    if len(parts) > 1 and all(not ln.strip() or ln.lstrip().startswith("#") for ln in parts[0].splitlines()):
        parts = parts[1:]  # comments before the first marker are not a document
    for i, part in enumerate(parts):
        body = "\n".join(ln for ln in part.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
        if not body:
            continue
        kinds = _KIND.findall(part)
        metas = list(_META.finditer(part + "\n"))
        if len(kinds) != 1 or len(metas) != 1 or kinds[0].endswith("List"):
            return None
        block = metas[0].group(1)
        fields = [(len(m.group(1)), m.group(2), m.group(3)) for m in _FIELD.finditer(block)]
        if not fields:
            return None
        indent = min(f[0] for f in fields)
        found = {k: v for ind, k, v in fields if ind == indent}
        first = next((ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        if "name" not in found or len(first) - len(first.lstrip(" ")) != indent:
            return None
        api = _API.findall(part)
        out.append((i, api[0] if api else "", kinds[0], found["name"], found.get("namespace", "")))
    return out


def as_map(value: Any) -> dict[str, Any]:
    """A mapping field of evidence (the Application's source): anything else counts as absent."""
    return value if isinstance(value, dict) else {}


def copy_data(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: copy_data(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_data(v) for v in obj]
    return obj
