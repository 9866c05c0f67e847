"""Minimal-diff YAML editing.

A file is kept as its original lines (line endings included) cut into documents at ``---``/``...``
markers. ruamel.yaml's round-trip loader gives each node's line and column; an edit rewrites only
the characters of the scalar it changes (keeping its quote style), or inserts the few lines of a
missing key at the indentation of its siblings. Unchanged documents are never re-serialised, so they
stay byte-identical: comments, key order, quotes, indentation, flow style, markers, CRLF and the
trailing newline are kept because nothing touches them. Every edit is checked by parsing the
result again: the new document must equal the old one with exactly that change, or the edit is
refused and the text stays as it was.
"""

from __future__ import annotations

import copy
import io
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

from remediator.errors import PermanentError
from remediator.model import FieldPath, PathPart, path_str
from remediator.yamlload import MAX_DOCUMENTS, check_bounds

MAX_BYTES = 5 * 1024 * 1024

_SEP = re.compile(r"^---(\s|$)")
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./:@+\-]*$")
_RESOLVES = re.compile(
    r"^(?:[-+]?(?:\d[\d_]*)?\.?\d*(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|true|false|yes|no|on|off|y|n|null|~|"
    r"\.inf|\.nan|[-+]?\.inf)$",
    re.IGNORECASE,
)


class EditError(PermanentError):
    """An edit that cannot be made safely; the message names the file."""


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    y.preserve_quotes = True
    return y


def plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts/lists/scalars (for comparisons)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


@dataclass
class Document:
    lines: list[str]  # original lines, each with its own line ending
    data: Any = None  # ruamel round-trip tree; None for an empty document
    has_aliases: bool = False

    @property
    def text(self) -> str:
        return "".join(self.lines)


def _parse(text: str, where: str) -> tuple[Any, bool]:
    """One document with ruamel's round-trip loader, within the bounds of :mod:`remediator.yamlload`
    (aliases expanding beyond a small budget, a node inside itself, deep nesting: refused)."""
    norm = text.replace("\r\n", "\n")
    y = _yaml()
    try:
        aliases = any(isinstance(e, AliasEvent) for e in y.parse(io.StringIO(norm)))
        data = y.load(norm)
        problem = check_bounds([data], shared=aliases)
    except RecursionError:
        raise EditError(f"{where}: YAML nested too deeply to parse; not edited") from None
    except DuplicateKeyError as e:
        raise EditError(f"{where}: duplicate key: {str(e.problem or e).splitlines()[0]}") from e
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise EditError(f"{where}:{line} invalid YAML: {getattr(e, 'problem', None) or e}") from e
    if problem:
        raise EditError(f"{where}: {problem}; not edited")
    return data, aliases


