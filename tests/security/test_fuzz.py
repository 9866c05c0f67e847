"""Mutation fuzz over every scenario: one hostile value in one field of one file (the cluster's
objects and events, or the app's repository), then ``diagnose`` and ``fix --dry-run`` through the
CLI. Never a traceback, never exit 1 (internal error); an error is one line.

Derandomized (the same examples on every run). ``REMEDIATOR_FUZZ_EXAMPLES=2000`` searches longer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from remediator.cli import app
from remediator.eval import find_scenarios, load_truth
from remediator.yamlload import load_all
from tests.conftest import EXAMPLES, SCENARIOS

runner = CliRunner()
SCENARIO_DIRS = find_scenarios([SCENARIOS, EXAMPLES])
EXAMPLES_N = int(os.environ.get("REMEDIATOR_FUZZ_EXAMPLES", "60"))


def _nested(depth: int, leaf: Any = "x") -> Any:
    node: Any = leaf
    for i in range(depth):
        node = [node] if i % 2 else {"k": node}
    return node


HOSTILE = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            1e99,
            -1e99,
            10**30,
            float("inf"),
            float("nan"),
            "",
            " ",
            "x",
            "-1",
            "1e99",
            "0x10",
            "99999999999999999999Gi",
            "not a quantity",
            [],
            {},
            [None],
            [1, "a", {}],
            {"a": 1},
            {"name": []},
            "ünïcødé \u202e\u200b ✓ 名前",
            "line one\nline two\n\n---\nkind: Pod\n",
            "x" * 3000,
            "\t\r\n",
            "{{ .Values.x }}",
            "../../../../etc/passwd",
            "https://evil.example/x",
            "a,b=c,=,",
            "(a+)+$",
        ]
    ),
    st.integers(min_value=5, max_value=230).map(_nested),
    st.text(max_size=40),
    st.integers(),
    st.floats(),
)


def _files(sc: Path) -> list[Path]:
    out = []
    for sub in ("cluster", "repo"):
        for p in sorted((sc / sub).rglob("*")):
            rel = p.relative_to(sc).parts
            if (
                p.is_file()
                and p.suffix in (".yaml", ".yml", ".json")
                and "logs" not in rel
                and "probes" not in rel
                and "{{" not in p.read_text(encoding="utf-8")  # Helm templates are not YAML
            ):
                out.append(p)
    return out


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of the document (containers and leaves), the root excluded."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out += _paths(v, (*prefix, k))
    return out


def _write(path: Path, docs: list[Any]) -> None:
    if path.suffix == ".json":
        path.write_text(json.dumps(docs[0]), encoding="utf-8")
        return
    try:
        text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
    except (RecursionError, yaml.YAMLError):
        text = "\n---\n".join(json.dumps(d) for d in docs)  # JSON is YAML, and dumps deep values
    path.write_text(text, encoding="utf-8")


def _check(args: list[str], what: str) -> None:
    r = runner.invoke(app, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), (
        f"{what}: {' '.join(args)} raised {type(r.exception).__name__}: {r.exception}"
    )
    assert r.exit_code != 1, f"{what}: internal error: {r.stderr}"
    assert "Traceback" not in r.output
    if r.exit_code != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("remediator: error: "), f"{what}: {r.stderr!r}"


def mutate_and_run(data: st.DataObject) -> None:
    sc = data.draw(st.sampled_from(SCENARIO_DIRS), label="scenario")
    with tempfile.TemporaryDirectory(prefix="remediator-fuzz-") as tmp:
        work = Path(tmp) / sc.name
        shutil.copytree(sc, work, symlinks=True)
        files = _files(work)
        target = data.draw(st.sampled_from(files), label="file")
        docs = load_all(target.read_text(encoding="utf-8"), target.name)
        i = data.draw(st.integers(0, len(docs) - 1), label="document")
        paths = _paths(docs[i])
        value = data.draw(HOSTILE, label="value")
        if not paths or data.draw(st.integers(0, 9), label="whole document?") == 0:
            docs[i] = value
            where: tuple[Any, ...] = ()
        else:
            where = data.draw(st.sampled_from(paths), label="path")
            node = docs[i]
            for k in where[:-1]:
                node = node[k]
            if data.draw(st.integers(0, 7), label="delete?") == 0 and isinstance(node, dict):
                del node[where[-1]]
            else:
                node[where[-1]] = value
        _write(target, docs)
        what = f"{sc.name}: {target.relative_to(work)} doc {i} {list(where)} = {value!r:.80}"
        truth = load_truth(sc)
        base = ["--snapshot", str(work / "cluster")]
        if truth.get("app"):
            base += ["--app", str(truth["app"])]
        repo = ["--repo", str(work / "repo")] if (work / "repo").is_dir() else []
        _check(["diagnose", *base, *repo], what)
        if repo:
            policy = ["--policy", str(work / "policy.yaml")] if (work / "policy.yaml").is_file() else []
            _check(["fix", "--dry-run", *base, *repo, *policy], what)


@settings(
    max_examples=EXAMPLES_N,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_one_hostile_value_never_crashes_diagnose_or_fix(data: st.DataObject) -> None:
    mutate_and_run(data)
