"""Map an app's objects to the files and documents in Git that produce them.

An Argo CD source is one of three things (the way Argo CD itself decides): a Helm chart (the path
holds ``Chart.yaml``), a Kustomize tree (it holds ``kustomization.yaml``) or a directory of plain
manifests (``directory.recurse``/``include``/``exclude``). For Kustomize we resolve the subset
that carries field values - resources, components, patches (strategic merge and JSON 6902, inline
or in files), ``patchesStrategicMerge``, ``namespace``, ``namePrefix``/``nameSuffix``, ``images``,
``replicas``, generators - and keep, for each rendered object, the base document and every patch
that touches it. This module only reads; edits are planned in :mod:`remediator.edits.locate`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from remediator.evidence.relations import dig
from remediator.evidence.store import CLUSTER_SCOPED
from remediator.model import ObjectRef
from remediator.yamlload import LoadError, load_all

MAX_BYTES = 5 * 1024 * 1024
KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_YAML_EXT = (".yaml", ".yml", ".json")


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
        raise ValueError(str(e)) from None


def _objects_of(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    kind = str(doc.get("kind") or "")
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        return [d for d in doc["items"] if isinstance(d, dict)]
    if kind and isinstance(doc.get("metadata"), dict) and doc["metadata"].get("name"):
        return [doc]
    return []


def _ref(obj: dict[str, Any], default_ns: str) -> ObjectRef:
    kind = str(obj.get("kind"))
    meta = obj.get("metadata") or {}
    ns = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or default_ns)
    return ObjectRef(kind, ns, str(meta.get("name")))


def _within(repo: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(repo.resolve())
    except ValueError:
        return False
    return True


def _glob_match(name: str, pattern: str) -> bool:
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


class SourceIndex:
    """Indexes a checkout once; ``app_source`` resolves one Application source and caches it."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._root = repo.resolve()
        self._cache: dict[tuple[Any, ...], AppSource] = {}
        self._kustomizations: dict[str, list[str]] | None = None
        self._docs: dict[str, list[Any]] = {}

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.repo).as_posix() if ".." not in path.parts else self._resolved_rel(path)
        except ValueError:
            return self._resolved_rel(path)

    def _resolved_rel(self, path: Path) -> str:
        return path.resolve().relative_to(self._root).as_posix()

    def docs(self, path: Path, rel: str) -> list[Any]:
        """Every document of a file, parsed once per index."""
        if rel not in self._docs:
            self._docs[rel] = load_docs(path, rel)
        return self._docs[rel]

    def objects_in(self, path: Path, rel: str, default_ns: str) -> list[Origin]:
        """The objects a file declares, each with a lazy loader of its document."""
        if path.is_symlink():
            raise ValueError(f"{rel}: a symbolic link; not followed")
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{rel}: larger than 5 MiB; not read")
        text = path.read_text(encoding="utf-8", errors="replace")
        ids = quick_identities(text) if "{{" not in text and not rel.endswith(".json") else None
        out: list[Origin] = []
        if ids is not None:
            for i, _api, kind, name, ns in ids:
                ns = "" if kind in CLUSTER_SCOPED else (ns or default_ns)
                out.append(Origin(ObjectRef(kind, ns, name), DocRef(rel, i), self._loader(path, rel, i, None)))
            return out
        for i, doc in enumerate(self.docs(path, rel)):
            objs = _objects_of(doc)
            for j, obj in enumerate(objs):
                out.append(
                    Origin(
                        _ref(obj, default_ns),
                        DocRef(rel, i),
                        self._loader(path, rel, i, j if len(objs) > 1 or obj is not doc else None),
                    )
                )
        return out

    def _loader(self, path: Path, rel: str, doc: int, item: int | None) -> Callable[[], dict[str, Any]]:
        def load() -> dict[str, Any]:
            d = self.docs(path, rel)[doc]
            obj = _objects_of(d)[item] if item is not None else d
            return _copy(obj) if isinstance(obj, dict) else {}

        return load

    # --- Application -> source -------------------------------------------

    def app_sources(self, app: dict[str, Any] | None, default_ns: str = "") -> list[AppSource]:
        """Every Git source of the Application (``spec.source`` or ``spec.sources``) that has a path."""
        if app is None:
            return [self.source("", default_ns)]
        ns = str(dig(app, "spec", "destination", "namespace") or default_ns)
        release = str(dig(app, "metadata", "name") or "")
        one, many = dig(app, "spec", "source"), dig(app, "spec", "sources")
        srcs = [one] if one else many if isinstance(many, list) else []
        out = []
        for s in srcs:
            if not isinstance(s, dict) or (s.get("chart") and not s.get("path")):
                continue
            out.append(self.source(str(s.get("path") or "").strip("/"), ns, s, release))
        return out or [self.source("", ns)]

    def source(
        self, path: str, namespace: str = "", spec: dict[str, Any] | None = None, release: str = ""
    ) -> AppSource:
        spec = _map(spec)
        key = (path, namespace, repr(spec))
        if key in self._cache:
            return self._cache[key]
        root = self.repo / path
        if not root.is_dir() or not _within(self.repo, root):
            src = AppSource(
                "directory", path, errors=[f"{path or '.'}: the app's source path is not a folder of the repository"]
            )
        elif (root / "Chart.yaml").is_file():
            src = self._helm(path, namespace, spec, release)
        elif any((root / k).is_file() for k in KUSTOMIZATION):
            src = AppSource("kustomize", path, namespace=namespace)
            try:
                src.objects = self._kustomize(root, namespace, src.errors, set())
            except ValueError as e:
                src.errors.append(str(e))
            except OSError as e:
                src.errors.append(f"{path or '.'}: cannot read: {e.strerror or e}")
        else:
            src = self._directory(path, namespace, _map(spec.get("directory")))
        src.spec = spec
        self._cache[key] = src
        return src

    # --- plain directories -----------------------------------------------

    def _directory(self, path: str, namespace: str, opts: dict[str, Any]) -> AppSource:
        recurse = bool(opts.get("recurse", False))
        include, exclude = str(opts.get("include") or ""), str(opts.get("exclude") or "")
        src = AppSource("directory", path, namespace=namespace, recurse=recurse)
        root = self.repo / path
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            here = Path(dirpath)
            for fn in sorted(filenames):
                if not fn.endswith(_YAML_EXT):
                    continue
                p = here / fn
                rel_in = p.relative_to(root).as_posix()
                if include and not _glob_match(rel_in, include) and not _glob_match(fn, include):
                    continue
                if exclude and (_glob_match(rel_in, exclude) or _glob_match(fn, exclude)):
                    continue
                nested = here != root
                rel = (PurePosixPath(path) / rel_in).as_posix() if path else rel_in
                try:
                    found = self.objects_in(p, rel, namespace)
                except (ValueError, OSError) as e:
                    src.errors.append(str(e))
                    continue
                for o in found:
                    o.layers = ["(nested)"] if nested else []
                    src.objects.append(o)
        return src

    # --- kustomize ---------------------------------------------------------

    def kustomization_file(self, folder: Path) -> Path | None:
        for k in KUSTOMIZATION:
            if (folder / k).is_file():
                return folder / k
        return None

    def _kustomize(self, folder: Path, namespace: str, errors: list[str], seen: set[Path]) -> list[Origin]:
        kfile = self.kustomization_file(folder)
        if kfile is None:
            raise ValueError(f"{self.rel(folder)}: no kustomization.yaml in a folder listed as a resource")
        if folder.resolve() in seen:
            raise ValueError(f"{self.rel(folder)}: kustomization cycle")
        seen = seen | {folder.resolve()}
        krel = self.rel(kfile)
        layer = self.rel(folder)
        k = load_docs(kfile, krel)
        kd: dict[str, Any] = k[0] if k and isinstance(k[0], dict) else {}
        objs: list[Origin] = []

        def resolve(entry: str, what: str) -> Path:
            if "://" in entry or entry.startswith(("github.com/", "git@")):
                raise ValueError(f"{krel}: {what} {entry!r} is remote; only local paths are resolved")
            p = folder / entry
            if not _within(self.repo, p):
                raise ValueError(f"{krel}: {what} {entry!r} points outside the repository")
            if not p.exists():
                raise ValueError(f"{krel}: {what} {entry!r} does not exist")
            return p

        for entry in [*_paths(kd, "resources", krel), *_paths(kd, "bases", krel)]:
            p = resolve(entry, "resource")
            if p.is_dir():
                objs += self._kustomize(p, "", errors, seen)
            else:
                objs += self.objects_in(p, self.rel(p), "")
        for gen_key, gkind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
            for g in _seq(kd, gen_key, krel):
                if isinstance(g, dict) and g.get("name"):
                    hashed = not (
                        dig(g, "options", "disableNameSuffixHash")
                        or dig(kd, "generatorOptions", "disableNameSuffixHash")
                    )
                    obj = {"apiVersion": "v1", "kind": gkind, "metadata": {"name": str(g["name"])}}
                    objs.append(
                        Origin(ObjectRef(gkind, "", str(g["name"])), None, partial(_copy, obj), generated=hashed)
                    )
        for o in objs:
            o.layers.append(layer)
            o.names[layer] = o.ref.name
        patches = self._patches(folder, krel, kd, layer)
        for c in _paths(kd, "components", krel):
            cp = resolve(c, "component")
            cfile = self.kustomization_file(cp)
            if cfile is None:
                raise ValueError(f"{krel}: component {c!r} has no kustomization.yaml")
            cdocs = load_docs(cfile, self.rel(cfile))
            cd: dict[str, Any] = cdocs[0] if cdocs and isinstance(cdocs[0], dict) else {}
            for entry in _paths(cd, "resources", self.rel(cfile)):
                p = cp / entry
                if p.is_file():
                    for o in self.objects_in(p, self.rel(p), ""):
                        o.layers.append(layer)
                        o.names[layer] = o.ref.name
                        objs.append(o)
            patches += self._patches(cp, self.rel(cfile), cd, layer)
        for pt in patches:
            for o in objs:
                if _targets(pt, o):
                    o.ops.append(partial(_op_patch, pt))
                    o.patches.append(pt)
        ns = str(kd.get("namespace") or "")
        prefix, suffix = str(kd.get("namePrefix") or ""), str(kd.get("nameSuffix") or "")
        images = [img for img in _seq(kd, "images", krel) if isinstance(img, dict)]
        replicas = {str(r.get("name")): r.get("count") for r in _seq(kd, "replicas", krel) if isinstance(r, dict)}
        for o in objs:
            name = o.names[layer]
            if images and o.ref.kind not in CLUSTER_SCOPED:
                o.ops.append(partial(_op_images, images))
            if name in replicas and o.ref.kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
                o.ops.append(partial(_op_replicas, replicas[name]))
            new_ns = o.ref.namespace
            if ns and o.ref.kind not in CLUSTER_SCOPED:
                new_ns = ns
                o.ops.append(partial(_op_meta, "namespace", ns))
            new_name = o.ref.name
            if (prefix or suffix) and o.ref.kind not in ("Namespace", "CustomResourceDefinition"):
                new_name = f"{prefix}{o.ref.name}{suffix}"
                o.ops.append(partial(_op_meta, "name", new_name))
            o.ref = ObjectRef(o.ref.kind, "" if o.ref.kind in CLUSTER_SCOPED else (new_ns or namespace), new_name)
            o._data = None
        return objs

    def _patches(self, folder: Path, krel: str, kd: dict[str, Any], layer: str) -> list[Patch]:
        out: list[Patch] = []
        entries: list[tuple[Any, str]] = [
            (p, key) for key in ("patches", "patchesStrategicMerge", "patchesJson6902") for p in _seq(kd, key, krel)
        ]
        for entry, key in entries:
            target: dict[str, Any] = {}
            path: str | None = None
            inline: Any = None
            if isinstance(entry, str):
                if key == "patchesStrategicMerge" and "\n" not in entry and entry.strip().endswith(_YAML_EXT):
                    path = entry.strip()
                else:
                    inline = entry
            elif isinstance(entry, dict):
                target = dict(_map(entry.get("target")))
                path = entry.get("path") if isinstance(entry.get("path"), str) else None
                inline = entry.get("patch")
            if path is not None:
                p = folder / str(path)
                if not _within(self.repo, p) or not p.is_file():
                    raise ValueError(f"{krel}: patch {path!r} does not exist")
                rel = self.rel(p)
                for i, doc in enumerate(load_docs(p, rel)):
                    kind: Literal["smp", "json6902"] = "json6902" if isinstance(doc, list) else "smp"
                    out.append(Patch(kind, layer, DocRef(rel, i), target, doc))
            elif isinstance(inline, str):
                try:
                    docs = load_all(inline, f"{krel}: inline patch", as_json=False)
                except LoadError as e:
                    raise ValueError(str(e)) from None
                for doc in docs:
                    out.append(Patch("json6902" if isinstance(doc, list) else "smp", layer, None, target, doc))
        return out

    def kustomization_users(self) -> dict[str, list[str]]:
        """folder -> the kustomization folders that list it (as a resource, base or component)."""
        if self._kustomizations is None:
            users: dict[str, list[str]] = {}
            for dirpath, dirnames, filenames in os.walk(self.repo):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for k in KUSTOMIZATION:
                    if k in filenames:
                        folder = Path(dirpath)
                        try:
                            docs = load_docs(folder / k, self.rel(folder / k))
                        except (ValueError, OSError):
                            continue
                        kd = docs[0] if docs and isinstance(docs[0], dict) else {}
                        for key in ("resources", "bases", "components"):
                            entries = kd.get(key)
                            for entry in entries if isinstance(entries, list) else []:
                                p = folder / str(entry)
                                try:
                                    if not (p.is_dir() and _within(self.repo, p)):
                                        continue
                                except (ValueError, OSError):  # a NUL byte, a name too long
                                    continue
                                users.setdefault(self.rel(p), []).append(self.rel(folder))
                        break
            self._kustomizations = users
        return self._kustomizations

    # --- helm --------------------------------------------------------------

    def _helm(self, path: str, namespace: str, spec: dict[str, Any], release: str) -> AppSource:
        h = _map(spec.get("helm"))
        src = AppSource("helm", path, namespace=namespace, release=str(h.get("releaseName") or release or "release"))
        value_files = h.get("valueFiles")
        files = [str(v) for v in value_files if v] if isinstance(value_files, list) else []
        files = files or ["values.yaml"]
        root = self.repo / path
        for f in files:
            p = root / f
            if "://" in f:
                src.errors.append(f"{path}: values file {f!r} is remote; not edited")
            elif not _within(self.repo, p):
                src.errors.append(f"{path}: values file {f!r} points outside the repository")
            elif p.is_file():
                src.values_files.append(self.rel(p))
            elif not h.get("ignoreMissingValueFiles"):
                src.errors.append(f"{path}: values file {f!r} does not exist")
        params = h.get("parameters")
        src.helm_parameters = [p for p in params if isinstance(p, dict)] if isinstance(params, list) else []
        src.helm_inline_values = bool(h.get("values") or h.get("valuesObject"))
        return src


