"""Every scenario (tests/scenarios and the packaged example) is diagnosed right: eval must be 100 %."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remediator.cli import app
from remediator.eval import evaluate, find_scenarios
from remediator.model import Category
from tests.conftest import EXAMPLES, SCENARIOS

ALL = find_scenarios([SCENARIOS, EXAMPLES])


@pytest.mark.parametrize("scenario", ALL, ids=[p.name for p in ALL])
def test_scenario(scenario: Path) -> None:
    case = evaluate([scenario]).cases[0]
    assert case.error is None
    assert case.category_ok, case
    assert case.culprit_ok, case


def test_every_category_has_a_scenario() -> None:
    import yaml

    covered: set[str] = set()
    for sc in ALL:
        cat = yaml.safe_load((sc / "truth.yaml").read_text())["category"]
        covered.update(cat if isinstance(cat, list) else [cat])
    assert covered == {c.value for c in Category}


def test_eval_cli_json_contract() -> None:
    r = CliRunner().invoke(app, ["eval", str(SCENARIOS), str(EXAMPLES), "--format", "json", "--min", "1.0"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out) == {"cases", "totals"}
    assert set(out["totals"]) == {"cases", "category_ok", "culprit_ok", "fix_ok"}
    assert set(out["cases"][0]) == {"id", "category", "category_ok", "culprit_ok", "fix_ok", "seconds", "error"}
    assert out["totals"]["cases"] == len(ALL) == out["totals"]["category_ok"] == out["totals"]["culprit_ok"]
    assert out["totals"]["fix_ok"] == len(ALL)
    assert all(c["fix_ok"] is True for c in out["cases"])


def test_eval_reports_a_broken_scenario_and_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "broken"
    (bad / "cluster").mkdir(parents=True)
    (bad / "truth.yaml").write_text("category: oom-killed\n")
    report = evaluate([bad, SCENARIOS / "missing-secret-env"])
    assert report.cases[0].error and "snapshot is empty" in report.cases[0].error
    assert report.cases[1].category_ok
