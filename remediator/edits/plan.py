"""From the root-cause finding to a checked, minimal edit of the app's manifests (``remediator fix``).

1. the gate picks the finding's remedy or says why none may act (:mod:`remediator.remedies.gate`);
2. the remedy says what the objects should look like (typed changes, :mod:`remediator.remedies`),
   reading what Git declares for the app (:meth:`remediator.edits.index.SourceIndex.desired`);
3. here each typed change becomes a located file edit: :mod:`remediator.edits.locate` finds the
   file and document that produce each value and edits them in memory (minimal diff, re-parsed
   after every edit);
4. :mod:`remediator.edits.verify` renders the result in a scratch copy and refuses it unless it
   validates and the remedy's checks hold.
Nothing in the checkout changes here; :mod:`remediator.publish` writes the result.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from remediator.diagnose import Diagnosis
from remediator.edits.index import SourceIndex, declared
from remediator.edits.kustomize import kustomization_file
from remediator.edits.locate import Refused, Workspace, remove_field, set_field
from remediator.edits.origin import AppSource
from remediator.edits.render import RenderError, fetch_chart, remote_base
from remediator.edits.verify import cluster_version, verify
from remediator.edits.yamlfile import EditError, dump_block
from remediator.errors import InputError
from remediator.evidence.appsource import SourceSpec
from remediator.evidence.relations import dig
from remediator.evidence.sources.githistory import History, object_history
from remediator.evidence.store import Evidence
from remediator.model import Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import OUT_OF_BAND
from remediator.remedies.base import Context, CreateObjects, Proposal, Refusal, RemoveField, SetField, container_of
from remediator.remedies.gate import disabled, gate, out_of_band


@dataclass
class FileEdit:
    file: str
    action: str  # "modify" | "create"
    diff: str
    remedy: str
    reason: str
    new_text: str
    old_text: str | None


@dataclass
class FixResult:
    diagnosis: Diagnosis
    finding: Finding | None
    proposal: Proposal | None = None
    edits: list[FileEdit] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # where each value was changed, renderer used, validation

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for e in self.edits:
            h.update(e.file.encode() + b"\0" + e.new_text.encode() + b"\0")
        if self.finding is not None:
            h.update(f"{self.diagnosis.app}|{self.finding.category}|{self.finding.culprit}".encode())
        return h.hexdigest()[:10]


def unified_diff(rel: str, old: str | None, new: str) -> str:
    a = (old or "").splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, fromfile="/dev/null" if old is None else f"a/{rel}", tofile=f"b/{rel}")
    return "".join(x if x.endswith("\n") else x + "\n\\ No newline at end of file\n" for x in lines)


def image_history(history: History) -> Callable[[ObjectRef, str], list[str]]:
    """The images a container had in earlier versions of its object, newest first (for the remedies' Context)."""

    def images(ref: ObjectRef, container: str) -> list[str]:
        out: list[str] = []
        for d in history(ref):
            img = container_of(d, container).get("image")
            if img and img not in out:
                out.append(str(img))
        return out

    return images


def remedy_context(
    ev: Evidence, repo: Path, policy: Policy, namespace: str = ""
) -> tuple[SourceIndex, list[AppSource], Context]:
    """What a remedy reads for the app in ``repo``: the app's resolved sources, and its Context with
    what Git declares (the same objects the detectors see as ``Evidence.desired``)."""
    if not repo.is_dir():
        raise InputError(f"{repo}: the repository checkout is not a folder")
    index = SourceIndex(repo, charts=_fetch, remote=remote_base)
    sources = index.app_sources(ev.app, namespace)
    desired = declared(sources)
    return index, sources, Context(ev, policy, desired, image_history(object_history(repo, desired)))


def plan_fix(d: Diagnosis, ev: Evidence, repo: Path, policy: Policy) -> FixResult:
    """Plan the fix for the top finding. Never writes to ``repo``."""
    res = FixResult(d, d.top)
    f = d.top
    if f is None:
        return res
    cat = f.category.value
    remedies = gate(f, d.app or "", policy)
    if isinstance(remedies, Refusal):
        res.refused.append(remedies)
        return res
    index, sources, ctx = remedy_context(ev, repo, policy, f.culprit.namespace)
    out: Proposal | Refusal | None = None
    passed: list[Refusal] = []  # the more specific remedies that did not apply, tried first
    for remedy in remedies:  # the first remedy that proposes an edit wins
        try:
            out = remedy.plan(f, ctx)
        except Exception as e:  # a remedy bug must not take the run down: report it, edit nothing
            out = Refusal(cat, f"remedy {remedy.name} failed: {type(e).__name__}: {str(e)[:200]}", "internal-error")
        if not isinstance(out, Refusal):
            break
        passed.append(out)
    if out is None or isinstance(out, Refusal):
        # The reason that decides: a remedy the policy switched off, else the last (most general) remedy's.
        main = [*disabled(f, policy), *passed[-1:]][:1]
        res.refused += main
        res.notes += [f"{r.rule}: does not apply: {r.reason}" for r in passed if r not in main]
        if cat in OUT_OF_BAND:
            res.refused.append(out_of_band(cat))
        return res
    res.notes += [f"{r.rule}: does not apply: {r.reason}" for r in passed]
    res.proposal = out
    ws = Workspace(repo, [r for s in sources for r in s.scope], policy)
    try:
        for ch in out.changes:
            if isinstance(ch, SetField):
                src = _source_for(sources, ch.target)
                res.notes.append(set_field(ws, index, src, ch.target, ch.path, ch.value, ch.current, ch.role))
            elif isinstance(ch, RemoveField):
                res.notes.append(remove_field(ws, index, _source_for(sources, ch.target), ch.target, ch.path))
            elif isinstance(ch, CreateObjects):
                res.notes.append(_create(ws, index, sources, ch))
        changed = ws.results()
        if changed:
            res.notes += verify(repo, sources, changed, out, policy, cluster_version(ev))
    except Refused as e:
        res.refused.append(Refusal(cat, str(e), e.rule))
        return res
    except (EditError, RenderError, ValueError, OSError) as e:
        res.refused.append(Refusal(cat, str(e), "edit-check"))
        return res
    except Exception as e:  # never a traceback, never a half-made edit: nothing was written
        res.refused.append(
            Refusal(cat, f"internal error while editing: {type(e).__name__}: {str(e)[:200]}", "internal-error")
        )
        return res
    for rel, old, new in changed:
        res.edits.append(
            FileEdit(
                rel,
                "create" if old is None else "modify",
                unified_diff(rel, old, new),
                out.remedy,
                out.reason,
                new,
                old,
            )
        )
    return res


def _fetch(s: SourceSpec) -> Path:
    """A chart from a Helm repository, fetched into the cache (remediator.edits.render)."""
    return fetch_chart(s.repo_url, s.chart, s.target_revision)


def _source_for(sources: list[AppSource], ref: ObjectRef) -> AppSource:
    for s in sources:
        if s.kind == "helm" or s.find(ref):
            return s
    return sources[0]


def _create(ws: Workspace, index: SourceIndex, sources: list[AppSource], ch: CreateObjects) -> str:
    src = sources[0]
    folder = src.root
    if ch.near is not None:
        for s in sources:
            for o in s.find(ch.near):
                if o.base is not None and s.kind == "directory":
                    folder = str(Path(o.base.file).parent.as_posix())
                    src = s
    if src.kind == "helm":
        raise Refused(
            f"the app's source {src.root} is a Helm chart; new objects go into its templates; add them manually",
            "helm-unmapped",
        )
    for obj in ch.objects:
        ref = ObjectRef(
            str(obj["kind"]), str(dig(obj, "metadata", "namespace") or ""), str(dig(obj, "metadata", "name"))
        )
        if any(s.find(ref) for s in sources):
            raise Refused(f"{ref} already exists in the app's source; not created twice", "no-overwrite")
    rel = f"{folder}/{ch.filename}" if folder and folder != "." else ch.filename
    ws.create(rel, "---\n".join(dump_block(o) for o in ch.objects))
    if src.kind == "kustomize":
        kfile = kustomization_file(index.repo / src.root)
        assert kfile is not None
        kf = ws.open(index.rel(kfile))
        kf.append_item(0, ("resources",), ch.filename)
        return f"{rel} (new file, listed in {index.rel(kfile)} resources)"
    return f"{rel} (new file)"


def apply_edits(root: Path, edits: list[FileEdit]) -> None:
    """Write edits into a folder (a scratch copy or a worktree): each file atomically."""
    for e in edits:
        path = root / e.file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.remediator-tmp")
        tmp.write_text(e.new_text, encoding="utf-8", newline="")
        tmp.replace(path)


__all__ = ["FileEdit", "FixResult", "apply_edits", "plan_fix", "remedy_context"]
