"""``remediator fix``: from the root-cause finding to a checked, minimal edit of the app's manifests.

1. the top finding picks a remedy (or is reported: out-of-band causes, no remedy, policy says no);
2. the remedy says what the objects should look like (typed changes, :mod:`remediator.remedies`);
3. :mod:`remediator.edits.locate` finds the file and document that produce each value and edits
   them in memory (minimal diff, re-parsed after every edit);
4. the result is written to a scratch copy of the source, rendered (kubectl kustomize / helm / our
   own resolution), every edited object is validated against the Kubernetes schema, and each of
   the remedy's checks must hold on the rendered objects - otherwise the edit is refused.
Nothing in the checkout changes here; :func:`commit` writes the result to a new local branch.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from remediator.diagnose import Diagnosis
from remediator.edits.index import AppSource, SourceIndex
from remediator.edits.locate import Refused, Workspace, get_path, set_field, within
from remediator.edits.render import RenderError, render
from remediator.edits.yamlfile import EditError, YamlFile, dump_block
from remediator.errors import InputError
from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence, Obj
from remediator.model import Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import OUT_OF_BAND, REMEDIES
from remediator.remedies.base import Context, CreateObjects, Proposal, Refusal, SetField, container_of
from remediator.yamlload import load_all


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


def _image_history(repo: Path, desired: list[Obj]) -> Any:
    """Images a container had in earlier commits of its source file, newest first (GitPython)."""

    def history(ref: ObjectRef, container: str) -> list[str]:
        src = next(
            (
                str(o.get("_source"))
                for o in desired
                if o.get("kind") == ref.kind and dig(o, "metadata", "name") == ref.name
            ),
            None,
        )
        if src is None:
            return []
        try:
            r = git.Repo(repo)  # the checkout itself, never a repository that merely contains it
            rel = (repo / src).resolve().relative_to(Path(r.working_dir).resolve()).as_posix()
            out: list[str] = []
            for c in list(r.iter_commits(paths=rel, max_count=50))[1:]:
                try:
                    text = (c.tree / rel).data_stream.read().decode("utf-8", "replace")
                    for d in load_all(text, rel, as_json=False):
                        if isinstance(d, dict) and d.get("kind") == ref.kind and dig(d, "metadata", "name") == ref.name:
                            img = container_of(d, container).get("image")
                            if img and img not in out:
                                out.append(str(img))
                except (KeyError, ValueError, InputError):
                    continue
            return out
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError, git.GitCommandError):
            return []

    return history


def _desired(sources: list[AppSource]) -> list[Obj]:
    out: list[Obj] = []
    for s in sources:
        for o in s.objects:
            try:
                out.append({**o.data, "_source": o.base.file if o.base else ""})
            except (ValueError, OSError) as e:
                s.errors.append(str(e))  # the edit of that file is refused later, naming it
    return out


def plan_fix(d: Diagnosis, ev: Evidence, repo: Path, policy: Policy) -> FixResult:
    """Plan the fix for the top finding. Never writes to ``repo``."""
    res = FixResult(d, d.top)
    f = d.top
    if f is None:
        return res
    cat = f.category.value
    app_name = d.app or ""
    if app_name and not policy.apps.admits(app_name):
        res.refused.append(Refusal(cat, f"app {app_name} is not allowed by the policy", "apps"))
        return res
    if f.details.get("excluded_by_argocd"):
        res.refused.append(
            Refusal(
                cat,
                f"no Git fix: Git already declares {f.culprit}; an Argo CD admin must remove "
                f"{f.details.get('group') or 'core'}/{f.culprit.kind} from resource.exclusions in argocd-cm "
                "(or apply it outside Argo CD)",
                "out-of-band",
            )
        )
        return res
    if cat in OUT_OF_BAND:
        res.refused.append(Refusal(cat, f"no Git fix: {OUT_OF_BAND[cat]}", "out-of-band"))
        return res
    remedy = REMEDIES.get(cat)
    if remedy is None:
        res.refused.append(
            Refusal(cat, f"no remedy edits manifests for {cat}; see the report's next steps", "no-remedy")
        )
        return res
    if f.culprit.namespace and not policy.namespaces.admits(f.culprit.namespace):
        res.refused.append(Refusal(cat, f"namespace {f.culprit.namespace} is not allowed by the policy", "namespaces"))
        return res
    if not repo.is_dir():
        raise InputError(f"{repo}: the repository checkout is not a folder")
    index = SourceIndex(repo)
    sources = index.app_sources(ev.app, f.culprit.namespace)
    desired = _desired(sources)
    ctx = Context(ev, policy, desired, _image_history(repo, desired))
    if not policy.enabled(remedy.name) and remedy.name != "rbac-subject-namespace":
        res.refused.append(Refusal(cat, f"the {remedy.name} remedy is disabled", f"remedies.{remedy.name}"))
        return res
    try:
        out = remedy.plan(f, ctx)
    except Exception as e:  # a remedy bug must not take the run down: report it, edit nothing
        out = Refusal(cat, f"remedy {remedy.name} failed: {type(e).__name__}: {str(e)[:200]}", "internal-error")
    if isinstance(out, Refusal):
        res.refused.append(out)
        return res
    res.proposal = out
    ws = Workspace(repo, [s.root for s in sources], policy)
    try:
        for ch in out.changes:
            if isinstance(ch, SetField):
                src = _source_for(sources, ch.target)
                res.notes.append(set_field(ws, index, src, ch.target, ch.path, ch.value, ch.current, ch.role))
            elif isinstance(ch, CreateObjects):
                res.notes.append(_create(ws, index, sources, ch))
        changed = ws.results()
        if changed:
            res.notes += _verify(repo, sources, changed, out, policy, cluster_version(ev))
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
        kfile = index.kustomization_file(index.repo / src.root)
        assert kfile is not None
        kf = ws.open(index.rel(kfile))
        kf.append_item(0, ("resources",), ch.filename)
        return f"{rel} (new file, listed in {index.rel(kfile)} resources)"
    return f"{rel} (new file)"


def _verify(
    repo: Path,
    sources: list[AppSource],
    changed: list[tuple[str, str | None, str]],
    p: Proposal,
    policy: Policy,
    cluster: str | None = None,
) -> list[str]:
    """Write the result to a scratch copy, render, validate the edited objects and run the checks."""
    import kubernetes_validate

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="remediator-check-") as tmp:
        scratch = Path(tmp) / "repo"
        shutil.copytree(repo, scratch, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        for rel, _old, new in changed:
            (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
            (scratch / rel).write_text(new, encoding="utf-8", newline="")
        rendered: list[dict[str, Any]] = []
        unrendered = False
        for s in sources:
            try:
                objs, how = render(scratch, s.kind, s.root, s.namespace, s.spec, s.release)
            except RenderError as e:
                if s.kind != "helm":
                    raise
                unrendered = True
                notes.append(f"not rendered ({e}); the values file edit was checked by parsing it")
                continue
            rendered += objs
            notes.append(f"rendered {s.root or '.'} with {how}: {len(objs)} objects")
        targets = {_ref(c.target) for c in p.changes if isinstance(c, SetField)}
        for c in p.changes:
            if isinstance(c, CreateObjects):
                targets |= {(str(o["kind"]), str(dig(o, "metadata", "name"))) for o in c.objects}
        version = schema_version(cluster or policy.kubernetes_version)
        checked = 0
        for obj in rendered:
            key = (str(obj.get("kind")), str(dig(obj, "metadata", "name")))
            if key not in targets:
                continue
            try:
                kubernetes_validate.validate(obj, version, strict=False)
                checked += 1
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
                continue
            except kubernetes_validate.ValidationError as e:
                raise Refused(
                    f"{key[0]} {key[1]} would not pass Kubernetes {version} schema validation: {str(e).splitlines()[0]}",
                    "schema",
                ) from e
        notes.append(
            f"schema-validated {checked} edited object(s) against Kubernetes {version}"
            + (" (the cluster's version)" if cluster else " (policy kubernetes_version)")
        )
        for chk in [] if unrendered else p.checks:
            hit: dict[str, Any] | None = next(
                (o for o in rendered if str(o.get("kind")) == chk.target.kind and _name_matches(o, chk.target)), None
            )
            got = get_path(hit, chk.path) if hit is not None else None
            if hit is None or str(got) != str(chk.value):
                raise Refused(
                    f"after the edit, the rendered {chk.target} has {got!r} at {'.'.join(map(str, chk.path))}, not "
                    f"{chk.value!r}: something else in the source overrides it; edit manually",
                    "render-check",
                )
        if p.checks and not unrendered:
            notes.append(f"the rendered source no longer has the cause ({len(p.checks)} check(s) hold)")
    for rel, _old, new in changed:
        if rel.endswith((".yaml", ".yml")) and "{{" not in new:
            YamlFile.parse(new, rel)  # parses again, or raises
    return notes


def cluster_version(ev: Evidence) -> str | None:
    """The cluster's Kubernetes version (major.minor.0) from the nodes' kubelet versions, the oldest one."""
    found: list[tuple[int, int]] = []
    for n in ev.all("Node"):
        m = re.match(r"v?(\d+)\.(\d+)", str(dig(n, "status", "nodeInfo", "kubeletVersion") or ""))
        if m:
            found.append((int(m.group(1)), int(m.group(2))))
    return f"{min(found)[0]}.{min(found)[1]}.0" if found else None


def schema_version(wanted: str) -> str:
    """The schema version kubernetes-validate has that is closest to ``wanted`` (never newer when avoidable)."""
    import kubernetes_validate.utils as kvu

    have: list[str] = sorted({str(v) for v in kvu.all_versions()}, key=lambda v: tuple(int(x) for x in v.split(".")))
    key = tuple(int(x) for x in [*wanted.split("."), "0", "0"][:3] if x.isdigit())
    older = [v for v in have if tuple(int(x) for x in v.split(".")) <= key]
    return older[-1] if older else have[0]


def _ref(ref: ObjectRef) -> tuple[str, str]:
    return ref.kind, ref.name


def _name_matches(obj: dict[str, Any], ref: ObjectRef) -> bool:
    return str(dig(obj, "metadata", "name")) == ref.name


def apply_edits(root: Path, edits: list[FileEdit]) -> None:
    """Write edits into a folder (a scratch copy or a worktree): each file atomically."""
    for e in edits:
        path = root / e.file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.remediator-tmp")
        tmp.write_text(e.new_text, encoding="utf-8", newline="")
        tmp.replace(path)


def branch_name(res: FixResult) -> str:
    f = res.finding
    assert f is not None
    app = (res.diagnosis.app or "app").replace("/", "-")
    return f"remediator/{app}/{f.category.value}-{res.fingerprint}"


def commit(repo: Path, res: FixResult, author: str = "remediator <remediator@users.noreply.github.com>") -> str:
    """Commit the edits on a new local branch (from HEAD) through a temporary worktree, so the
    user's checkout and index are untouched. Returns the branch name."""
    try:
        r = git.Repo(repo, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
        raise InputError(f"{repo}: not a git repository; use --dry-run") from e
    top = Path(r.working_dir).resolve()
    prefix = repo.resolve().relative_to(top)
    branch = branch_name(res)
    if branch in [h.name for h in r.heads]:
        return branch  # the same fix (same fingerprint) was committed before
    with tempfile.TemporaryDirectory(prefix="remediator-wt-") as tmp:
        wt = Path(tmp) / "wt"
        r.git.worktree("add", "-q", "-b", branch, str(wt), "HEAD")
        try:
            apply_edits(wt / prefix, res.edits)
            w = git.Repo(wt)
            w.git.add("-A", "--", *[str(prefix / e.file) for e in res.edits])
            f = res.finding
            assert f is not None and res.proposal is not None
            name, _, mail = author.partition(" <")
            actor = git.Actor(name, mail.rstrip(">"))
            msg = f"fix({f.category.value}): {f.culprit.kind} {f.culprit.name}: {res.proposal.remedy}\n\n{res.proposal.reason}\n"
            w.index.commit(msg, author=actor, committer=actor)
        except Exception:
            r.git.worktree("remove", "--force", str(wt))
            r.git.branch("-D", branch)
            raise
        r.git.worktree("remove", "--force", str(wt))
    return branch


__all__ = ["FileEdit", "FixResult", "apply_edits", "commit", "plan_fix", "within"]
