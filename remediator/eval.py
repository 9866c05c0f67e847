"""``remediator eval``: score the bot on scenario folders (contract: ../shared/spec/scenarios.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from remediator.diagnose import Diagnosis, diagnose
from remediator.errors import RemediatorError, truncate
from remediator.evidence.gitsource import load_desired
from remediator.evidence.snapshot import SnapshotSource
from remediator.model import ObjectRef


class CaseResult(BaseModel):
    id: str
    category: str | None
    category_ok: bool
    culprit_ok: bool
    fix_ok: bool | None
    seconds: float
    error: str | None


class Totals(BaseModel):
    cases: int
    category_ok: int
    culprit_ok: int
    fix_ok: int


class EvalReport(BaseModel):
    cases: list[CaseResult]
    totals: Totals


def find_scenarios(dirs: list[Path]) -> list[Path]:
    """Each DIR is a scenario (it has truth.yaml or cluster/) or a folder of scenarios."""
    out: list[Path] = []
    for d in dirs:
        if (d / "truth.yaml").is_file() or (d / "cluster").is_dir():
            out.append(d)
        elif d.is_dir():
            out += find_scenarios(sorted(p for p in d.iterdir() if p.is_dir()))
    return out


def _as_list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x] if x is not None else []


def culprit_matches(truth: Any, got: ObjectRef) -> bool:
    for c in _as_list(truth):
        if not isinstance(c, dict):
            continue
        if (
            str(c.get("kind", "")).lower() == got.kind.lower()
            and str(c.get("name", "")) == got.name
            and str(c.get("namespace") or "") == got.namespace
        ):
            return True
    return False


def run_scenario(path: Path) -> tuple[Diagnosis, dict[str, Any]]:
    truth: dict[str, Any] = {}
    if (path / "truth.yaml").is_file():
        loaded = yaml.safe_load((path / "truth.yaml").read_text(encoding="utf-8"))
        truth = loaded if isinstance(loaded, dict) else {}
    app = truth.get("app")
    ev = SnapshotSource(path / "cluster").load(str(app) if app else None)
    if (path / "repo").is_dir():
        ev.desired = load_desired(path / "repo", ev.app, ev.errors)
    return diagnose(ev, str(app) if app else None), truth


def evaluate(dirs: list[Path]) -> EvalReport:
    cases = []
    for path in find_scenarios(dirs):
        start = time.perf_counter()
        category = error = None
        cat_ok = cul_ok = False
        try:
            d, truth = run_scenario(path)
            top = d.top
            if top is not None:
                category = top.category.value
                cat_ok = category in [str(c) for c in _as_list(truth.get("category"))]
                cul_ok = culprit_matches(truth.get("culprit"), top.culprit)
        except (RemediatorError, OSError, yaml.YAMLError) as e:
            error = truncate(str(e))
        except Exception as e:
            error = truncate(f"internal error: {type(e).__name__}: {e}")
        cases.append(
            CaseResult(
                id=path.name,
                category=category,
                category_ok=cat_ok,
                culprit_ok=cul_ok,
                fix_ok=None,
                seconds=round(time.perf_counter() - start, 3),
                error=error,
            )
        )
    totals = Totals(
        cases=len(cases),
        category_ok=sum(c.category_ok for c in cases),
        culprit_ok=sum(c.culprit_ok for c in cases),
        fix_ok=sum(bool(c.fix_ok) for c in cases),
    )
    return EvalReport(cases=cases, totals=totals)


def to_text(r: EvalReport) -> str:
    lines = [f"{'case':40} {'category':22} cat  culprit  seconds"]
    for c in r.cases:
        lines.append(
            f"{c.id:40} {c.category or '-':22} {'ok' if c.category_ok else 'NO':4} {'ok' if c.culprit_ok else 'NO':8} "
            f"{c.seconds:.3f}" + (f"  error: {c.error}" if c.error else "")
        )
    t = r.totals
    lines.append(f"\n{t.cases} cases: category {t.category_ok}/{t.cases}, culprit {t.culprit_ok}/{t.cases}")
    return "\n".join(lines) + "\n"
