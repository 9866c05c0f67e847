"""Bad input: a clear one-line message naming the file or call, the rest still diagnosed, no traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remediator.cli import app
from remediator.diagnose import diagnose
from remediator.errors import InputError
from remediator.evidence.sources.snapshot import LOG_TAIL_BYTES, load_snapshot
from tests.conftest import SCENARIOS

runner = CliRunner()


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    dst = tmp_path / "snap"
    shutil.copytree(SCENARIOS / "missing-secret-env" / "cluster", dst)
    return dst


def top(path: Path) -> str:
    d = diagnose(load_snapshot(path))
    assert d.top is not None
    return d.top.category.value


def test_malformed_yaml_and_json(snap: Path) -> None:
    (snap / "bad.yaml").write_text("kind: Pod\nmetadata: {name: x\n  - broken")
    (snap / "bad.json").write_text('{"kind": "Pod", ')
    ev = load_snapshot(snap)
    assert any(e.startswith("bad.yaml: line") and "malformed YAML" in e for e in ev.errors)
    assert any(e.startswith("bad.json: line") and "malformed JSON" in e for e in ev.errors)
    assert top(snap) == "missing-secret"


def test_objects_without_kind_or_metadata_and_unknown_kinds(snap: Path) -> None:
    (snap / "odd.yaml").write_text(
        "metadata: {name: a}\n---\nkind: Pod\n---\nkind: FancyThing\napiVersion: x.io/v1\nmetadata: {name: f}\n---\n- 1\n"
    )
    ev = load_snapshot(snap)
    assert "odd.yaml: object without kind; skipped" in ev.errors
    assert "odd.yaml: Pod without metadata.name; skipped" in ev.errors
    assert any("not an object" in e for e in ev.errors)
    assert ev.get("FancyThing", "", "f") is not None
    assert top(snap) == "missing-secret"


def test_typed_list_items_take_kind_from_list(tmp_path: Path) -> None:
    (tmp_path / "pods.yaml").write_text(
        "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p, namespace: n}\n  status: {phase: Running}\n"
    )
    ev = load_snapshot(tmp_path)
    pod = ev.get("Pod", "n", "p")
    assert pod is not None and pod["apiVersion"] == "v1"


def test_binary_and_huge_logs(snap: Path) -> None:
    logdir = snap / "logs" / "billing" / "x"
    logdir.mkdir(parents=True)
    (logdir / "bin.log").write_bytes(b"\0\1\2\0" * 1000)
    (logdir / "huge.log").write_bytes(b"filler line\n" * (LOG_TAIL_BYTES // 6) + b"the last line\n")
    ev = load_snapshot(snap)
    assert any("bin.log: binary content; skipped" in e for e in ev.errors)
    assert any("huge.log: read only the last 256 KiB" in e for e in ev.errors)
    huge = next(lg for lg in ev.all_logs() if lg.container == "huge")
    assert huge.lines[-1] == "the last line"
    assert sum(len(x) + 1 for x in huge.lines) <= LOG_TAIL_BYTES


def test_empty_and_missing_snapshot(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="snapshot is empty"):
        load_snapshot(tmp_path)
    r = runner.invoke(app, ["diagnose", "--snapshot", str(tmp_path / "nope")])
    assert r.exit_code == 3
    assert r.output.strip().endswith("snapshot folder does not exist")
    assert "Traceback" not in r.output


def test_unknown_app_name() -> None:
    r = runner.invoke(
        app, ["diagnose", "--snapshot", str(SCENARIOS / "missing-secret-env" / "cluster"), "--app", "ghost"]
    )
    assert r.exit_code == 3
    assert "application 'ghost' not found (applications in the evidence: billing)" in r.output


def test_no_source_is_a_usage_error() -> None:
    r = runner.invoke(app, ["diagnose"])
    assert r.exit_code == 2 and "give --app NAME" in r.output


def test_a_failing_detector_is_recorded_and_others_run(snap: Path) -> None:
    from remediator.detectors import REGISTRY
    from remediator.detectors.base import Detector
    from remediator.model import Category

    def boom(_ev: object) -> list:  # type: ignore[type-arg]
        raise ValueError("bad data")

    d = diagnose(load_snapshot(snap), detectors=(Detector("boom", (Category.UNKNOWN,), boom), *REGISTRY))
    assert "[boom] error: ValueError: bad data" in d.errors
    assert d.top is not None and d.top.category.value == "missing-secret"