def _map(value: Any) -> dict[str, Any]:
    """A mapping field of evidence (the Application's source): anything else counts as absent."""
    return value if isinstance(value, dict) else {}


def _seq(d: dict[str, Any], key: str, where: str) -> list[Any]:
    """A list field of a kustomization; another type is the file's error, naming the field."""
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}: {key} must be a list, not {_type_name(value)}")
    return value


def _paths(d: dict[str, Any], key: str, where: str) -> list[str]:
    """A list of relative paths or URLs of a kustomization (resources, bases, components)."""
    out = []
    for i, entry in enumerate(_seq(d, key, where)):
        if not isinstance(entry, str) or not entry.strip() or "\0" in entry:
            raise ValueError(f"{where}: {key}[{i}] must be a path, not {_type_name(entry)}")
        out.append(entry)
    return out


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj


def _targets(p: Patch, o: Origin) -> bool:
    t = p.target
    if not t and p.kind == "smp" and isinstance(p.data, dict):
        t = {"kind": p.data.get("kind"), "name": dig(p.data, "metadata", "name")}
    if not t:
        return False
    name = o.names.get(p.layer, o.ref.name)
    if t.get("kind") and t["kind"] != o.ref.kind:
        return False
    if t.get("name"):
        pat = str(t["name"])
        if not (pat == name or pat == o.ref.name or _fullmatch(pat, name)):
            return False
    if t.get("namespace") and t["namespace"] != o.ref.namespace:
        return False
    if t.get("labelSelector"):
        labels = _map(dig(o.data, "metadata", "labels"))
        for part in str(t["labelSelector"]).split(","):
            k, _, v = part.partition("=")
            if labels.get(k.strip()) != v.strip():
                return False
    return True


