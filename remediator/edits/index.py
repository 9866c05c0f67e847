"""The one reader of an app's Git source: which files and documents produce each of its objects.

An Argo CD source is one of three things (the way Argo CD itself decides): a Helm chart (the path
holds ``Chart.yaml``, :mod:`remediator.edits.helm`), a Kustomize tree (it holds
``kustomization.yaml``, :mod:`remediator.edits.kustomize`) or a directory of plain manifests
(``directory.recurse``/``include``/``exclude``). :meth:`SourceIndex.desired` answers "what does Git
declare for this app" for the detectors (``Evidence.desired``) and the remedies alike; the review
reads every object of the repository through the same resolution. This module only reads; edits
are planned in :mod:`remediator.edits.locate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from remediator.edits import kustomize
from remediator.edits.helm import helm_source
from remediator.edits.origin import (
    MAX_BYTES,
    YAML_EXT,
    AppSource,
    DocRef,
    Origin,
    as_map,
    copy_data,
    glob_match,
    load_docs,
    objects_of,
    quick_identities,
    ref_in,
    within,
)
from remediator.errors import RemediatorError
from remediator.evidence.appsource import SourceSpec, app_source
from remediator.evidence.store import CLUSTER_SCOPED, Obj
from remediator.model import ObjectRef

# Files that configure a source rather than declare objects.
NOT_MANIFESTS = {*kustomize.KUSTOMIZATION, "Chart.yaml", "Chart.lock"}


class SourceIndex:
    """Indexes a checkout once; ``source`` resolves one Application source and caches it."""

    def __init__(
        self,
        repo: Path,
        charts: Callable[[SourceSpec], Path] | None = None,
        remote: Callable[[str], list[dict[str, Any]]] | None = None,
    ) -> None:
        """``charts`` fetches a chart from a Helm repository (:func:`remediator.edits.render.fetch_chart`);
        without it a remote chart's values are mapped from the values files alone. ``remote`` renders
        a remote Kustomize base (:func:`remediator.edits.render.remote_base`); without it such a base
        is an error of the source."""
        self.repo = repo
        self._root = repo.resolve()
        self._cache: dict[tuple[Any, ...], AppSource] = {}
        self._users: dict[str, list[str]] | None = None
        self._docs: dict[str, list[Any]] = {}
        self._walked: tuple[dict[str, Path], list[str]] | None = None
        self.charts = charts
        self.remote = remote
        self._remote_docs: dict[str, list[dict[str, Any]]] = {}
        self._apps: dict[str, DocRef | None] = {}

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
            objs = objects_of(doc)
            for j, obj in enumerate(objs):
                out.append(
                    Origin(
                        ref_in(obj, default_ns),
                        DocRef(rel, i),
                        self._loader(path, rel, i, j if len(objs) > 1 or obj is not doc else None),
                    )
                )
        return out

    def _loader(self, path: Path, rel: str, doc: int, item: int | None) -> Callable[[], dict[str, Any]]:
        def load() -> dict[str, Any]:
            d = self.docs(path, rel)[doc]
            obj = objects_of(d)[item] if item is not None else d
            return copy_data(obj) if isinstance(obj, dict) else {}

        return load

    # --- Application -> source -------------------------------------------

    # --- Application -> source -------------------------------------------

    def app_sources(self, app: Obj | None, default_ns: str = "") -> list[AppSource]:
        """Every Git source of the Application (``spec.source`` or ``spec.sources``) that has a path."""
        if app is None:
            return [self.source("", default_ns)]
        spec = app_source(app)
        ns = spec.namespace or default_ns
        refs = {s.ref: spec.cloned(s) for s in spec.sources if s.ref}
        app_file = self.application_file(spec.name) if spec.name else None
        out: list[AppSource] = []
        for i, s in enumerate(spec.sources):
            if s.remote_chart:
                vfs = as_map(s.helm).get("valueFiles")
                if not any(str(v).startswith("$") for v in (vfs if isinstance(vfs, list) else [])):
                    continue  # nothing of it is in Git
                src = self._remote_chart(s, ns, spec.name, refs)
            elif s.in_git:
                src = self.source(s.path, ns, s.raw, spec.name, refs)
            else:
                continue
            src.app_file = app_file
            src.app_path = ("spec", "sources", i) if spec.multi else ("spec", "source")
            out.append(src)
        return out or [self.source("", ns)]

    def _remote_chart(self, s: SourceSpec, ns: str, release: str, refs: dict[str, bool]) -> AppSource:
        key = ("remote", s.repo_url, s.chart, s.target_revision, ns, repr(s.raw), repr(refs))
        if key in self._cache:
            return self._cache[key]
        src = helm_source(self, "", ns, s.raw, release, refs, remote=True)
        src.remote = f"chart {s.chart} {s.target_revision} from {s.repo_url}"
        src.spec = s.raw
        if self.charts is not None:
            try:
                src.chart_dir = str(self.charts(s))
            except (RemediatorError, OSError) as e:
                src.fetch_error = str(e)
        else:
            src.fetch_error = "charts are not fetched here"
        self._cache[key] = src
        return src

    def remote_docs(self, entry: str) -> list[dict[str, Any]]:
        """The objects of a remote Kustomize base, rendered once per index. Raises ValueError."""
        if entry not in self._remote_docs:
            if self.remote is None:
                raise ValueError(f"{entry!r} is remote; it is resolved only with kubectl kustomize (remediator fix)")
            try:
                self._remote_docs[entry] = self.remote(entry)
            except RemediatorError as e:
                raise ValueError(f"remote base {entry!r}: {e}") from e
        return self._remote_docs[entry]

    def application_file(self, name: str) -> DocRef | None:
        """The document of the repository that declares the Argo CD Application ``name`` (app-of-apps),
        None when none or several do."""
        if name not in self._apps:
            found: list[DocRef] = []
            for rel in self.manifest_files():
                p = self.repo / rel
                try:
                    if p.is_symlink() or p.stat().st_size > MAX_BYTES:
                        continue
                    text = p.read_text(encoding="utf-8", errors="replace")
                    if "Application" not in text or name not in text:
                        continue
                    for o in self.objects_in(p, rel, ""):
                        if o.ref.kind == "Application" and o.ref.name == name:
                            found.append(o.base or DocRef(rel, 0))
                except (ValueError, OSError):
                    continue
            self._apps[name] = found[0] if len(found) == 1 else None
        return self._apps[name]

    def desired(self, app: Obj | None, errors: list[str] | None = None, default_ns: str = "") -> list[Obj]:
        """What Git declares for the app: the objects of its sources as our own resolution renders
        them (Kustomize layers and patches applied), each with ``_source``, the file that declares
        it. What could not be read is added to ``errors``."""
        sources = self.app_sources(app, default_ns)
        out = declared(sources)
        if errors is not None:
            errors += [e for s in sources for e in s.errors if e not in errors]
        return out

    def source(
        self,
        path: str,
        namespace: str = "",
        spec: dict[str, Any] | None = None,
        release: str = "",
        refs: dict[str, bool] | None = None,
    ) -> AppSource:
        spec = as_map(spec)
        key = (path, namespace, repr(spec), repr(refs))
        if key in self._cache:
            return self._cache[key]
        root = self.repo / path
        if not root.is_dir() or not within(self.repo, root):
            src = AppSource(
                "directory", path, errors=[f"{path or '.'}: the app's source path is not a folder of the repository"]
            )
        elif (root / "Chart.yaml").is_file():
            src = helm_source(self, path, namespace, spec, release, refs)
        elif any((root / k).is_file() for k in kustomize.KUSTOMIZATION):
            src = AppSource("kustomize", path, namespace=namespace)
            try:
                src.objects = kustomize.resolve(self, root, namespace, src.errors, set())
                kustomize.application_names(src.objects, as_map(spec.get("kustomize")))
            except ValueError as e:
                src.errors.append(str(e))
            except OSError as e:
                src.errors.append(f"{path or '.'}: cannot read: {e.strerror or e}")
        else:
            src = self._directory(path, namespace, as_map(spec.get("directory")))
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
                if not fn.endswith(YAML_EXT):
                    continue
                p = here / fn
                rel_in = p.relative_to(root).as_posix()
                if include and not glob_match(rel_in, include) and not glob_match(fn, include):
                    continue
                if exclude and (glob_match(rel_in, exclude) or glob_match(fn, exclude)):
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

    # --- the whole repository ----------------------------------------------

    def _walk(self) -> tuple[dict[str, Path], list[str]]:
        """One walk of the checkout (hidden folders skipped): the kustomization file of each
        folder that has one, and every YAML file that may declare objects."""
        if self._walked is None:
            kfiles: dict[str, Path] = {}
            files: list[str] = []
            for dirpath, dirnames, filenames in os.walk(self.repo):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                folder = Path(dirpath)
                for k in kustomize.KUSTOMIZATION:
                    if k in filenames:
                        rel = folder.relative_to(self.repo).as_posix()
                        kfiles["" if rel == "." else rel] = folder / k
                        break
                for fn in sorted(filenames):
                    if fn.endswith((".yaml", ".yml")) and fn not in NOT_MANIFESTS:
                        files.append((folder / fn).relative_to(self.repo).as_posix())
            self._walked = (kfiles, files)
        return self._walked

    def kustomizations(self) -> dict[str, Path]:
        """folder -> its kustomization file, for every kustomization of the repository."""
        return self._walk()[0]

    def manifest_files(self) -> list[str]:
        """Every YAML file of the repository but kustomizations and chart metadata."""
        return self._walk()[1]

    def kustomization_users(self) -> dict[str, list[str]]:
        """folder -> the kustomization folders that list it (as a resource, base or component)."""
        if self._users is None:
            self._users = kustomize.users(self)
        return self._users

    def kustomize_roots(self) -> list[str]:
        """Kustomization folders no other kustomization lists: what a render starts from."""
        users = self.kustomization_users()
        return [k for k in self.kustomizations() if k not in users]


def declared(sources: list[AppSource]) -> list[Obj]:
    """The objects of resolved sources, each with ``_source`` (its declaring file, "" if generated).
    An object that cannot be built is left out and named in its source's errors."""
    out: list[Obj] = []
    for s in sources:
        for o in s.objects:
            try:
                out.append({**o.data, "_source": o.base.file if o.base else ""})
            except (ValueError, OSError) as e:
                s.errors.append(str(e))  # the edit of that file is refused later, naming it
    return out
