"""Typed evidence: the fields of every object checked against the Kubernetes OpenAPI schema.

Everything in the evidence comes from someone else (a snapshot folder, a cluster, a repository),
so a field may hold any type: ``replicas: "x"``, ``containers: "oops"``, ``metadata: []``, an
Event ``count: 1e99``. The detectors, remedies and reports read fields as the API defines them.
Instead of a guard at each of their hundreds of reads, an object is checked once, when it enters
the evidence store: each field of a known kind (the built-in API types, from the JSON schema
kubernetes-validate ships; Argo CD's Application from a small schema below) must have its API
type. A field of the wrong type is removed - the object then reads as if the field were absent -
and reported once in the evidence errors, naming the file, the object and the field. Numbers and
booleans where the API wants a string (a label value ``1``) are turned into that string, as
kubectl would print them.

Unknown kinds (CRDs) get their ``metadata`` checked and the rest as written.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

MAX_REPORTED = 50  # problems reported per store; more are counted

# node kinds
ANY, OBJECT, MAP, ARRAY, STRING, INTEGER, NUMBER, BOOLEAN, INT_OR_STRING, QUANTITY = range(10)
_TYPE_NAMES = {
    OBJECT: "a mapping",
    MAP: "a mapping",
    ARRAY: "a list",
    STRING: "a string",
    INTEGER: "an integer",
    NUMBER: "a number",
    BOOLEAN: "a boolean",
    INT_OR_STRING: "an integer or a string",
    QUANTITY: "a quantity",
}
INT64 = 2**63


@dataclass(eq=False)
class Node:
    kind: int = ANY
    props: dict[str, Node] = field(default_factory=dict)
    item: Node | None = None  # ARRAY items, MAP values


_ANY = Node()
_DROP = object()
_STR_OK = frozenset({STRING, INT_OR_STRING, QUANTITY})
_INT_OK = frozenset({INTEGER, INT_OR_STRING, NUMBER, QUANTITY})


def _schema_dir() -> Path | None:
    """kubernetes-validate's newest local schema folder, found without importing the package."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.name.split("-")[0]))

    dirs = sorted((p for p in root.glob("v*-local") if (p / "_definitions.json").is_file()), key=version)
    return dirs[-1] if dirs else None


@cache
def _definitions() -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """The schema definitions and (apiVersion, kind) -> definition name."""
    folder = _schema_dir()
    if folder is None:
        return {}, {}
    defs: dict[str, Any] = json.loads((folder / "_definitions.json").read_text(encoding="utf-8")).get("$defs", {})
    gvk: dict[tuple[str, str], str] = {}
    for name, d in defs.items():
        for k in d.get("x-kubernetes-group-version-kind") or []:
            api = f"{k['group']}/{k['version']}" if k.get("group") else str(k.get("version"))
            gvk.setdefault((api, str(k.get("kind"))), name)
    return defs, gvk


class _Compiler:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.nodes: dict[str, Node] = {}

    def ref(self, name: str) -> Node:
        node = self.nodes.get(name)
        if node is None:
            node = self.nodes[name] = Node()  # filled in place: recursive types refer to it
            built = self.build(self.defs.get(name) or {})
            node.kind, node.props, node.item = built.kind, built.props, built.item
        return node

    def build(self, s: dict[str, Any]) -> Node:
        ref = s.get("$ref")
        if isinstance(ref, str):
            return self.ref(ref.rsplit("/", 1)[-1])
        if "oneOf" in s:
            types = {t for alt in s["oneOf"] for t in _types(alt)}
            if types == {"string", "integer"}:
                return Node(INT_OR_STRING)
            if types == {"string", "number"}:
                return Node(QUANTITY)
            return _ANY
        if s.get("x-kubernetes-preserve-unknown-fields"):
            return _ANY
        types = _types(s)
        if "object" in types:
            if s.get("properties"):
                return Node(OBJECT, {k: self.build(v) for k, v in s["properties"].items()})
            extra = s.get("additionalProperties")
            if isinstance(extra, dict):
                return Node(MAP, item=self.build(extra))
            return _ANY
        if "array" in types:
            items = s.get("items")
            return Node(ARRAY, item=self.build(items) if isinstance(items, dict) else _ANY)
        for t, kind in (("string", STRING), ("integer", INTEGER), ("number", NUMBER), ("boolean", BOOLEAN)):
            if t in types:
                return Node(kind)
        return _ANY


