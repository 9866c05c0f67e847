"""The layering contracts really bite: lint-imports on a copy of the package with one forbidden
import added must fail, naming the contract; the untouched copy passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _copy(tmp: Path) -> Path:
    dst = tmp / "tree"
    shutil.copytree(ROOT / "remediator", dst / "remediator", ignore=shutil.ignore_patterns("__pycache__", "examples"))
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    return dst


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _add_import(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest, encoding="utf-8")


def test_the_untouched_package_keeps_every_contract(tmp_path: Path) -> None:
    res = _lint(_copy(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("remediator.detectors.oom", "import httpx  # noqa", "httpx only in"),
        ("remediator.detectors.oom", "import github  # noqa", "github (PyGithub) only in"),
        ("remediator.detectors.oom", "import git  # noqa", "git (GitPython) only in"),
        ("remediator.detectors.oom", "import openai  # noqa", "openai only in"),
        ("remediator.detectors.oom", "import kubernetes  # noqa", "kubernetes only in"),
        ("remediator.detectors.oom", "import subprocess  # noqa", "subprocess only in"),
        ("remediator.remedies.memory_limit", "import remediator.publish.github  # noqa", "One-way pipeline"),
        ("remediator.detectors.oom", "import remediator.edits.index  # noqa", "One-way pipeline"),
        ("remediator.evidence.store", "import remediator.diagnose  # noqa", "One-way pipeline"),
        ("remediator.publish.propose", "import remediator.review.run  # noqa", "One-way pipeline"),
        ("remediator.scan", "import remediator.views.scan  # noqa", "One-way pipeline"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    tree = _copy(tmp_path)
    _add_import(tree, module, line)
    res = _lint(tree)
    assert res.returncode != 0, f"{module}: `{line}` kept every contract"
    broken = res.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, res.stdout[-2000:]
