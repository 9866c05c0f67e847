"""Turn a typed change to an object into edits of the files that produce it.

Plain YAML: the document that declares the object. Kustomize: the last patch that sets the field;
else the base document when it lies in the app's source path and no other kustomization uses it;
else a new strategic-merge patch in the app's own kustomization. Helm: the values file entry that
holds the running value (found by value and key), or the ``toYaml .Values.X`` block the template
renders; anything else is reported for a person to edit.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from remediator.edits.index import SourceIndex
from remediator.edits.kustomize import _targets, kustomization_file, pointer
from remediator.edits.origin import AppSource, Origin, Patch
from remediator.edits.yamlfile import EditError, FieldPath, YamlFile, dump_block, path_str, plain, step
from remediator.errors import PermanentError
from remediator.model import ObjectRef
from remediator.policy import Policy
from remediator.yamlload import LoadError, load_one


class Refused(PermanentError):
    """An edit the rules refuse; ``rule`` names the rule."""

    def __init__(self, reason: str, rule: str) -> None:
        super().__init__(reason)
        self.rule = rule


def within(root: str, rel: str) -> bool:
    return not root or rel == root or rel.startswith(root.rstrip("/") + "/")


@dataclass
class Workspace:
    """Files of one checkout being edited in memory; nothing is written here."""

    repo: Path
    roots: list[str]
    policy: Policy
    files: dict[str, YamlFile] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)

    def guard(self, rel: str) -> Path:
        rel = posixpath.normpath(rel)
        if rel.startswith("../") or rel == ".." or rel.startswith("/"):
            raise Refused(f"{rel}: outside the repository", "source-path")
        if not any(within(r, rel) for r in self.roots):
            raise Refused(f"{rel}: outside the app's source path ({', '.join(self.roots) or '.'})", "source-path")
        if not self.policy.paths.admits(rel):
            raise Refused(f"{rel}: not allowed by the policy's paths", "paths")
        path = self.repo / rel
        try:
            path.resolve().relative_to(self.repo.resolve())
        except ValueError as e:
            raise Refused(f"{rel}: a symbolic link pointing outside the repository", "source-path") from e
        if path.is_symlink():
            raise Refused(f"{rel}: a symbolic link; not edited", "source-path")
        return path

    def open(self, rel: str) -> YamlFile:
        if rel in self.files:
            return self.files[rel]
        path = self.guard(rel)
        yf = YamlFile.parse(self.created.pop(rel), rel) if rel in self.created else YamlFile.read(path, rel)
        self.files[rel] = yf
        return yf

    def create(self, rel: str, text: str) -> None:
        path = self.guard(rel)
        if path.exists() or rel in self.files or rel in self.created:
            raise Refused(f"{rel}: already exists; not overwritten", "no-overwrite")
        self.created[rel] = text

    def results(self) -> list[tuple[str, str | None, str]]:
        """(file, old text or None for a new file, new text) for every file that changed."""
        out: list[tuple[str, str | None, str]] = []
        for rel, yf in sorted(self.files.items()):
            new = yf.render()
            if new != yf.original or not (self.repo / rel).exists():
                out.append((rel, yf.original if (self.repo / rel).exists() else None, new))
        out += [(rel, None, text) for rel, text in sorted(self.created.items())]
        return out


def _doc_of(yf: YamlFile, kind: str, name: str, hint: int | None) -> int:
    docs = yf.find(kind, name)
    if not docs:
        if hint is not None and hint < len(yf.docs):
            return hint
        raise EditError(f"{yf.path}: no {kind} {name} in the file")
    if len(docs) > 1:
        raise Refused(f"{yf.path}: {kind} {name} is defined {len(docs)} times; not guessing which", "ambiguous-source")
    return docs[0]


def _single(src: AppSource, ref: ObjectRef) -> Origin:
    found = src.find(ref)
    top = [o for o in found if not o.layers or o.layers != ["(nested)"]] if not src.recurse else found
    found = top or found
    if not found:
        raise Refused(f"{ref} is not declared in the app's source {src.root or '.'}", "not-in-source")
    if len(found) > 1:
        for o in found:  # a file that cannot be read is reported as such, not as a second definition
            try:
                o.loader()
            except (ValueError, OSError) as e:
                where = o.base.file if o.base else src.root or "."
                raise Refused(f"{where}: unreadable: {e}", "source-unreadable") from e
        files = ", ".join(sorted({o.base.file for o in found if o.base}))
        raise Refused(
            f"{ref} is defined more than once in the source ({files}); not guessing which", "ambiguous-source"
        )
    return found[0]


def get_path(data: Any, path: FieldPath) -> Any:
    node = data
    for part in path:
        node = step(node, part)
        if node is None:
            return None
    return node


def concrete(data: Any, path: FieldPath) -> list[str] | None:
    """The JSON-pointer segments of ``path`` in ``data`` (selectors resolved to indexes)."""
    out: list[str] = []
    node = data
    for part in path:
        if isinstance(part, dict):
            if not isinstance(node, list):
                return None
            for i, item in enumerate(node):
                if isinstance(item, dict) and all(str(item.get(k)) == v for k, v in part.items()):
                    out.append(str(i))
                    node = item
                    break
            else:
                return None
        elif isinstance(part, int):
            out.append(str(part))
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            out.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def set_field(
    ws: Workspace,
    index: SourceIndex,
    src: AppSource,
    ref: ObjectRef,
    path: FieldPath,
    value: Any,
    current: Any,
    role: str,
) -> str:
    """Edit the source so that ``ref`` renders with ``value`` at ``path``. Returns how it was done."""
    if src.errors and not src.objects:
        raise Refused(src.errors[0], "source-unreadable")
    if src.kind == "helm":
        return _helm(ws, index, src, ref, path, value, current, role)
    origin = _single(src, ref)
    if origin.base is None:
        raise Refused(f"{ref} is generated by a kustomize generator; edit its generator inputs manually", "generated")
    if role == "image" and src.kind == "kustomize":
        done = _app_images(ws, src, current, value)
        if done:
            return done
    if src.kind == "directory":
        yf = ws.open(origin.base.file)
        doc = _doc_of(yf, ref.kind, ref.name, origin.base.doc)
        yf.set(doc, path, value)
        return f"{origin.base.file}: {path_str(path)}"
    _app_patch_refusal(index, src, origin, path)
    return _kustomize(ws, index, src, origin, path, value, role)


def remove_field(ws: Workspace, index: SourceIndex, src: AppSource, ref: ObjectRef, path: FieldPath) -> str:
    """Edit the source so that ``ref`` renders without the field at ``path``: remove it where it is
    declared (plain file, the app's own base or patches), else a strategic-merge patch with null."""
    if src.errors and not src.objects:
        raise Refused(src.errors[0], "source-unreadable")
    if src.kind == "helm":
        raise Refused(
            f"{ref} {path_str(path)} is rendered by a Helm chart; remove it in the chart manually", "helm-unmapped"
        )
    origin = _single(src, ref)
    if origin.base is None:
        raise Refused(f"{ref} is generated by a kustomize generator; edit its generator inputs manually", "generated")
    if src.kind == "directory":
        yf = ws.open(origin.base.file)
        yf.remove(_doc_of(yf, ref.kind, ref.name, origin.base.doc), path)
        return f"{origin.base.file}: removed {path_str(path)}"
    _app_patch_refusal(index, src, origin, path)
    base_data = _base_data(index, origin)
    done: list[str] = []
    for p in origin.patches:
        if _patch_sets(p, base_data, path) is None:
            continue
        if p.kind != "smp" or p.loc is None or not within(src.root, p.loc.file) or _shared(index, p.layer, origin, src):
            raise Refused(
                f"{p.layer}: a patch the bot cannot edit sets {path_str(path)}; remove it manually", "inline-patch"
            )
        yf = ws.open(p.loc.file)
        yf.remove(p.loc.doc if p.loc.doc < len(yf.docs) else 0, path)
        done.append(f"{p.loc.file} (patch): removed {path_str(path)}")
    if get_path(base_data, path) is not None:
        if (
            not origin.remote
            and within(src.root, origin.base.file)
            and not any(_shared(index, layer, origin, src) for layer in origin.layers[:-1])
        ):
            yf = ws.open(origin.base.file)
            yf.remove(
                _doc_of(yf, origin.ref.kind, str(base_data.get("metadata", {}).get("name")), origin.base.doc), path
            )
            done.append(f"{origin.base.file}: removed {path_str(path)}")
        elif all(isinstance(p, str) or (isinstance(p, dict) and set(p) == {"name"}) for p in path):
            done.append(_add_patch(ws, index, src, origin, path, None) + " (null removes it)")
        else:
            raise Refused(
                f"{origin.ref}: {path_str(path)} comes from a shared base; remove it manually", "not-in-source"
            )
    return "; ".join(done) or f"{path_str(path)}: nothing declares it"


def _patch_sets(p: Patch, base: dict[str, Any], path: FieldPath) -> FieldPath | None:
    """Where in the patch document ``p`` the field at ``path`` is set, if it is."""
    if p.kind == "smp":
        if isinstance(p.data, dict) and get_path(p.data, path) is not None:
            return path
        return None
    ptr = concrete(base, path)
    if ptr is None:
        return None
    for i, op in enumerate(p.data or []):
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace"):
            continue
        opp = pointer(str(op.get("path") or ""))
        if opp == ptr:
            return (i, "value")
        if ptr[: len(opp)] == opp and isinstance(op.get("value"), (dict, list)):
            inner = ptr[len(opp) :]
            sub: list[Any] = []
            for seg, orig in zip(inner, path[len(path) - len(inner) :], strict=False):
                sub.append(orig if isinstance(orig, (dict, str)) else int(seg))
            if get_path(op["value"], tuple(sub)) is not None:
                return (i, "value", *sub)
    return None


def _kustomize(
    ws: Workspace, index: SourceIndex, src: AppSource, origin: Origin, path: FieldPath, value: Any, role: str
) -> str:
    assert origin.base is not None
    base_data = _base_data(index, origin)
    if role == "image":  # an ``images:`` entry of a kustomization overrides every patch and the base
        done = _kustomize_image(ws, index, src, origin, get_path(base_data, path), value)
        if done:
            return done
    # 1. the last patch that sets the field wins in the render, so that is the one to change
    for p in reversed(origin.patches):
        where = _patch_sets(p, base_data, path)
        if where is None:
            continue
        if p.loc is None:
            raise Refused(
                f"{p.layer}: the field is set by an inline patch in the kustomization; edit it manually", "inline-patch"
            )
        if within(src.root, p.loc.file) and not _shared(index, p.layer, origin, src):
            yf = ws.open(p.loc.file)
            yf.set(p.loc.doc if p.loc.doc < len(yf.docs) else 0, where, value)
            return f"{p.loc.file} (patch): {path_str(where)}"
        break  # the patch is shared or outside the app: override it from the app's own overlay
    # 2. the base document, if only this app renders it (a remote base is never edited)
    if (
        not origin.remote
        and within(src.root, origin.base.file)
        and not any(_shared(index, layer, origin, src) for layer in origin.layers[:-1])
    ):
        yf = ws.open(origin.base.file)
        doc = _doc_of(yf, origin.ref.kind, str(base_data.get("metadata", {}).get("name")), origin.base.doc)
        yf.set(doc, path, value)
        return f"{origin.base.file}: {path_str(path)}"
    # 3. a new strategic-merge patch in the app's own kustomization
    return _add_patch(ws, index, src, origin, path, value)


def _kustomize_image(
    ws: Workspace, index: SourceIndex, src: AppSource, origin: Origin, base_image: Any, value: Any
) -> str | None:
    """Set the tag in the outermost ``images:`` entry of the object's kustomizations that names the
    base document's image; None when no entry names it."""
    if not isinstance(base_image, str) or not isinstance(value, str):
        return None
    repo = base_image.split("@")[0]
    repo = repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo
    for layer in reversed(origin.layers):
        kfile = kustomization_file(index.repo / layer)
        if kfile is None:
            continue
        krel = index.rel(kfile)
        kdata = plain(ws.open(krel).docs[0].data) if within(src.root, krel) else None
        if kdata is None:
            kdocs = index.docs(kfile, krel)
            kdata = kdocs[0] if kdocs else None
        images = kdata.get("images") if isinstance(kdata, dict) else None
        for i, img in enumerate(images if isinstance(images, list) else []):
            if not isinstance(img, dict) or str(img.get("name") or "") != repo:
                continue
            new = value.split("@")[0]
            new_name, new_tag = new.rsplit(":", 1) if ":" in new.rsplit("/", 1)[-1] else (new, "")
            if img.get("digest") or not new_tag or "@" in value or new_name != str(img.get("newName") or repo):
                raise Refused(
                    f"{krel}: images entry {repo} sets the image; the change to {value} does not fit it, edit it manually",
                    "kustomize-images",
                )
            if not within(src.root, krel) or _shared(index, layer, origin, src):
                raise Refused(
                    f"{krel}: images entry {repo} is shared with other apps or outside the app; edit it manually",
                    "kustomize-images",
                )
            ws.open(krel).set(0, ("images", i, "newTag"), new_tag)
            return f"{krel} (images): {repo} newTag {new_tag}"
    return None


def _base_data(index: SourceIndex, origin: Origin) -> dict[str, Any]:
    assert origin.base is not None
    if origin.remote:  # as kubectl kustomize rendered the remote base
        return origin.loader()
    docs = index.docs(index.repo / origin.base.file, origin.base.file)  # read-only use: the cache is shared
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == origin.ref.kind:
            n = str((d.get("metadata") or {}).get("name"))
            if origin.names and n == next(iter(origin.names.values())):
                return d
    return docs[origin.base.doc] if origin.base.doc < len(docs) and isinstance(docs[origin.base.doc], dict) else {}


def _shared(index: SourceIndex, layer: str, origin: Origin, src: AppSource) -> bool:
    """Would another kustomization (outside this app's chain) change with an edit in ``layer``?"""
    users = index.kustomization_users().get(layer, [])
    return any(u not in origin.layers for u in users)


def _add_patch(ws: Workspace, index: SourceIndex, src: AppSource, origin: Origin, path: FieldPath, value: Any) -> str:
    root_layer = origin.layers[-1] if origin.layers else src.root
    kfile = kustomization_file(index.repo / root_layer)
    if kfile is None:
        raise Refused(f"{root_layer}: no kustomization to add a patch to", "not-in-source")
    krel = index.rel(kfile)
    name = origin.names.get(root_layer, origin.ref.name)
    by_name = all(not isinstance(p, dict) or set(p) == {"name"} for p in path) and not any(
        isinstance(p, int) for p in path
    )
    fname = f"{origin.ref.kind.lower()}-{name}-remediator-patch.yaml"
    rel = (PurePosixPath(root_layer) / fname).as_posix()
    if by_name and not (index.repo / rel).exists() and (rel in ws.created or rel in ws.files):
        ws.open(rel).set(0, path, value)  # the patch an earlier change of this fix created: one patch per object
        return f"{rel} (new patch): {path_str(path)}"
    if (index.repo / rel).exists() or rel in ws.files:
        raise Refused(
            f"{rel}: a remediator patch for {origin.ref} exists already; edit it or merge the open fix first",
            "no-overwrite",
        )
    entry: dict[str, Any] = {"path": fname}
    if by_name:
        # a strategic-merge patch: lists of named items (containers, env) merge by name
        body: dict[str, Any] = {
            "apiVersion": str(origin.data.get("apiVersion") or "v1"),
            "kind": origin.ref.kind,
            "metadata": {"name": name},
        }
        node: Any = body
        for i, part in enumerate(path):
            if isinstance(part, dict):
                item: dict[str, Any] = dict(part)
                node.append(item)
                node = item
            elif i == len(path) - 1:
                node[part] = value
            else:
                node[part] = [] if isinstance(path[i + 1], dict) else {}
                node = node[part]
        text = dump_block(body)
    else:
        # other lists (binding subjects, ports) are replaced whole by a strategic merge: use JSON 6902
        # the new patch applies to the object as the layers below render it (components' patches included)
        ptr = concrete(origin.data, path)
        if ptr is None:
            raise Refused(f"{origin.ref}: {path_str(path)} is not in the base document; edit manually", "not-in-source")
        op = "replace"
        if isinstance(path[-1], int) and get_path(origin.data, path) is None:
            op, ptr = "add", [*ptr[:-1], "-"]  # an index one past the end appends (see YamlFile.set)
        esc = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in ptr)
        text = dump_block([{"op": op, "path": esc, "value": value}])
        entry["target"] = {"kind": origin.ref.kind, "name": name}
    ws.create(rel, text)
    kf = ws.open(krel)
    kdata = plain(kf.docs[0].data) if kf.docs else {}
    if by_name and isinstance(kdata, dict) and "patchesStrategicMerge" in kdata and "patches" not in kdata:
        kf.append_item(0, ("patchesStrategicMerge",), fname)
    else:
        kf.append_item(0, ("patches",), entry)
    return f"{rel} (new patch, listed in {krel}): {path_str(path)}"


