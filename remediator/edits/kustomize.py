"""Kustomize, resolved the way ``kubectl kustomize`` does for the subset that carries field values:
resources, components, patches (strategic merge and JSON 6902, inline or in files),
``patchesStrategicMerge``, ``namespace``, ``namePrefix``/``nameSuffix``, ``images``, ``replicas``,
generators. For each rendered object we keep the base document and every patch that touches it
(:class:`remediator.edits.origin.Origin`); its data is built lazily by replaying the transformations.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any, Literal

from remediator.edits.origin import (
    YAML_EXT,
    Checkout,
    DocRef,
    Origin,
    Patch,
    as_map,
    copy_data,
    load_docs,
    ref_in,
    within,
)
from remediator.evidence.relations import dig
from remediator.evidence.store import CLUSTER_SCOPED
from remediator.model import ObjectRef
from remediator.yamlload import LoadError, load_all

KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def is_remote(entry: str) -> bool:
    """A remote Kustomize resource: a URL, ``github.com/…``, ``git::…``, ``git@…``, ``…?ref=…``."""
    return (
        "://" in entry
        or entry.startswith(("github.com/", "gitlab.com/", "bitbucket.org/", "git@", "git::", "ssh:"))
        or "?ref=" in entry
    )


def kustomization_file(folder: Path) -> Path | None:
    for k in KUSTOMIZATION:
        if (folder / k).is_file():
            return folder / k
    return None


def resolve(index: Checkout, folder: Path, namespace: str, errors: list[str], seen: set[Path]) -> list[Origin]:
    """The objects a kustomization folder renders to, each with its origin and transformations."""
    kfile = kustomization_file(folder)
    if kfile is None:
        raise ValueError(f"{index.rel(folder)}: no kustomization.yaml in a folder listed as a resource")
    if folder.resolve() in seen:
        raise ValueError(f"{index.rel(folder)}: kustomization cycle")
    seen = seen | {folder.resolve()}
    krel = index.rel(kfile)
    layer = index.rel(folder)
    k = load_docs(kfile, krel)
    kd: dict[str, Any] = k[0] if k and isinstance(k[0], dict) else {}
    objs: list[Origin] = []

    def local(entry: str, what: str) -> Path:
        if is_remote(entry):
            raise ValueError(f"{krel}: {what} {entry!r} is remote; only local paths are resolved")
        p = folder / entry
        if not within(index.repo, p):
            raise ValueError(f"{krel}: {what} {entry!r} points outside the repository")
        if not p.exists():
            raise ValueError(f"{krel}: {what} {entry!r} does not exist")
        return p

    for entry in [*_paths(kd, "resources", krel), *_paths(kd, "bases", krel)]:
        if is_remote(entry):
            try:
                docs = index.remote_docs(entry)
            except ValueError as e:
                raise ValueError(f"{krel}: resource {e}") from e
            for i, d in enumerate(docs):
                objs.append(Origin(ref_in(d, ""), DocRef(entry, i), partial(copy_data, d), remote=entry))
            continue
        p = local(entry, "resource")
        if p.is_dir():
            objs += resolve(index, p, "", errors, seen)
        else:
            objs += index.objects_in(p, index.rel(p), "")
    for gen_key, gkind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for g in _seq(kd, gen_key, krel):
            if isinstance(g, dict) and g.get("name"):
                hashed = not (
                    dig(g, "options", "disableNameSuffixHash") or dig(kd, "generatorOptions", "disableNameSuffixHash")
                )
                obj = {"apiVersion": "v1", "kind": gkind, "metadata": {"name": str(g["name"])}}
                objs.append(
                    Origin(ObjectRef(gkind, "", str(g["name"])), None, partial(copy_data, obj), generated=hashed)
                )
    for o in objs:
        o.layers.append(layer)
        o.names[layer] = o.ref.name
    own = _patches(index, folder, krel, kd, layer)
    patches: list[Patch] = []  # kustomize runs the components' patches first, then the kustomization's own
    for c in _paths(kd, "components", krel):
        cp = local(c, "component")
        cfile = kustomization_file(cp)
        if cfile is None:
            raise ValueError(f"{krel}: component {c!r} has no kustomization.yaml")
        cdocs = load_docs(cfile, index.rel(cfile))
        cd: dict[str, Any] = cdocs[0] if cdocs and isinstance(cdocs[0], dict) else {}
        for entry in _paths(cd, "resources", index.rel(cfile)):
            p = cp / entry
            if p.is_file():
                for o in index.objects_in(p, index.rel(p), ""):
                    o.layers.append(layer)
                    o.names[layer] = o.ref.name
                    objs.append(o)
        patches += _patches(index, cp, index.rel(cfile), cd, layer)
    patches += own
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


APP_LAYER = "(Application)"


def application_names(objs: list[Origin], options: dict[str, Any]) -> None:
    """The Application's own ``kustomize.namePrefix``/``nameSuffix`` (Argo CD applies them in a
    kustomization wrapping the source, after everything in Git): the rendered names carry them, so
    the cluster's names map back to the files."""
    prefix, suffix = str(options.get("namePrefix") or ""), str(options.get("nameSuffix") or "")
    for o in objs:
        o.names[APP_LAYER] = o.ref.name
        if (prefix or suffix) and o.ref.kind not in ("Namespace", "CustomResourceDefinition"):
            new_name = f"{prefix}{o.ref.name}{suffix}"
            o.ops.append(partial(_op_meta, "name", new_name))
            o.ref = ObjectRef(o.ref.kind, o.ref.namespace, new_name)
            o._data = None


