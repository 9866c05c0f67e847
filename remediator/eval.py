"""``remediator eval``: score the bot on scenario folders (contract: ../shared/spec/scenarios.md)."""

from __future__ import annotations

import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from remediator.diagnose import Diagnosis, diagnose
from remediator.edits.index import SourceIndex
from remediator.edits.locate import within
from remediator.edits.plan import FixResult, apply_edits, plan_fix
from remediator.errors import InputError, RemediatorError, truncate
from remediator.evidence.sources.snapshot import SnapshotSource
from remediator.evidence.store import Evidence
from remediator.model import ObjectRef
from remediator.policy import load_policy
from remediator.quantity import parse_quantity
from remediator.yamlload import load_all, load_one


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


def load_truth(path: Path) -> dict[str, Any]:
    if (path / "truth.yaml").is_file():
        text = (path / "truth.yaml").read_text(encoding="utf-8", errors="replace")
        loaded = load_one(text, f"{path.name}/truth.yaml", as_json=False)
        return loaded if isinstance(loaded, dict) else {}
    return {}


def load_scenario(path: Path) -> tuple[Evidence, dict[str, Any]]:
    truth = load_truth(path)
    app = truth.get("app")
    ev = SnapshotSource(path / "cluster").load(str(app) if app else None)
    if (path / "repo").is_dir():
        ev.desired = SourceIndex(path / "repo").desired(ev.app, ev.errors)
    return ev, truth


def run_scenario(path: Path) -> tuple[Diagnosis, dict[str, Any]]:
    ev, truth = load_scenario(path)
    app = truth.get("app")
    return diagnose(ev, str(app) if app else None), truth


def fix_scenario(path: Path, ev: Evidence, d: Diagnosis) -> FixResult | None:
    if not (path / "repo").is_dir():
        return None
    policy = load_policy(path / "policy.yaml" if (path / "policy.yaml").is_file() else None)
    return plan_fix(d, ev, path / "repo", policy)


def _get(data: Any, dotted: str) -> tuple[bool, Any]:
    """Follow ``a.b[0].c``; a mapping key that itself contains dots (``app.kubernetes.io/name``)
    is matched by joining the following segments."""
    node = data
    parts = [p for p in dotted.replace("]", "").replace("[", ".").split(".") if p != ""]
    if isinstance(data, dict) and "" in data and len(data) == 1:
        node = data[""]  # a document that is not a mapping (a JSON 6902 patch list)
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
            i += 1
            continue
        if isinstance(node, dict):
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                if key in node:
                    node = node[key]
                    i = j
                    break
            else:
                return False, None
            continue
        return False, None
    return True, node


def _num(v: Any) -> Decimal:
    return parse_quantity(str(v)).value


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, dict | list) or isinstance(y, dict | list):
        return bool(x == y)
    return bool(x == y) or str(x) == str(y)


def _contains(value: Any, wanted: Any) -> bool:
    """``contains: X``: a list holds X, or a string contains X."""
    if isinstance(value, list):
        return any(_same(item, wanted) for item in value)
    if isinstance(value, str):
        return str(wanted) in value
    return False


def fix_assertions(truth: dict[str, Any]) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """The truth's ``fix.expect`` and ``fix.any_of`` lists; InputError when they are malformed."""
    fix = truth.get("fix") or {}
    if not isinstance(fix, dict):
        raise InputError("truth.yaml: fix must be a mapping")
    expect = fix.get("expect") or []
    if not isinstance(expect, list) or not all(isinstance(a, dict) for a in expect):
        raise InputError("truth.yaml: fix.expect must be a list of assertions (mappings)")
    any_of = fix.get("any_of")
    if any_of is None:
        return expect, []
    if not isinstance(any_of, list) or not any_of:
        raise InputError("truth.yaml: fix.any_of must be a non-empty list of lists of assertions")
    alternatives: list[list[dict[str, Any]]] = []
    for i, alt in enumerate(any_of):
        if not isinstance(alt, list) or not alt or not all(isinstance(a, dict) for a in alt):
            raise InputError(f"truth.yaml: fix.any_of[{i}] must be a non-empty list of assertions (mappings)")
        alternatives.append(alt)
    return expect, alternatives