_VALUES_REF = re.compile(r"\.Values\.([A-Za-z0-9_.]+)")
_TOYAML = re.compile(r"toYaml\s+\.Values\.([A-Za-z0-9_.]+)")


def _helm(
    ws: Workspace,
    index: SourceIndex,
    src: AppSource,
    ref: ObjectRef,
    path: FieldPath,
    value: Any,
    current: Any,
    role: str,
) -> str:
    chart = src.remote or src.root or "."
    tdir = Path(src.chart_dir) / "templates" if src.remote else index.repo / src.root / "templates"
    blind = bool(src.remote) and not src.chart_dir  # a remote chart that could not be fetched
    templates = sorted(tdir.glob("*.y*ml")) if not blind else []
    tpl_text = {t.name: t.read_text(encoding="utf-8", errors="replace") for t in templates if t.is_file()}
    kind_tpl = next((n for n, t in tpl_text.items() if re.search(rf"kind:\s*{re.escape(ref.kind)}\b", t)), "?")
    tag = ""
    if role == "image" and current is not None and ":" in str(current).rsplit("/", 1)[-1]:
        tag = str(current).rsplit(":", 1)[1]
    for i, p in enumerate(src.helm_parameters):
        if current is not None and str(p.get("value")) in {str(current), tag or str(current)}:
            new = str(value).rsplit(":", 1)[1] if tag and str(p.get("value")) == tag else value
            return _app_override(ws, src, ("helm", "parameters", i, "value"), new, f"helm.parameters {p.get('name')}")
    used = {m.group(1) for t in tpl_text.values() for m in _VALUES_REF.finditer(t)}
    tail = [p for p in path if isinstance(p, str)][-2:]
    # the template line that writes the field, e.g. "storage: {{ .Values.persistence.size }}"
    last_key = tail[-1] if tail else ""
    direct = {
        m.group(1)
        for t in tpl_text.values()
        for line in t.splitlines()
        if re.match(rf"\s*-?\s*{re.escape(last_key)}:\s", line)
        for m in _VALUES_REF.finditer(line)
    }
    candidates: list[tuple[str, tuple[Any, ...]]] = []
    wanted = {str(current)} if current is not None else set()
    if tag:
        wanted.add(tag)
    h = (src.spec or {}).get("helm")
    h = h if isinstance(h, dict) else {}
    inline = h.get("valuesObject")
    if inline is None and isinstance(h.get("values"), str):
        try:
            inline = load_one(h["values"], "helm.values", as_json=False)
        except LoadError:
            inline = None
    hits = [(vp, leaf) for vp, leaf in _leaves(inline) if str(leaf) in wanted] if isinstance(inline, dict) else []
    if hits:
        if len(hits) == 1 and isinstance(h.get("valuesObject"), dict):
            vpath, leaf = hits[0]
            new = str(value).rsplit(":", 1)[1] if tag and str(leaf) == tag else value
            return _app_override(ws, src, ("helm", "valuesObject", *vpath), new, f"helm.valuesObject {_dotted(vpath)}")
        raise Refused(
            f"{ref} {path_str(path)} is overridden by the Application's helm.values/valuesObject, "
            "not by a file in Git; edit it there",
            "overridden-by-application",
        )
    for vf in reversed(src.values_files):
        yf = ws.open(vf)
        data = plain(yf.docs[0].data) if yf.docs else None
        for vpath, leaf in _leaves(data):
            if blind:  # no templates: only a values path that ends like the field (or an image tag) is certain
                if str(leaf) in wanted and (
                    (tail and tuple(vpath[-len(tail) :]) == tuple(tail))
                    or (role == "image" and vpath[-1:] in (("tag",), ("image",)))
                ):
                    candidates.append((vf, vpath))
            elif str(leaf) in wanted and (_dotted(vpath) in direct or _tail_ok(vpath, tail, role)):
                dotted = ".".join(p for p in vpath if isinstance(p, str))
                if any(dotted == u or dotted.startswith(u + ".") for u in used):
                    candidates.append((vf, vpath))
        if candidates:
            break
    if len(candidates) == 1:
        vf, vpath = candidates[0]
        yf = ws.open(vf)
        if tag and str(get_path(plain(yf.docs[0].data), vpath)) == tag:
            value = str(value).rsplit(":", 1)[1]
        yf.set(0, vpath, value)
        return f"{vf} (Helm values of chart {chart}): {_dotted(vpath)}"
    if len(candidates) > 1:
        where = ", ".join(f"{f}:{_dotted(p)}" for f, p in candidates[:3])
        raise Refused(f"several Helm values hold {current!r} ({where}); edit manually", "ambiguous-source")
    # a block the template renders with toYaml, e.g. resources: {{- toYaml .Values.resources | nindent 12 }}
    str_path = [p for p in path if isinstance(p, str)]
    for block in ("resources", "env", "livenessProbe", "readinessProbe"):
        if block in str_path and src.values_files:
            rest = tuple(str_path[str_path.index(block) + 1 :])
            for name, t in tpl_text.items():
                for m in _TOYAML.finditer(t):
                    vkey = m.group(1)
                    if vkey.split(".")[-1] == block and block != "env":
                        vf = src.values_files[-1]
                        yf = ws.open(vf)
                        yf.set(0, (*vkey.split("."), *rest), value)
                        return f"{vf} (Helm values of chart {chart}, rendered by templates/{name}): {vkey}.{'.'.join(rest)}"
    raise Refused(
        f"{ref} {path_str(path)} is rendered by chart {chart}, template templates/{kind_tpl}, from something the bot "
        "cannot map to a values file; edit manually",
        "helm-unmapped",
    )


