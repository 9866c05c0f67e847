"""The minimal-diff YAML editor: golden tests named after what they preserve, a corpus test, bad input."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from remediator.edits.yamlfile import EditError, YamlFile, plain
from remediator.quantity import format_like, memory_step, parse_quantity, round_up, to_bytes

CORPUS = sorted((Path(__file__).parent / "corpus" / "files").iterdir())
MEM = ("spec", "template", "spec", "containers", {"name": "app"}, "resources", "limits", "memory")


def changed_lines(a: str, b: str) -> list[str]:
    return [
        x
        for x in difflib.unified_diff(a.splitlines(True), b.splitlines(True), n=0)
        if x[:1] in "+-" and not x.startswith(("+++", "---"))
    ]


def edit(text: str, path: tuple[Any, ...], value: Any, doc: int = 0) -> str:
    f = YamlFile.parse(text, "t.yaml")
    f.set(doc, path, value)
    return f.render()


DEPLOY = """\
# header comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # trailing comment
spec:
  template:
    spec:
      containers:
      - name: app
        image: "nginx:1.25"
        resources:
          limits: {memory: 128Mi, cpu: "1"}
          requests:
            memory: '64Mi'
"""


def test_preserves_comments_and_key_order() -> None:
    out = edit(DEPLOY, ("metadata", "name"), "web2")
    assert changed_lines(DEPLOY, out) == ["-  name: web   # trailing comment\n", "+  name: web2   # trailing comment\n"]


def test_preserves_double_quotes() -> None:
    out = edit(DEPLOY, ("spec", "template", "spec", "containers", {"name": "app"}, "image"), "nginx:1.26")
    assert '        image: "nginx:1.26"\n' in out and len(changed_lines(DEPLOY, out)) == 2


def test_preserves_single_quotes() -> None:
    out = edit(
        DEPLOY, ("spec", "template", "spec", "containers", {"name": "app"}, "resources", "requests", "memory"), "96Mi"
    )
    assert "            memory: '96Mi'\n" in out


def test_preserves_flow_mapping() -> None:
    out = edit(DEPLOY, MEM, "192Mi")
    assert '          limits: {memory: 192Mi, cpu: "1"}\n' in out and len(changed_lines(DEPLOY, out)) == 2


def test_preserves_crlf() -> None:
    crlf = DEPLOY.replace("\n", "\r\n")
    out = edit(crlf, ("metadata", "name"), "api")
    assert out == crlf.replace("name: web ", "name: api ")


def test_preserves_missing_trailing_newline() -> None:
    text = "kind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b"
    assert edit(text, ("data", "a"), "c") == text[:-1] + "c"


def test_preserves_document_markers_and_other_documents_byte_for_byte() -> None:
    text = "---\nkind: A\nmetadata: {name: a}\n--- # second\nkind: B\nmetadata:\n  name: b\nspec:\n  x: 1\n...\n"
    f = YamlFile.parse(text, "t.yaml")
    assert f.render() == text
    doc = f.find("B", "b")[0]
    f.set(doc, ("spec", "x"), 2)
    assert changed_lines(text, f.render()) == ["-  x: 1\n", "+  x: 2\n"]


def test_preserves_indentation_when_inserting_a_missing_key() -> None:
    text = "kind: Deployment\nmetadata:\n    name: w\nspec:\n    template:\n        spec:\n            containers:\n                -   name: app\n                    image: x\n"
    out = edit(
        text, ("spec", "template", "spec", "containers", {"name": "app"}, "resources", "limits", "memory"), "1Gi"
    )
    assert out.endswith(
        "                    image: x\n                    resources:\n                        limits:\n                            memory: 1Gi\n"
    )


def test_fills_an_empty_flow_mapping_keeping_its_comment() -> None:
    text = "image:\n  tag: '1'\nresources: {}  # set per env\nother: 1\n"
    out = edit(text, ("resources", "limits", "memory"), "512Mi")
    assert out == "image:\n  tag: '1'\nresources:  # set per env\n  limits:\n    memory: 512Mi\nother: 1\n"


def test_quotes_a_value_that_would_change_type() -> None:
    text = "data:\n  a: x\n"
    assert edit(text, ("data", "a"), "0123") == "data:\n  a: '0123'\n"
    assert edit(text, ("data", "a"), "true") == "data:\n  a: 'true'\n"


def test_appends_to_a_sequence_in_the_files_style() -> None:
    text = "kind: Kustomization\nresources:\n  - a.yaml  # app\n  - b.yaml\nnamespace: x\n"
    f = YamlFile.parse(text, "k.yaml")
    f.append_item(0, ("resources",), "svc.yaml")
    assert f.render() == "kind: Kustomization\nresources:\n  - a.yaml  # app\n  - b.yaml\n  - svc.yaml\nnamespace: x\n"


def test_byte_identical_when_nothing_changes() -> None:
    f = YamlFile.parse(DEPLOY, "t.yaml")
    f.set(0, ("metadata", "name"), "web")
    assert f.render() == DEPLOY


# --- bad input: refused with the file named, text untouched -------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: A\nmetadata:\n  name: {{ .Values.name }}\n", "Helm template"),
        ("a: 1\na: 2\n", "duplicate key"),
        ("a: [1, 2\n", "invalid YAML"),
        ("a:\n\tb: 1\n", "invalid YAML"),
    ],
)
def test_unparseable_files_are_refused_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(EditError, match=message) as e:
        YamlFile.parse(text, "apps/bad.yaml")
    assert "apps/bad.yaml" in str(e.value)


def test_anchors_and_aliases_are_not_edited() -> None:
    text = "x: &m\n  memory: 1Gi\nkind: A\nmetadata: {name: a}\nlimits: *m\n"
    f = YamlFile.parse(text, "a.yaml")
    with pytest.raises(EditError, match="anchors"):
        f.set(0, ("x", "memory"), "2Gi")
    assert f.render() == text


def test_block_scalars_are_not_edited_in_place() -> None:
    f = YamlFile.parse("data:\n  conf: |\n    a\n", "c.yaml")
    with pytest.raises(EditError, match="block scalar"):
        f.set(0, ("data", "conf"), "b")


def test_files_over_5_mib_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (5 * 1024 * 1024) + "\n")
    with pytest.raises(EditError, match="5 MiB"):
        YamlFile.read(big, "big.yaml")


# --- the corpus: 60+ files in the styles of real repositories ---------------------------


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_round_trip_is_byte_identical(path: Path) -> None:
    text = path.read_bytes().decode()
    assert YamlFile.parse(text, path.name).render() == text


def _leaves(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out: list[tuple[tuple[Any, ...], Any]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _leaves(v, (*prefix, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _leaves(v, (*prefix, i))
    else:
        out.append((prefix, node))
    return out


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_one_edit_changes_exactly_one_line(path: Path) -> None:
    text = path.read_bytes().decode()
    f0 = YamlFile.parse(text, path.name)
    edited = 0
    for d, doc in enumerate(f0.docs):
        if doc.data is None or doc.has_aliases:
            continue
        for leaf_path, value in _leaves(plain(doc.data)):
            if not leaf_path or isinstance(value, bool) or value is None:
                continue
            f = YamlFile.parse(text, path.name)
            new: Any = value + 1 if isinstance(value, int) else f"{value}-x"
            try:
                f.set(d, leaf_path, new)
            except EditError as e:
                assert "block scalar" in str(e) or "multi-line" in str(e), e
                continue
            out = f.render()
            diff = changed_lines(text, out)
            assert len(diff) == 2, (leaf_path, diff)
            assert plain(f.docs[d].data) != plain(doc.data)
            edited += 1
    assert edited > 0 or any(doc.has_aliases for doc in f0.docs)


def test_quantities_in_every_notation() -> None:
    assert to_bytes("512Mi") == 512 * 2**20
    assert to_bytes("1G") == 10**9
    assert to_bytes("1.5Gi") == 3 * 2**29
    assert to_bytes("536870912") == 536870912
    assert to_bytes("1e9") == 10**9
    assert to_bytes("100M") == 10**8
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity("lots")


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        ("100Mi", "192Mi"),
        ("512Mi", "768Mi"),
        ("1Gi", "1536Mi"),
        ("1G", "1536M"),
        ("1.5Gi", "2304Mi"),
        ("536870912", "805306368"),
        ("1e9", "1.536e9"),
    ],
)
def test_memory_raise_keeps_the_notation(old: str, expected: str) -> None:
    q = parse_quantity(old)
    assert format_like(round_up(q.value * parse_quantity("1.5").value, memory_step(q, "64Mi")), q) == expected