def _patches(index: Checkout, folder: Path, krel: str, kd: dict[str, Any], layer: str) -> list[Patch]:
    out: list[Patch] = []
    entries: list[tuple[Any, str]] = [
        (p, key) for key in ("patches", "patchesStrategicMerge", "patchesJson6902") for p in _seq(kd, key, krel)
    ]
    for entry, key in entries:
        target: dict[str, Any] = {}
        path: str | None = None
        inline: Any = None
        if isinstance(entry, str):
            if key == "patchesStrategicMerge" and "\n" not in entry and entry.strip().endswith(YAML_EXT):
                path = entry.strip()
            else:
                inline = entry
        elif isinstance(entry, dict):
            target = dict(as_map(entry.get("target")))
            path = entry.get("path") if isinstance(entry.get("path"), str) else None
            inline = entry.get("patch")
        if path is not None:
            p = folder / str(path)
            if not within(index.repo, p) or not p.is_file():
                raise ValueError(f"{krel}: patch {path!r} does not exist")
            rel = index.rel(p)
            for i, doc in enumerate(load_docs(p, rel)):
                kind: Literal["smp", "json6902"] = "json6902" if isinstance(doc, list) else "smp"
                out.append(Patch(kind, layer, DocRef(rel, i), target, doc))
        elif isinstance(inline, str):
            try:
                docs = load_all(inline, f"{krel}: inline patch", as_json=False)
            except LoadError as e:
                raise ValueError(str(e)) from e
            for doc in docs:
                out.append(Patch("json6902" if isinstance(doc, list) else "smp", layer, None, target, doc))
    return out


def users(index: Checkout) -> dict[str, list[str]]:
    """folder -> the kustomization folders that list it (as a resource, base or component)."""
    out: dict[str, list[str]] = {}
    for kfile in index.kustomizations().values():
        try:
            docs = load_docs(kfile, index.rel(kfile))
        except (ValueError, OSError):
            continue
        folder = kfile.parent
        kd = docs[0] if docs and isinstance(docs[0], dict) else {}
        for key in ("resources", "bases", "components"):
            entries = kd.get(key)
            for entry in entries if isinstance(entries, list) else []:
                p = folder / str(entry)
                try:
                    if not (p.is_dir() and within(index.repo, p)):
                        continue
                except (ValueError, OSError):  # a NUL byte, a name too long
                    continue
                out.setdefault(index.rel(p), []).append(index.rel(folder))
    return out


def _seq(d: dict[str, Any], key: str, where: str) -> list[Any]:
    """A list field of a kustomization; another type is the file's error, naming the field."""
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        hint = f" (write {key}: [{value}])" if isinstance(value, str) and "\n" not in value else ""
        raise ValueError(f"{where}: {key} must be a list, not {_type_name(value)}{hint}")
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
        labels = as_map(dig(o.data, "metadata", "labels"))
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


# Strategic-merge keys of the lists where Kubernetes does not merge by ``name`` (its patchMergeKey).
_MERGE_KEYS = {"ports": ("containerPort", "port"), "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",)}


def _merge_key(field: str | None, patch: list[Any]) -> str | None:
    for key in (*_MERGE_KEYS.get(field or "", ()), "name"):
        if all(isinstance(x, dict) and key in x for x in patch):
            return key
    return None


def smp_merge(base: Any, patch: Any, field: str | None = None) -> Any:
    """Strategic merge, the subset that matters here: maps merge; lists of objects merge by their
    patchMergeKey (``name``; ``containerPort``/``port`` for ports, ``mountPath`` for volume mounts)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if k == "$patch":
                continue
            if v is None:  # a null in a strategic-merge patch deletes the field
                out.pop(k, None)
                continue
            out[k] = smp_merge(base.get(k), v, k) if k in base else copy_data(v)
        return out
    key = _merge_key(field, patch) if isinstance(base, list) and isinstance(patch, list) else None
    if key is not None:
        assert isinstance(base, list) and isinstance(patch, list)
        merged = [copy_data(x) for x in base]
        for item in patch:
            for i, b in enumerate(merged):
                if isinstance(b, dict) and b.get(key) == item[key]:
                    merged[i] = smp_merge(b, item)
                    break
            else:
                merged.append(copy_data(item))
        return merged
    return copy_data(patch)


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
                    node.append(copy_data(op.get("value")))
                elif op["op"] == "add":
                    node.insert(int(last), copy_data(op.get("value")))
                else:
                    node[int(last)] = copy_data(op.get("value"))
            else:
                node[last] = copy_data(op.get("value"))
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