def _app_override(ws: Workspace, src: AppSource, sub: tuple[Any, ...], value: Any, what: str) -> str:
    """Edit an override the Application itself sets (``helm.parameters``, ``kustomize.images``, ...)
    in the repository file that declares the Application; refuse when that file is not in it."""
    if src.app_file is None:
        raise Refused(
            f"the value is overridden by the Application's {what}, and no file of the repository declares "
            "the Application; edit it there",
            "overridden-by-application",
        )
    yf = ws.open(src.app_file.file)
    yf.set(src.app_file.doc, (*src.app_path, *sub), value)
    return f"{src.app_file.file} (the Application's {what}): {path_str((*src.app_path, *sub))}"


def _app_patch_refusal(index: SourceIndex, src: AppSource, origin: Origin, path: FieldPath) -> None:
    """The Application's own ``kustomize.patches`` apply after everything in Git: when one of them
    sets the field, an edit of the repository would be overridden. Such a patch is a YAML/JSON
    string inside the Application, which the bot does not rewrite: refuse, naming it."""
    k = (src.spec or {}).get("kustomize")
    patches = k.get("patches") if isinstance(k, dict) else None
    if not isinstance(patches, list):
        return
    base_data = _base_data(index, origin)
    for i, entry in enumerate(patches):
        if not isinstance(entry, dict) or not isinstance(entry.get("patch"), str):
            continue
        try:
            doc = load_one(entry["patch"], f"the Application's kustomize.patches[{i}]")
        except LoadError:
            continue
        target: dict[str, Any] = entry["target"] if isinstance(entry.get("target"), dict) else {}
        patch = Patch("json6902" if isinstance(doc, list) else "smp", "(Application)", None, target, doc)
        if not _targets(patch, origin) or _patch_sets(patch, base_data, path) is None:
            continue
        where = f" in {src.app_file.file}" if src.app_file is not None else ""
        raise Refused(
            f"{origin.ref} {path_str(path)} is set by the Application's kustomize.patches[{i}]{where}, which "
            "applies after every file in Git; change that patch (the bot does not rewrite patch strings)",
            "overridden-by-application",
        )


