"""What the checks read: every object the repository declares (rendered through Kustomize where a
folder is a kustomization), where it is written (file, document, line of any field), and indexes
(Services, ServiceAccounts, ConfigMaps/Secrets and their other sources)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remediator.edits.index import SourceIndex
from remediator.edits.origin import Origin
from remediator.edits.yamlfile import EditError, FieldPath, YamlFile, step
from remediator.errors import InputError
from remediator.evidence.relations import dig
from remediator.evidence.shape import Problems, conform
from remediator.model import ObjectRef
from remediator.policy import Policy


@dataclass
class Declared:
    """One object and where it is written; its data is built on first use (large repositories are
    indexed by kind and name only, and only the objects a check reads are built)."""

    origin: Origin
    ref: ObjectRef
    file: str
    doc: int
    rendered: bool = False  # namespace/name come from a Kustomize render
    problems: Problems | None = field(default=None, repr=False, compare=False)
    _conformed: bool = field(default=False, repr=False, compare=False)

    @property
    def obj(self) -> dict[str, Any]:
        """The object as rendered, its fields of the wrong type removed (and listed in the errors),
        so the checks read the types the API defines."""
        try:
            data = self.origin.data
        except (ValueError, OSError):
            return {}
        if not self._conformed:
            self._conformed = True
            conform(data, f"{self.file}: {self.ref.kind} {self.ref.name}", self.problems or Problems([]))
        return data


@dataclass
class ReviewContext:
    repo: Path
    policy: Policy
    objects: list[Declared] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    focus: set[str] | None = None  # files the PR changes (None: every file)
    generated: set[str] = field(default_factory=set)  # ConfigMap/Secret names made by kustomize generators
    _yaml: dict[str, YamlFile | None] = field(default_factory=dict)

    # --- where ---------------------------------------------------------------------

    def in_focus(self, d: Declared) -> bool:
        return self.focus is None or d.file in self.focus

    def line(self, d: Declared, path: FieldPath = ()) -> int:
        """1-based line of ``path`` in the document that declares ``d`` (the document's first line
        when the path cannot be located)."""
        if d.file not in self._yaml:
            try:
                self._yaml[d.file] = YamlFile.read(self.repo / d.file, d.file)
            except EditError:
                self._yaml[d.file] = None
        yf = self._yaml[d.file]
        if yf is None:
            return 1
        docs = yf.find(d.ref.kind, str(dig(d.obj, "metadata", "name")))
        if not docs:
            docs = yf.find(d.ref.kind, d.ref.name)
        idx = docs[0] if docs else min(d.doc, len(yf.docs) - 1)
        start = sum(len(x.lines) for x in yf.docs[:idx])
        node: Any = yf.docs[idx].data
        best = 0
        for part in path:
            parent, node = node, step(node, part)
            if node is None:
                break
            try:
                if isinstance(part, str) and hasattr(parent, "lc"):
                    best = parent.lc.key(part)[0]
                elif hasattr(parent, "lc") and isinstance(part, int):
                    best = parent.lc.item(part)[0]
                elif hasattr(parent, "lc") and isinstance(part, dict):
                    sel: dict[str, str] = part
                    j = next(
                        k
                        for k, it in enumerate(parent)
                        if isinstance(it, dict) and all(str(it.get(a)) == b for a, b in sel.items())
                    )
                    best = parent.lc.item(j)[0]
            except (KeyError, IndexError, StopIteration, TypeError, AttributeError):
                break
        if best == 0:
            # the first content line of the document
            lines = yf.docs[idx].lines
            best = next((n for n, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith(("#", "---"))), 0)
        return start + best + 1

    # --- indexes ---------------------------------------------------------------------

    def of_kind(self, *kinds: str) -> list[Declared]:
        return [d for d in self.objects if d.ref.kind in kinds]

    def names(self, kind: str) -> set[tuple[str, str]]:
        return {(d.ref.namespace, d.ref.name) for d in self.objects if d.ref.kind == kind}

    def external(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, p) for p in self.policy.review.external_refs)


def load_context(repo: Path, policy: Policy, focus: set[str] | None = None) -> ReviewContext:
    """Every object in the repository. Files under a kustomization root are taken from its render
    (our resolution: namespaces, prefixes and patches applied); the rest file by file."""
    ctx = ReviewContext(repo, policy, focus=focus)
    problems = Problems(ctx.errors)
    index = SourceIndex(repo)
    roots = index.kustomize_roots()
    files = index.manifest_files()
    if not roots and not files:
        raise InputError(f"{repo}: no manifests (*.yaml, *.yml) in this folder; nothing to review")
    covered: set[str] = set()
    for root in roots:
        src = index.source(root)
        ctx.errors += src.errors
        for o in src.objects:
            if o.base is None:
                ctx.generated.add(o.ref.name)
                continue
            covered.add(o.base.file)
            ctx.objects.append(Declared(o, o.ref, o.base.file, o.base.doc, rendered=True, problems=problems))
    for rel in files:
        if rel in covered or "/templates/" in f"/{rel}" or rel.rsplit("/", 1)[-1].startswith("values"):
            continue
        try:
            found = index.objects_in(repo / rel, rel, "")
        except (ValueError, OSError) as e:
            if "Helm template" not in str(e):
                ctx.errors.append(str(e))
            continue
        for o in found:
            if o.base is not None and o.ref.kind not in ("Kustomization", "Component"):
                ctx.objects.append(Declared(o, o.ref, rel, o.base.doc, problems=problems))
    return ctx
