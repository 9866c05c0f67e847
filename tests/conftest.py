from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "remediator" / "examples"
SCENARIOS = ROOT / "tests" / "scenarios"


@pytest.fixture
def vault_example() -> Path:
    return EXAMPLES / "tmcp-marketing" / "vault-secrets"