def _fullmatch(pattern: str, name: str) -> bool:
    """A patch target's name as kustomize reads it (a regular expression); an invalid one matches nothing."""
    if len(pattern) > 253:  # longer than any object name: not worth compiling
        return False
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


def smp_merge(base: Any, patch: Any) -> Any:
    """Strategic merge, the subset that matters here: maps merge, lists of named items merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if k == "$patch":
                continue
            out[k] = smp_merge(base.get(k), v) if k in base else _copy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(x, dict) and "name" in x for x in patch):
        merged = [_copy(x) for x in base]
        for item in patch:
            for i, b in enumerate(merged):
                if isinstance(b, dict) and b.get("name") == item["name"]:
                    merged[i] = smp_merge(b, item)
                    break
            else:
                merged.append(_copy(item))
        return merged
    return _copy(patch)


def pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")] if path.strip("/") else []


def _apply_patch(data: dict[str, Any], p: Patch) -> None:
    if p.kind == "smp":
        if isinstance(p.data, dict):
            merged = smp_merge(data, {k: v for k, v in p.data.items() if k not in ("apiVersion", "kind", "metadata")})
            data.clear()
            data.update(merged)
        return
    for op in p.data or []:
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove"):
            continue
        parts = pointer(str(op.get("path") or ""))
        node: Any = data
        try:
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
            last = parts[-1]
            if op["op"] == "remove":
                del node[int(last) if isinstance(node, list) else last]
            elif isinstance(node, list):
                if last == "-":
                    node.append(_copy(op.get("value")))
                elif op["op"] == "add":
                    node.insert(int(last), _copy(op.get("value")))
                else:
                    node[int(last)] = _copy(op.get("value"))
            else:
                node[last] = _copy(op.get("value"))
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            continue


def _op_patch(p: Patch, data: dict[str, Any]) -> None:
    _apply_patch(data, p)


def _op_images(images: list[dict[str, Any]], data: dict[str, Any]) -> None:
    for img in images:
        _set_image(data, img)


def _op_replicas(count: Any, data: dict[str, Any]) -> None:
    if isinstance(data.get("spec"), dict):
        data["spec"]["replicas"] = count


def _op_meta(key: str, value: str, data: dict[str, Any]) -> None:
    meta = data.setdefault("metadata", {})
    if isinstance(meta, dict):
        meta[key] = value


def _set_image(data: dict[str, Any], img: dict[str, Any]) -> None:
    name = str(img.get("name") or "")
    spec = (
        dig(data, "spec", "template", "spec")
        or dig(data, "spec", "jobTemplate", "spec", "template", "spec")
        or dig(data, "spec")
    )
    if not isinstance(spec, dict):
        return
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image") or "")
        repo = re.split(r"[@]", image)[0]
        repo_no_tag = repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo
        if repo_no_tag != name:
            continue
        new = str(img.get("newName") or repo_no_tag)
        if img.get("digest"):
            c["image"] = f"{new}@{img['digest']}"
        elif img.get("newTag"):
            c["image"] = f"{new}:{img['newTag']}"
        else:
            c["image"] = new + image[len(repo_no_tag) :]