def _app_images(ws: Workspace, src: AppSource, base_image: Any, value: Any) -> str | None:
    """An image the Application's own ``kustomize.images`` overrides: edit that entry."""
    k = (src.spec or {}).get("kustomize")
    images = k.get("images") if isinstance(k, dict) else None
    if not isinstance(images, list) or not isinstance(base_image, str) or not isinstance(value, str):
        return None
    repo = base_image.split("@")[0]
    repo = repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo
    for i, entry in enumerate(images):
        text = str(entry)
        name = text.split("=", 1)[0] if "=" in text else text.split("@")[0]
        if "=" not in text and ":" in name.rsplit("/", 1)[-1]:
            name = name.rsplit(":", 1)[0]
        if name != repo:
            continue
        new = value if value.split("@")[0].rsplit(":", 1)[0] == name and "=" not in text else f"{name}={value}"
        return _app_override(ws, src, ("kustomize", "images", i), new, f"kustomize.images {name}")
    return None


def _leaves(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out: list[tuple[tuple[Any, ...], Any]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _leaves(v, (*prefix, str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _leaves(v, (*prefix, i))
    elif not isinstance(data, list) and data is not None:
        out.append((prefix, data))
    return out


def _dotted(vpath: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in vpath).lstrip(".")


def _tail_ok(vpath: tuple[Any, ...], tail: list[str], role: str) -> bool:
    if role in ("env-value", "image"):
        return True
    return tuple(vpath[-len(tail) :]) == tuple(tail) if tail else True
