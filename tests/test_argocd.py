"""Evidence through the Argo CD API: our httpx client against a FAKE Argo CD API server on 127.0.0.1
answering the real /api/v1 paths from a snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.diagnose import diagnose
from remediator.errors import ForbiddenError, InputError, NotFoundError
from remediator.evidence.scope import apply_scope
from remediator.evidence.sources.argocd import ArgoCDSource
from remediator.evidence.sources.argocd_api import ArgoCDClient
from remediator.evidence.sources.snapshot import load_snapshot
from tests.fakes.argocd_api import FakeArgoCD

from .conftest import EXAMPLES

runner = CliRunner()


@pytest.mark.parametrize(
    ("example", "app"),
    [("vault-secrets", "tmcp-marketing"), ("fluentd-rbac", "tmcp-gitops"), ("ollama-model", "tmcp-aiops")],
)
def test_diagnosis_through_argocd_matches_the_snapshot(example: str, app: str) -> None:
    snap = EXAMPLES / "tmcp-marketing" / example / "cluster"
    with FakeArgoCD(snap, app) as api:
        client = ArgoCDClient(api.url, token=api.token)
        ev = ArgoCDSource(client).load(app)
        client.close()
    assert not api.unexpected
    assert (
        any("/logs?" in r and "previous=true" in r for r in api.requests) or example != "fluentd-rbac"
    )  # previous logs only of restarted containers
    got = diagnose(ev, app)
    offline = load_snapshot(snap)
    apply_scope(offline, app)
    want = diagnose(offline, app)
    assert got.top is not None and want.top is not None
    assert (got.top.category, got.top.culprit) == (want.top.category, want.top.culprit)


def test_session_login_with_username_and_password() -> None:
    with FakeArgoCD(EXAMPLES / "tmcp-marketing" / "fluentd-rbac" / "cluster", "tmcp-gitops") as api:
        client = ArgoCDClient(api.url, username="admin", password="pw")
        assert client.application("tmcp-gitops")["metadata"]["name"] == "tmcp-gitops"
        with pytest.raises(ForbiddenError) as e:
            ArgoCDClient(api.url, username="admin", password="wrong-password-xyz")
        assert "wrong-password-xyz" not in str(e.value)


def test_errors_are_one_line_and_carry_no_token() -> None:
    with FakeArgoCD(EXAMPLES / "tmcp-marketing" / "fluentd-rbac" / "cluster", "tmcp-gitops") as api:
        bad = ArgoCDClient(api.url, token="not-the-token-42")
        with pytest.raises(ForbiddenError) as e:
            bad.application("tmcp-gitops")
        assert "401" in str(e.value) and "not-the-token-42" not in str(e.value) and "\n" not in str(e.value)
        good = ArgoCDClient(api.url, token=api.token)
        with pytest.raises(NotFoundError):
            good.application("nope")
    with pytest.raises(InputError):
        ArgoCDClient("ftp://argocd")
    with pytest.raises(InputError, match="ARGOCD_TOKEN"):
        ArgoCDClient("http://127.0.0.1:9")


def test_cli_diagnose_and_fix_through_argocd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sc = EXAMPLES / "tmcp-marketing" / "fluentd-rbac"
    with FakeArgoCD(sc / "cluster", "tmcp-gitops") as api:
        monkeypatch.setenv("ARGOCD_TOKEN", api.token)
        r = runner.invoke(cli, ["diagnose", "--app", "tmcp-gitops", "--argocd-url", api.url, "--no-probe-models"])
        assert r.exit_code == 0, r.output
        assert "[rbac-forbidden] ClusterRoleBinding fluentd" in r.output
        r = runner.invoke(
            cli,
            [
                "fix",
                "--app",
                "tmcp-gitops",
                "--argocd-url",
                api.url,
                "--repo",
                str(sc / "repo"),
                "--dry-run",
                "--no-probe-models",
            ],
        )
        assert r.exit_code == 0 and "+    namespace: argocd" in r.output
        monkeypatch.setenv("ARGOCD_TOKEN", "wrong")
        r = runner.invoke(cli, ["diagnose", "--app", "tmcp-gitops", "--argocd-url", api.url])
        assert r.exit_code == 4 and "401" in r.output