def _types(s: dict[str, Any]) -> set[str]:
    t = s.get("type")
    return {t} if isinstance(t, str) else set(t) if isinstance(t, list) else set()


# Argo CD's Application: the fields the bot reads (the CRD is not in the Kubernetes schema).
_S: dict[str, Any] = {"type": "string"}
_SOURCE = {
    "type": "object",
    "properties": {
        "repoURL": _S,
        "path": _S,
        "targetRevision": _S,
        "chart": _S,
        "ref": _S,
        "helm": {
            "type": "object",
            "properties": {
                "valueFiles": {"type": "array", "items": _S},
                "releaseName": _S,
                "values": _S,
                "parameters": {"type": "array", "items": {"type": "object", "properties": {"name": _S}}},
                "ignoreMissingValueFiles": {"type": "boolean"},
            },
        },
        "directory": {"type": "object", "properties": {"recurse": {"type": "boolean"}, "include": _S, "exclude": _S}},
        "kustomize": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}
_HEALTH = {"type": "object", "properties": {"status": _S, "message": _S}}
_RESOURCE = {
    "type": "object",
    "properties": {
        "group": _S,
        "version": _S,
        "kind": _S,
        "namespace": _S,
        "name": _S,
        "status": _S,
        "message": _S,
        "hookPhase": _S,
        "syncPhase": _S,
        "health": _HEALTH,
    },
}
_APPLICATION = {
    "type": "object",
    "properties": {
        "apiVersion": _S,
        "kind": _S,
        "metadata": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
        "spec": {
            "type": "object",
            "properties": {
                "project": _S,
                "source": _SOURCE,
                "sources": {"type": "array", "items": _SOURCE},
                "destination": {"type": "object", "properties": {"server": _S, "name": _S, "namespace": _S}},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "health": _HEALTH,
                "sync": {"type": "object", "properties": {"status": _S, "revision": _S}},
                "resources": {"type": "array", "items": _RESOURCE},
                "conditions": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"type": _S, "message": _S}},
                },
                "operationState": {
                    "type": "object",
                    "properties": {
                        "phase": _S,
                        "message": _S,
                        "syncResult": {
                            "type": "object",
                            "properties": {"resources": {"type": "array", "items": _RESOURCE}},
                        },
                    },
                },
            },
        },
    },
}
_UNKNOWN = {
    "type": "object",
    "properties": {
        "apiVersion": _S,
        "kind": _S,
        "metadata": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
    },
}


@cache
def _compiler() -> _Compiler:
    return _Compiler(_definitions()[0])


@cache
def schema_for(api_version: str, kind: str) -> Node:
    """The compiled schema of a kind (Argo CD's Application, a built-in type, or only its metadata)."""
    comp = _compiler()
    if kind == "Application" and api_version.startswith("argoproj.io/"):
        return comp.build(_APPLICATION)
    name = _definitions()[1].get((api_version, kind))
    if name is None and "/" not in api_version:
        name = _definitions()[1].get(("v1", kind))  # a snapshot written without apiVersion
    if name is None:
        # the same kind in another version of its group (an old or newer apiVersion)
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        name = next(
            (n for (api, k), n in sorted(_definitions()[1].items()) if k == kind and api.startswith(group + "/")),
            None,
        )
    return comp.ref(name) if name is not None else comp.build(_UNKNOWN)


