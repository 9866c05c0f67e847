"""The detector registry and the files on disk agree; every category has a detector."""

from __future__ import annotations

from pathlib import Path

import remediator.detectors as pkg
from remediator.detectors import HELPERS, REGISTRY
from remediator.model import ROOTNESS, Category


def test_registry_matches_modules() -> None:
    files = {p.stem for p in Path(pkg.__file__).parent.glob("*.py") if p.stem != "__init__"} - HELPERS
    assert files == {d.name for d in REGISTRY}


def test_every_category_is_detected_and_ranked() -> None:
    detected = {c for d in REGISTRY for c in d.categories}
    assert detected | {Category.UNKNOWN} == set(Category)
    assert set(ROOTNESS) == set(Category)
