"""Where an Argo CD Application's manifests come from: its Git and chart sources, read once.

An Application has ``spec.source`` or (multi-source) ``spec.sources``. Every reader of the
Application's origin - the repository to clone and the revision to check out, the folders to
resolve, Helm and Kustomize options - goes through :func:`app_source`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from remediator.evidence.relations import dig
from remediator.evidence.store import Obj


def _map(value: Any) -> dict[str, Any]:
    """A mapping field of the Application: anything else counts as absent."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


@dataclass(frozen=True)
class SourceSpec:
    """One source of an Application as it is written."""

    repo_url: str = ""
    target_revision: str = ""
    path: str = ""  # repo-relative, without leading/trailing "/" ("" = the repository root)
    chart: str = ""
    ref: str = ""
    helm: dict[str, Any] = field(default_factory=dict)
    kustomize: dict[str, Any] = field(default_factory=dict)
    directory: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the entry itself (renderers read its options)

    @property
    def has_path(self) -> bool:
        return bool(self.raw.get("path"))

    @property
    def in_git(self) -> bool:
        """A folder of a Git repository (not a chart from a Helm repository, not a bare ``ref``)."""
        return not (self.chart and not self.has_path) and not self.ref_only

    @property
    def ref_only(self) -> bool:
        """A ``ref:`` source without a path: a Git repository other sources read ``$ref/...`` files from."""
        return bool(self.ref) and not self.has_path and not self.chart

    @property
    def remote_chart(self) -> bool:
        """A chart from a Helm repository or an OCI registry (not a folder of Git)."""
        return bool(self.chart) and not self.has_path

    @classmethod
    def parse(cls, entry: dict[str, Any]) -> SourceSpec:
        return cls(
            repo_url=_text(entry.get("repoURL")),
            target_revision=_text(entry.get("targetRevision")),
            path=_text(entry.get("path")).strip("/"),
            chart=_text(entry.get("chart")),
            ref=_text(entry.get("ref")),
            helm=_map(entry.get("helm")),
            kustomize=_map(entry.get("kustomize")),
            directory=_map(entry.get("directory")),
            raw=entry,
        )


@dataclass(frozen=True)
class AppSourceSpec:
    """Every source of an Application (``spec.source``, else the ``spec.sources`` list)."""

    name: str = ""  # the Application's name (Argo CD's default Helm release name)
    namespace: str = ""  # spec.destination.namespace
    sources: tuple[SourceSpec, ...] = ()
    multi: bool = False  # written as spec.sources

    @property
    def primary(self) -> SourceSpec | None:
        """The source whose repository the bot edits: the first with a path, else the first Git
        ``ref`` source (the ``$values`` repository of a chart from a Helm repository), else the first."""
        return next(
            (s for s in self.sources if s.has_path),
            next((s for s in self.sources if s.ref_only), self.sources[0] if self.sources else None),
        )

    def ref_source(self, name: str) -> SourceSpec | None:
        """The source a ``$name/...`` value file refers to."""
        return next((s for s in self.sources if s.ref == name), None)

    def cloned(self, source: SourceSpec) -> bool:
        """Whether ``source`` is in the repository the bot clones (the primary source's)."""
        return same_repo(source.repo_url, self.repo_url)

    @property
    def git(self) -> list[SourceSpec]:
        """The sources that are folders of a Git repository, in order."""
        return [s for s in self.sources if s.in_git]

    @property
    def repo_url(self) -> str:
        return self.primary.repo_url if self.primary else ""

    @property
    def target_revision(self) -> str:
        return self.primary.target_revision if self.primary else ""


def normalise_repo_url(url: str) -> str:
    """A Git URL in one form (scheme, user, ``.git`` suffix, case and ``git@host:`` style ignored)."""
    u = url.strip().lower().rstrip("/").removesuffix(".git")
    u = re.sub(r"^[a-z+]+://", "", u)
    u = re.sub(r"^[^@/]+@", "", u)
    return u.replace(":", "/", 1) if ":" in u.split("/", 1)[0] and not re.match(r"^[^/]+:\d+/", u) else u


def same_repo(a: str, b: str) -> bool:
    return bool(a) and bool(b) and normalise_repo_url(a) == normalise_repo_url(b)


def app_source(application: Obj | None) -> AppSourceSpec:
    """The sources of an Application object (an empty spec for None)."""
    if application is None:
        return AppSourceSpec()
    one, many = dig(application, "spec", "source"), dig(application, "spec", "sources")
    single = isinstance(one, dict) and bool(one)
    entries = [one] if single else many if isinstance(many, list) and not one else []
    return AppSourceSpec(
        name=_text(dig(application, "metadata", "name")),
        namespace=_text(dig(application, "spec", "destination", "namespace")),
        sources=tuple(SourceSpec.parse(e) for e in entries if isinstance(e, dict)),
        multi=not single and bool(entries),
    )