@dataclass
class YamlFile:
    path: str  # repo-relative, for messages
    docs: list[Document] = field(default_factory=list)
    original: str = ""

    @classmethod
    def parse(cls, text: str, path: str) -> YamlFile:
        if "{{" in text and not path.rsplit("/", 1)[-1].startswith("values"):
            raise EditError(f"{path}: a Helm template (contains '{{{{ }}}}'), not plain YAML; edit manually")
        lines = text.splitlines(keepends=True)
        segments: list[list[str]] = [[]]
        for ln in lines:
            if (
                _SEP.match(ln)
                and segments[-1]
                and any(s.strip() and not s.lstrip().startswith("#") for s in segments[-1])
            ):
                segments.append([])
            segments[-1].append(ln)
            if len(segments) > MAX_DOCUMENTS:
                raise EditError(f"{path}: more than {MAX_DOCUMENTS} YAML documents; not edited")
        f = cls(path=path, original=text)
        line_no = 0
        for seg in segments:
            seg_text = "".join(seg)
            try:
                data, aliases = _parse(seg_text, path)
            except EditError as e:
                raise EditError(f"{e} (document starting at line {line_no + 1})") from e
            f.docs.append(Document(seg, data, aliases))
            line_no += len(seg)
        return f

    @classmethod
    def read(cls, path: Path, rel: str) -> YamlFile:
        try:
            if path.stat().st_size > MAX_BYTES:
                raise EditError(f"{rel}: larger than 5 MiB; not edited")
            raw = path.read_bytes()
        except OSError as e:
            raise EditError(f"{rel}: cannot read: {e.strerror}") from e
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise EditError(f"{rel}: not UTF-8 text") from e
        return cls.parse(text, rel)

    def render(self) -> str:
        return "".join(d.text for d in self.docs)

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.original else "\n"

    # --- finding documents -------------------------------------------------

    def find(self, kind: str, name: str, namespace: str | None = None) -> list[int]:
        out = []
        for i, d in enumerate(self.docs):
            data = d.data
            if not isinstance(data, dict):
                continue
            meta = data.get("metadata") or {}
            if (
                str(data.get("kind")) == kind
                and isinstance(meta, dict)
                and str(meta.get("name")) == name
                and (namespace is None or str(meta.get("namespace") or "") in ("", namespace))
            ):
                out.append(i)
        return out

    # --- edits ------------------------------------------------------------

    def get(self, doc: int, path: FieldPath) -> Any:
        node = self.docs[doc].data
        for part in path:
            node = step(node, part)
            if node is None:
                return None
        return node

    def set(self, doc: int, path: FieldPath, value: Any) -> None:
        """Set the scalar at ``path`` in document ``doc`` to ``value``, creating missing mapping keys.
        List items are addressed by index or by a selector such as ``{"name": "app"}``; a missing
        list item is not created (that is a different edit), except that an index one past the end of
        a list appends ``value`` to it (:meth:`append_item`). Raises EditError and leaves the text as
        it was when the edit cannot be made exactly."""
        if path and isinstance(path[-1], int) and not isinstance(path[-1], bool):
            seq = self.get(doc, path[:-1])
            if isinstance(seq, list) and path[-1] == len(seq):
                self.append_item(doc, path[:-1], value)
                return
        d = self.docs[doc]
        where = f"{self.path} (document {doc + 1})"
        if d.has_aliases:
            raise EditError(f"{where}: uses YAML anchors/aliases; an edit could change every place that shares a node")
        before = plain(d.data)
        lines = list(d.lines)
        node = d.data
        parent: Any = None
        for i, part in enumerate(path):
            nxt = step(node, part)
            if nxt is None:
                if isinstance(part, (int, dict)) or not isinstance(node, CommentedMap):
                    raise EditError(f"{where}: {path_str(path[: i + 1])} does not exist")
                lines = _insert_key(
                    lines, node, parent, path[i:], _Seq(value) if isinstance(value, list) else value, where
                )
                break
            if i == len(path) - 1:
                if isinstance(nxt, (dict, list)):
                    raise EditError(f"{where}: {path_str(path)} is not a scalar")
                lines = _replace_scalar(lines, node, part, nxt, value, where)
            parent = node
            node = nxt
        new_text = "".join(lines)
        data, aliases = _parse(new_text, where)
        expected = copy.deepcopy(before)
        _assign(expected, path, plain(value))
        if plain(data) != expected:
            raise EditError(f"{where}: editing {path_str(path)} in place would change more than that field; not edited")
        self.docs[doc] = Document(lines, data, aliases)

    def remove(self, doc: int, path: FieldPath) -> None:
        """Remove the mapping key at ``path`` with the lines of its value (nothing when it is absent).
        Verified by re-parsing, like ``set``."""
        d = self.docs[doc]
        where = f"{self.path} (document {doc + 1})"
        parent = self.get(doc, path[:-1]) if len(path) > 1 else d.data
        key = path[-1]
        if not isinstance(parent, CommentedMap) or not isinstance(key, str) or key not in parent:
            return
        if d.has_aliases:
            raise EditError(f"{where}: uses YAML anchors/aliases; not edited")
        if parent.fa.flow_style():
            raise EditError(f"{where}: the mapping is written in flow style {{...}}; edit manually")
        lines = list(d.lines)
        kline, kcol = parent.lc.key(key)
        if lines[kline][:kcol].strip():
            raise EditError(f"{where}: line {kline + 1}: {path_str(path)} starts a list item; edit manually")
        last = kline
        for j in range(kline + 1, len(lines)):
            s_ = lines[j]
            if _SEP.match(s_):
                break
            if s_.strip() and not s_.strip().startswith("#"):
                ind = len(s_) - len(s_.lstrip(" "))
                if ind < kcol or (ind == kcol and not s_.lstrip().startswith("- ")):
                    break
                last = j
        lines = [*lines[:kline], *lines[last + 1 :]]
        data, aliases = _parse("".join(lines), where)
        expected = copy.deepcopy(plain(d.data))
        holder = expected
        for part in path[:-1]:
            holder = holder[_index(holder, part)]
        del holder[key]
        if plain(data) != expected:
            raise EditError(f"{where}: removing {path_str(path)} would change more than that field; not edited")
        self.docs[doc] = Document(lines, data, aliases)

    def append_item(self, doc: int, path: FieldPath, value: Any) -> None:
        """Append ``value`` (a scalar, or a mapping of scalars, mappings and lists of scalars) to the block
        sequence at ``path`` (a scalar to a one-line flow list too), creating the key when it is missing.
        Verified by re-parsing, like ``set``."""
        d = self.docs[doc]
        where = f"{self.path} (document {doc + 1})"
        if d.has_aliases:
            raise EditError(f"{where}: uses YAML anchors/aliases; not edited")
        before = plain(d.data)
        seq = self.get(doc, path)
        lines = list(d.lines)
        nl = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        if seq is None:
            parent = self.get(doc, path[:-1]) if len(path) > 1 else d.data
            if not isinstance(parent, CommentedMap) or not isinstance(path[-1], str):
                raise EditError(f"{where}: cannot create {path_str(path)}")
            lines = _insert_key(lines, parent, None, path[-1:], _Seq([value]), where)
            expected_value: Any = [plain(value)]
        elif not isinstance(seq, CommentedSeq):
            raise EditError(f"{where}: {path_str(path)} is not a list")
        elif seq.fa.flow_style() and len(seq) > 0 and not isinstance(value, (dict, list)):
            # ["get", "list"] -> ["get", "list", "watch"]: after the last item, in its quote style
            line, col = seq.lc.item(len(seq) - 1)
            end = _scalar_end(lines[line], col, flow=True)
            if end <= col:
                raise EditError(f"{where}: {path_str(path)}: unexpected flow list layout; edit manually")
            token = lines[line][col:end]
            lines[line] = lines[line][:end] + ", " + format_scalar(value, token) + lines[line][end:]
            expected_value = [*plain(seq), plain(value)]
        elif seq.fa.flow_style() or len(seq) == 0:
            raise EditError(f"{where}: {path_str(path)} is written in flow style [...]; edit manually")
        else:
            line, col = seq.lc.item(len(seq) - 1)
            dash = lines[line].rfind("-", 0, col + 1)
            if dash < 0 or lines[line][:dash].strip():
                raise EditError(f"{where}: {path_str(path)}: unexpected list layout; edit manually")
            end = line + 1
            last = line
            while end < len(lines):
                s_ = lines[end]
                if _SEP.match(s_):
                    break
                if s_.strip() and not s_.strip().startswith("#"):
                    ind = len(s_) - len(s_.lstrip(" "))
                    if ind <= dash:
                        break
                    last = end
                end += 1
            block = _item_lines(value, dash, nl, _seq_offset(lines))
            if not lines[last].endswith(("\n", "\r")):
                lines[last] += nl
                block[-1] = block[-1].rstrip("\r\n")
            lines = [*lines[: last + 1], *block, *lines[last + 1 :]]
            expected_value = [*plain(seq), plain(value)]
        data, aliases = _parse("".join(lines), where)
        expected = copy.deepcopy(before)
        _assign(expected, path, expected_value)
        if plain(data) != expected:
            raise EditError(f"{where}: appending to {path_str(path)} would change more than that list; not edited")
        self.docs[doc] = Document(lines, data, aliases)

    def append_document(self, data: dict[str, Any]) -> None:
        """Add a document at the end, after a ``---`` marker, in block style with 2-space indents."""
        nl = self.newline
        text = dump_block(data).replace("\n", nl)
        if self.docs and self.docs[-1].lines and not self.docs[-1].lines[-1].endswith(("\n", "\r")):
            self.docs[-1].lines[-1] += nl
        lines = (f"---{nl}" + text).splitlines(keepends=True) if self.render().strip() else text.splitlines(True)
        parsed, aliases = _parse("".join(lines), self.path)
        self.docs.append(Document(lines, parsed, aliases))