def assertion_holds(repo: Path, a: dict[str, Any]) -> bool:
    path = repo / str(a.get("file") or "")
    if not path.is_file():
        return a.get("exists") is False
    sel: dict[str, Any] = a["select"] if isinstance(a.get("select"), dict) else {}
    text = path.read_text(encoding="utf-8", errors="replace")
    docs = [d for d in load_all(text, str(a.get("file")), as_json=False) if d is not None]
    for d in docs:
        if not isinstance(d, dict):
            if sel:
                continue
            d = {"": d}
            a = {**a, "path": "." + str(a.get("path") or "")}
        meta = d.get("metadata") or {}
        if sel.get("kind") and d.get("kind") != sel["kind"]:
            continue
        if sel.get("name") and meta.get("name") != sel["name"]:
            continue
        if sel.get("namespace") and meta.get("namespace") != sel["namespace"]:
            continue
        found, value = _get(d, str(a.get("path") or ""))
        try:
            if "exists" in a:
                return found == bool(a["exists"])
            if not found:
                return False
            if "equals" in a:
                return (
                    str(value) == str(a["equals"])
                    if not isinstance(a["equals"], (int, float))
                    else value == a["equals"]
                )
            if "in" in a:
                return value in (a["in"] or []) or str(value) in [str(x) for x in a["in"] or []]
            if "contains" in a:
                return _contains(value, a["contains"])
            if "min" in a and _num(value) < _num(a["min"]):
                return False
            if "max" in a and _num(value) > _num(a["max"]):
                return False
            return "min" in a or "max" in a
        except ValueError:
            return False
    return a.get("exists") is False


def score_fix(path: Path, truth: dict[str, Any], res: FixResult | None, ev: Evidence) -> bool:
    fix = truth.get("fix") or {}
    kind = str((fix if isinstance(fix, dict) else {}).get("kind") or "none")
    edits = res.edits if res is not None else []
    if kind != "manifest-edit":
        return not edits
    expect, alternatives = fix_assertions(truth)
    if res is None or not edits:
        return False
    # the spec's scope: every source path, the $values files, the file declaring the Application
    roots = [r for s in SourceIndex(path / "repo").app_sources(ev.app) for r in s.scope]
    if any(not any(within(r, e.file) for r in roots) for e in edits):
        return False
    with tempfile.TemporaryDirectory(prefix="remediator-eval-") as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(path / "repo", repo, symlinks=True)
        apply_edits(repo, edits)
        if not all(assertion_holds(repo, a) for a in expect):
            return False
        return not alternatives or any(all(assertion_holds(repo, a) for a in alt) for alt in alternatives)


def evaluate(dirs: list[Path]) -> EvalReport:
    cases = []
    for path in find_scenarios(dirs):
        start = time.perf_counter()
        category = error = None
        cat_ok = cul_ok = False
        fix_ok: bool | None = None
        try:
            ev, truth = load_scenario(path)
            d = diagnose(ev, str(truth["app"]) if truth.get("app") else None)
            top = d.top
            if top is not None:
                category = top.category.value
                cat_ok = category in [str(c) for c in _as_list(truth.get("category"))]
                cul_ok = culprit_matches(truth.get("culprit"), top.culprit)
            fix_ok = False
            fix_ok = score_fix(path, truth, fix_scenario(path, ev, d), ev)
        except (RemediatorError, OSError) as e:
            error = truncate(str(e))
        except Exception as e:
            error = truncate(f"internal error: {type(e).__name__}: {e}")
        cases.append(
            CaseResult(
                id=path.name,
                category=category,
                category_ok=cat_ok,
                culprit_ok=cul_ok,
                fix_ok=fix_ok,
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
    lines = [f"{'case':40} {'category':22} cat  culprit  fix  seconds"]
    for c in r.cases:
        lines.append(
            f"{c.id:40} {c.category or '-':22} {'ok' if c.category_ok else 'NO':4} {'ok' if c.culprit_ok else 'NO':8} "
            f"{'ok' if c.fix_ok else 'NO':4} {c.seconds:.3f}" + (f"  error: {c.error}" if c.error else "")
        )
    t = r.totals
    lines.append(
        f"\n{t.cases} cases: category {t.category_ok}/{t.cases}, culprit {t.culprit_ok}/{t.cases}, fix {t.fix_ok}/{t.cases}"
    )
    return "\n".join(lines) + "\n"