class Problems:
    """Fields removed from the evidence, reported with their file, object and path."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        self.count = 0

    def add(self, where: str, path: tuple[Any, ...], value: Any, want: int) -> None:
        self.count += 1
        if self.count <= MAX_REPORTED:
            self.errors.append(f"{where}: {_path_str(path)} is {_what(value)}, not {_TYPE_NAMES[want]}; ignored")
        elif self.count == MAX_REPORTED + 1:
            self.errors.append(f"more fields of the wrong type than {MAX_REPORTED}; not all are listed")


def _path_str(path: tuple[Any, ...]) -> str:
    parts: list[str] = []
    while path:
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else "." + str(key)[:60])
    return "".join(reversed(parts)).lstrip(".") or "(the object)"


def _what(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number out of range" if isinstance(value, int) or math.isfinite(value) else "not a finite number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def conform(obj: dict[str, Any], where: str, problems: Problems) -> dict[str, Any]:
    """``obj`` with every field of the wrong type removed (in place), each reported in ``problems``."""
    api, kind = obj.get("apiVersion"), obj.get("kind")
    node = schema_for(api if isinstance(api, str) else "", kind if isinstance(kind, str) else "")
    _check(obj, node, (), where, problems)
    return obj


def _check(v: Any, node: Node, path: tuple[Any, ...], where: str, problems: Problems) -> Any:
    """The value to keep (``v`` itself, fixed in place, or a converted scalar), or _DROP."""
    k = node.kind
    if k == ANY or v is None:
        return v
    if k == OBJECT:
        if not isinstance(v, dict):
            problems.add(where, path, v, k)
            return _DROP
        props = node.props
        for key in list(v):
            sub = props.get(key) if type(key) is str else None
            if sub is None:
                continue
            val = v[key]
            sk, t = sub.kind, type(val)
            if sk == ANY or (t is str and sk in _STR_OK) or (t is int and sk in _INT_OK and -INT64 <= val < INT64):
                continue  # the common case, without a call
            new = _check(val, sub, (path, key), where, problems)
            if new is _DROP:
                del v[key]
            elif new is not val:
                v[key] = new
        return v
    if k == ARRAY:
        if not isinstance(v, list):
            problems.add(where, path, v, k)
            return _DROP
        item = node.item
        if item is not None and item.kind != ANY:
            bad = []
            for i, val in enumerate(v):
                new = _check(val, item, (path, i), where, problems)
                if new is _DROP:
                    bad.append(i)
                elif new is not val:
                    v[i] = new
            for i in reversed(bad):
                del v[i]
        return v
    if k == MAP:
        if not isinstance(v, dict):
            problems.add(where, path, v, k)
            return _DROP
        item = node.item
        for key in list(v):
            val = v[key]
            if not isinstance(key, str):  # a YAML key 1 or true: the API's keys are strings
                del v[key]
                key = _as_string(key)
                if key is None:
                    continue
                v[key] = val
            if item is not None and item.kind != ANY:
                new = _check(val, item, (path, key), where, problems)
                if new is _DROP:
                    del v[key]
                elif new is not val:
                    v[key] = new
        return v
    if k == STRING:
        if isinstance(v, str):
            return v
        s = _as_string(v)
        if s is None:
            problems.add(where, path, v, k)
            return _DROP
        return s
    if k in (INTEGER, INT_OR_STRING):
        if isinstance(v, int) and not isinstance(v, bool):
            if -INT64 <= v < INT64:
                return v
        elif isinstance(v, float) and math.isfinite(v) and v.is_integer() and -INT64 <= v < INT64:
            return int(v)
        elif k == INT_OR_STRING and isinstance(v, str):
            return v
        problems.add(where, path, v, k)
        return _DROP
    if k in (NUMBER, QUANTITY):
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e30:
            return v
        if k == QUANTITY and isinstance(v, str):
            return v
        problems.add(where, path, v, k)
        return _DROP
    if k == BOOLEAN:
        if isinstance(v, bool):
            return v
        problems.add(where, path, v, k)
        return _DROP
    return v


def _as_string(v: Any) -> str | None:
    """A scalar as the string the API would hold (a YAML ``1`` or ``true`` where a string belongs)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and math.isfinite(v):
        return repr(v)
    return None


__all__ = ["Problems", "conform", "schema_for"]