def dump_block(data: Any) -> str:
    y = YAML(typ="rt")
    y.default_flow_style = False
    y.indent(mapping=2, sequence=2, offset=0)
    y.width = 4096
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def step(node: Any, part: PathPart) -> Any:
    """One step of a field path: a mapping key, a list index, or a list selector such as {"name": "app"}."""
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and -len(node) <= part < len(node) else None
    if isinstance(part, dict):
        if not isinstance(node, list):
            return None
        for item in node:
            if isinstance(item, dict) and all(str(item.get(k)) == v for k, v in part.items()):
                return item
        return None
    return node.get(part) if isinstance(node, dict) else None


def _index(node: Any, part: PathPart) -> Any:
    if isinstance(part, dict):
        for i, item in enumerate(node):
            if isinstance(item, dict) and all(str(item.get(k)) == v for k, v in part.items()):
                return i
    return part


def _assign(data: Any, path: FieldPath, value: Any) -> None:
    node = data
    for part in path[:-1]:
        idx = _index(node, part)
        if isinstance(node, dict) and idx not in node:
            node[idx] = {}
        node = node[idx]
    node[_index(node, path[-1])] = value


def format_scalar(value: Any, like: str | None = None) -> str:
    """Write ``value`` as YAML; strings keep the quote style of ``like`` (the old token) when they can."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    s = str(value)
    quote = like[0] if like and like[0] in "'\"" else ""
    needs = not _PLAIN_SAFE.fullmatch(s) or bool(_RESOLVES.fullmatch(s)) or s.endswith(":") or ": " in s
    if quote == "'" or (not quote and needs and '"' not in s and "\\" not in s):
        return "'" + s.replace("'", "''") + "'"
    if quote == '"' or needs:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def _scalar_end(line: str, col: int, flow: bool = False) -> int:
    """The column after the scalar token that starts at ``col`` (single-line tokens only)."""
    ch = line[col : col + 1]
    if ch == '"':
        i = col + 1
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                return i + 1
            i += 1
        return -1
    if ch == "'":
        i = col + 1
        while i < len(line):
            if line[i] == "'":
                if line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        return -1
    if ch in "|>":
        return -1
    end = len(line.rstrip("\r\n"))
    m = re.search(r"\s#", line[col:end])
    if m:
        end = col + m.start()
    # inside a flow collection the token stops at , ] }
    j = col
    if flow:
        while j < end and line[j] not in ",]}":
            j += 1
        end = j
    return col + len(line[col:end].rstrip())


def _replace_scalar(lines: list[str], node: Any, part: PathPart, old: Any, value: Any, where: str) -> list[str]:
    key = _index(node, part)
    try:
        line, col = node.lc.value(key) if isinstance(node, CommentedMap) else node.lc.item(key)
    except (KeyError, AttributeError, TypeError) as e:
        raise EditError(f"{where}: cannot locate the value of {part!r}") from e
    text = lines[line]
    flow = bool(getattr(node, "fa", None) and node.fa.flow_style())
    end = _scalar_end(text, col, flow)
    if end < 0 or end <= col:
        raise EditError(f"{where}: line {line + 1}: value is a multi-line or block scalar; edit manually")
    token = text[col:end]
    new = format_scalar(value, token)
    out = list(lines)
    out[line] = text[:col] + new + text[end:]
    return out


def _indent_step(lines: list[str]) -> int:
    widths = sorted({len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")})
    steps = [b - a for a, b in itertools.pairwise(widths) if b > a]
    return min(steps) if steps else 2


def _insert_key(
    lines: list[str], node: CommentedMap, parent: Any, rest: FieldPath, value: Any, where: str
) -> list[str]:
    """Insert ``rest`` (mapping keys only, the last one holding ``value``) into the block mapping ``node``."""
    if any(not isinstance(p, str) for p in rest):
        raise EditError(f"{where}: cannot create list items ({path_str(rest)})")
    nl = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    indent = _indent_step(lines)
    if len(node) == 0:
        # an empty mapping: "resources: {}" -> replace the {} with a block below the key
        if parent is None or not isinstance(parent, CommentedMap):
            raise EditError(f"{where}: cannot insert into an empty top-level document")
        pkey = next((k for k, v in parent.items() if v is node), None)
        if pkey is None:
            raise EditError(f"{where}: cannot locate the empty mapping to fill")
        kline, kcol = parent.lc.key(pkey)
        vline, vcol = parent.lc.value(pkey)
        text = lines[vline]
        if text[vcol : vcol + 2] != "{}":
            raise EditError(f"{where}: line {vline + 1}: unexpected empty mapping; edit manually")
        comment = text[vcol + 2 :].rstrip("\r\n")
        head = text[:vcol].rstrip() + comment + nl
        block = _block(rest, value, kcol + indent, indent, nl)
        return [*lines[:vline], head, *block, *lines[vline + 1 :]]
    if node.fa.flow_style():
        raise EditError(f"{where}: the mapping is written in flow style {{...}}; edit manually")
    first = next(iter(node))
    kline, kcol = node.lc.key(first)
    # the block ends before the first later content line indented less than its keys
    end = kline + 1
    last_content = kline
    while end < len(lines):
        s = lines[end]
        stripped = s.strip()
        if _SEP.match(s):
            break
        if stripped and not stripped.startswith("#"):
            ind = len(s) - len(s.lstrip(" "))
            if ind < kcol:
                break
            last_content = end
        end += 1
    if lines[last_content].rstrip("\r\n").endswith(("|", ">", "|-", ">-", "|+", ">+")):
        raise EditError(f"{where}: a block scalar ends the mapping; edit manually")
    block = _block(rest, value, kcol, indent, nl, _seq_offset(lines))
    tail = lines[last_content]
    if not tail.endswith(("\n", "\r")):
        lines = [*lines[:last_content], tail + nl, *lines[last_content + 1 :]]
        block[-1] = block[-1].rstrip("\r\n")
    return [*lines[: last_content + 1], *block, *lines[last_content + 1 :]]


class _Seq(list[Any]):
    """A list value to write in block style under a new key."""


def _map_lines(value: dict[str, Any], col: int, nl: str, seq_off: int = 0) -> list[str]:
    out = []
    for k, v in value.items():
        if isinstance(v, (dict, list)) and not v:
            out.append(f"{' ' * col}{k}: {'{}' if isinstance(v, dict) else '[]'}{nl}")
        elif isinstance(v, dict):
            out.append(f"{' ' * col}{k}:{nl}")
            out += _map_lines(v, col + 2, nl, seq_off)
        elif isinstance(v, list) and all(isinstance(x, dict) and x for x in v):
            # a list of mappings (NetworkPolicy peers and ports, ...): block style, as the file indents lists
            out.append(f"{' ' * col}{k}:{nl}")
            for x in v:
                out += _item_lines(x, col + seq_off, nl, seq_off)
        elif isinstance(v, list) and not any(isinstance(x, (dict, list)) for x in v):
            out.append(f"{' ' * col}{k}: [{', '.join(format_scalar(x, chr(34)) for x in v)}]{nl}")
        else:
            out.append(f"{' ' * col}{k}: {format_scalar(v)}{nl}")
    return out


def _item_lines(value: Any, dash: int, nl: str, seq_off: int = 0) -> list[str]:
    pad = " " * dash
    if isinstance(value, dict):
        lines = _map_lines(value, dash + 2, nl, seq_off)
        return [pad + "- " + lines[0][dash + 2 :], *lines[1:]]
    return [f"{pad}- {format_scalar(value)}{nl}"]


def _seq_offset(lines: list[str]) -> int:
    """How far this file indents a block sequence under its key (0 for "key:\n- a", 2 for "key:\n  - a")."""
    offsets: dict[int, int] = {}
    for a, b in itertools.pairwise(lines):
        if a.rstrip().endswith(":") and b.lstrip().startswith("- "):
            off = (len(b) - len(b.lstrip(" "))) - (len(a) - len(a.lstrip(" ")))
            if off >= 0:
                offsets[off] = offsets.get(off, 0) + 1
    return max(offsets, key=lambda k: offsets[k]) if offsets else 0


def _block(rest: FieldPath, value: Any, col: int, indent: int, nl: str, seq_off: int = 0) -> list[str]:
    out = []
    for i, k in enumerate(rest):
        pad = " " * (col + i * indent)
        if i == len(rest) - 1 and isinstance(value, _Seq):
            out.append(f"{pad}{k}:{nl}")
            for v in value:
                out += _item_lines(v, col + i * indent + seq_off, nl, seq_off)
        elif i == len(rest) - 1:
            out.append(f"{pad}{k}: {format_scalar(value)}{nl}")
        else:
            out.append(f"{pad}{k}:{nl}")
    return out


def new_document_text(docs: list[dict[str, Any]]) -> str:
    return "---\n".join(dump_block(d) for d in docs)


__all__ = ["CommentedSeq", "Document", "EditError", "FieldPath", "YamlFile", "format_scalar", "path_str", "plain"]
