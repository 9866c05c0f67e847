"""Scoring contract of ``remediator eval`` (../shared/spec/scenarios.md): ``fix.any_of``, ``contains``,
category and culprit lists."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediator.eval import assertion_holds, evaluate
from tests.conftest import SCENARIOS

BASE = SCENARIOS / "probe-timing-plain"
FILE = "billing/invoice-api.yaml"
SELECT = {"kind": "Deployment", "name": "invoice-api"}
DELAY = "spec.template.spec.containers[0].livenessProbe.initialDelaySeconds"


def _scenario(tmp_path: Path, **truth_changes: Any) -> Path:
    sc = tmp_path / "case"
    shutil.copytree(BASE, sc)
    truth = yaml.safe_load((sc / "truth.yaml").read_text())
    for k, v in truth_changes.items():
        if k == "fix_extra":
            truth["fix"].update(v)
        else:
            truth[k] = v
    (sc / "truth.yaml").write_text(yaml.safe_dump(truth, sort_keys=False))
    return sc


def _a(path: str, **check: Any) -> dict[str, Any]:
    return {"file": FILE, "select": SELECT, "path": path, **check}


def test_any_of_second_alternative_holds(tmp_path: Path) -> None:
    sc = _scenario(
        tmp_path,
        fix_extra={"any_of": [[_a(DELAY, equals=5)], [_a(DELAY, min=30), _a("spec.replicas", equals=1)]]},
    )
    case = evaluate([sc]).cases[0]
    assert case.error is None and case.fix_ok is True


def test_any_of_none_holds(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, fix_extra={"any_of": [[_a(DELAY, equals=5)], [_a(DELAY, max=10)]]})
    case = evaluate([sc]).cases[0]
    assert case.error is None and case.fix_ok is False and case.category_ok


def test_any_of_is_in_addition_to_expect(tmp_path: Path) -> None:
    sc = _scenario(
        tmp_path,
        fix_extra={"expect": [_a(DELAY, equals=1)], "any_of": [[_a(DELAY, min=30)]]},
    )
    assert evaluate([sc]).cases[0].fix_ok is False


@pytest.mark.parametrize(
    "any_of",
    ["not a list", [], [{"file": FILE}], [[]], [["a string"]]],
    ids=["string", "empty", "mapping-not-list", "empty-alternative", "string-assertion"],
)
def test_malformed_any_of_is_the_cases_error(tmp_path: Path, any_of: Any) -> None:
    sc = _scenario(tmp_path, fix_extra={"any_of": any_of})
    case = evaluate([sc, SCENARIOS / "probe-timing-plain"]).cases
    assert case[0].error and "any_of" in case[0].error and "internal error" not in case[0].error
    assert case[0].fix_ok is False
    assert case[1].error is None and case[1].fix_ok is True  # the run goes on


def test_category_and_culprit_lists(tmp_path: Path) -> None:
    sc = _scenario(
        tmp_path,
        category=["crash-loop", "probe-failure"],
        culprit=[
            {"kind": "Pod", "namespace": "billing", "name": "x"},
            {"kind": "Deployment", "namespace": "billing", "name": "invoice-api"},
        ],
    )
    case = evaluate([sc]).cases[0]
    assert case.category_ok and case.culprit_ok
    sc2 = _scenario(tmp_path / "2", category=["crash-loop"], culprit=[{"kind": "Pod", "namespace": "b", "name": "x"}])
    case2 = evaluate([sc2]).cases[0]
    assert not case2.category_ok and not case2.culprit_ok


def test_contains_on_lists_and_strings(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(
        "kind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - name: web\n        image: httpd:2.4.62-arm64\n        command: [httpd-foreground, -X]\n"
        "        ports: [{containerPort: 8080}]\n        args: [1, 2]\n"
    )

    def holds(path: str, x: Any) -> bool:
        a = {"file": "d.yaml", "select": {"kind": "Deployment", "name": "web"}, "path": path, "contains": x}
        return assertion_holds(tmp_path, a)

    c = "spec.template.spec.containers[0]"
    assert holds(f"{c}.command", "-X")
    assert not holds(f"{c}.command", "-x")
    assert holds(f"{c}.image", "arm64")
    assert not holds(f"{c}.image", "amd64")
    assert holds(f"{c}.args", 2) and holds(f"{c}.args", "2")
    assert holds(f"{c}.ports", {"containerPort": 8080})
    assert not holds(f"{c}.ports", 8080)
    assert not holds(f"{c}.missing", "x")
    assert not holds(f"{c}.ports[0].containerPort", 80)  # a number is neither a list nor a string
