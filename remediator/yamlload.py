"""One bounded loader for every YAML/JSON document the project reads from a hostile source.

Snapshot files, the app's repository, render outputs and scenario files are all written by
someone else, so parsing them must not be a way to exhaust memory, time or the stack:

* aliases: a "billion laughs" document is a few lines that expand, through shared nodes, to
  billions (anything that walks or copies it - a deep copy, ``json.dumps`` - expands it). After
  loading, a memoised walk (linear in the distinct nodes) computes the size the document would
  have with every alias expanded; more than ``MAX_ALIAS_NODES`` added by aliases, or a node that
  contains itself, refuses the file.
* documents: ``---`` lines are counted before parsing; more than ``MAX_DOCUMENTS`` refuses it.
* nesting: deeper than ``MAX_DEPTH`` refuses it (libyaml stops at 1000, which is still deep
  enough to overflow the stack of any recursive walk later); a ``RecursionError`` while
  parsing is a refusal too, never a crash.

The parser is libyaml's C safe loader (PyYAML's pure-Python one when libyaml is missing), with
timestamps kept as the strings they were written as. A refusal is a :class:`LoadError` (an
:class:`InputError`): one line naming the file, and the line when the parser knows it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from remediator.errors import InputError

MAX_DOCUMENTS = 10_000
MAX_DEPTH = 200
MAX_ALIAS_NODES = 10_000


class LoadError(InputError):
    """A file refused by the loader: malformed, or beyond a bound. The message names the file."""


class Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """The C safe loader, keeping timestamps as the strings kubectl printed."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# A line that starts a document (---) or ends one (...): an upper bound of the document count.
_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.M)


def load_all(text: str, name: str, *, as_json: bool | None = None) -> list[Any]:
    """Every document of ``text`` (``None`` for an empty one, so indexes match the ``---`` cut).

    ``name`` is what messages call the file; it is JSON when ``as_json`` says so, or (by default)
    when ``name`` ends with ``.json``. Raises :class:`LoadError`."""
    is_json = name.endswith(".json") if as_json is None else as_json
    kind = "JSON" if is_json else "YAML"
    try:
        if is_json:
            docs = [json.loads(text)]
        else:
            markers = len(_MARKER.findall(text))
            if markers > MAX_DOCUMENTS:
                raise LoadError(f"{name}: more than {MAX_DOCUMENTS} YAML documents ({markers} markers); not read")
            docs = list(yaml.load_all(text, Loader=Loader))
    except RecursionError as e:
        raise LoadError(f"{name}: {kind} nested too deeply to parse; not read") from e
    except (ValueError, yaml.YAMLError) as e:  # JSONDecodeError is a ValueError
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" line {mark.line + 1}:"
        elif isinstance(e, json.JSONDecodeError):
            where = f" line {e.lineno}:"
        reason = getattr(e, "problem", None) or (str(e).splitlines() or [type(e).__name__])[0]
        raise LoadError(f"{name}:{where} malformed {kind}: {reason}") from e
    if len(docs) > MAX_DOCUMENTS:  # documents without markers (after "..." or in a flow stream)
        raise LoadError(f"{name}: more than {MAX_DOCUMENTS} {kind} documents; not read")
    problem = check_bounds(docs, shared=not is_json and "&" in text and "*" in text)
    if problem:
        raise LoadError(f"{name}: {problem}; not read")
    return docs


def load_one(text: str, name: str, *, as_json: bool | None = None) -> Any:
    """The single document of ``text`` (None when empty). Raises :class:`LoadError`, also for several."""
    docs = [d for d in load_all(text, name, as_json=as_json) if d is not None]
    if len(docs) > 1:
        raise LoadError(f"{name}: expected one document, found {len(docs)}")
    return docs[0] if docs else None


def check_bounds(docs: list[Any], shared: bool = True) -> str | None:
    """Why these parsed documents are refused (nesting, alias expansion, a node inside itself), or None.

    One breadth-first walk over the documents as if every alias were expanded, which stops as soon
    as the expansion passes the budget: linear in the distinct nodes plus at most the budget.
    ``shared=False`` promises that no node appears twice (the text has no anchors): then only the
    depth is counted. Works on PyYAML's plain containers and on ruamel's subclasses of them."""
    level: list[Any] = [docs]
    depth = expanded = distinct = 0
    seen: set[int] = set()
    while level:
        nxt: list[Any] = []
        add = nxt.append
        for node in level:
            if shared:
                expanded += len(node)
                if id(node) not in seen:
                    seen.add(id(node))
                    distinct += len(node)
                elif expanded - distinct > MAX_ALIAS_NODES:
                    return _why_expanded(docs)
            for c in node.values() if isinstance(node, dict) else node:
                t = type(c)
                if t is dict or t is list or (t is not str and isinstance(c, dict | list)):
                    add(c)
        level = nxt
        if level:
            depth += 1
            if depth > MAX_DEPTH:
                return _why_expanded(docs) if shared else f"nested deeper than {MAX_DEPTH} levels"
    return None


def _why_expanded(root: Any) -> str:
    """The reason for a refusal found by :func:`check_bounds`, exact: a node inside itself, the
    nesting, or how many nodes the aliases add (a memoised walk, linear in the distinct nodes)."""
    return _expansion(root) or f"YAML aliases expand it by more than {MAX_ALIAS_NODES} nodes"


def _expansion(root: Any) -> str | None:
    """Size and depth each container would have with every alias expanded, memoised per node."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    distinct = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = list(node.values()) if isinstance(node, dict) else node
        if done:
            on_path.discard(key)
            n, d = 1, 0
            for c in children:
                if isinstance(c, dict | list):
                    n += size[id(c)]
                    d = max(d, depth[id(c)] + 1)
                else:
                    n += 1
            size[key], depth[key] = n, d
            if d > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            continue
        if key in size:
            continue
        distinct += 1 + sum(1 for c in children if not isinstance(c, dict | list))
        on_path.add(key)
        stack.append((node, True))
        for c in children:
            if isinstance(c, dict | list):
                if id(c) in on_path:
                    return "a YAML alias refers to a node that contains it (a recursive structure)"
                if id(c) not in size:
                    stack.append((c, False))
    expanded = size[id(root)]
    if expanded - distinct > MAX_ALIAS_NODES:
        return f"YAML aliases expand it by {expanded - distinct} nodes (more than {MAX_ALIAS_NODES})"
    return None


__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "LoadError",
    "Loader",
    "check_bounds",
    "load_all",
    "load_one",
]
