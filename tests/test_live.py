"""The live path: the real kubernetes client against a FAKE API server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from remediator.cli import app
from remediator.diagnose import diagnose
from remediator.errors import NotFoundError
from remediator.evidence.scope import apply_scope
from remediator.evidence.sources.live import LiveSource
from remediator.evidence.sources.snapshot import load_snapshot
from tests.fakes.kube_api import FakeKubeAPI


def source(api: FakeKubeAPI, tmp_path: Path, **kw: object) -> LiveSource:
    return LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kubeconfig"), **kw)  # type: ignore[arg-type]


def test_live_diagnosis_matches_snapshot(vault_example: Path, tmp_path: Path) -> None:
    with FakeKubeAPI(vault_example / "cluster") as api:
        ev = source(api, tmp_path, page=1).load("tmcp-marketing")
    d = diagnose(ev, "tmcp-marketing")
    assert d.top is not None
    assert (d.top.category.value, d.top.culprit.name) == ("external-secret-sync", "bridge-secrets")
    assert not api.unexpected
    # pages were followed (limit=1 and continue tokens)
    assert any("continue=" in r for r in api.requests)
    # logs were asked for with a bounded tail; previous ones only for containers that restarted
    assert any("/log?" in r and "tailLines=" in r for r in api.requests)
    offline = load_snapshot(vault_example / "cluster")
    apply_scope(offline, "tmcp-marketing")
    assert {f.culprit for f in diagnose(offline, "tmcp-marketing").findings} == {f.culprit for f in d.findings}


def test_forbidden_list_is_reported_and_rest_diagnosed(vault_example: Path, tmp_path: Path) -> None:
    with FakeKubeAPI(vault_example / "cluster", forbid=("/api/v1/namespaces/tmcp-marketing/pods",)) as api:
        ev = source(api, tmp_path).load("tmcp-marketing")
    assert any("list pods in tmcp-marketing: forbidden (403)" in e for e in ev.errors)
    d = diagnose(ev, "tmcp-marketing")
    assert d.top is not None and d.top.category.value == "external-secret-sync"


def test_timeout_is_reported(vault_example: Path, tmp_path: Path) -> None:
    with FakeKubeAPI(
        vault_example / "cluster", delay={"/apis/apps/v1/namespaces/tmcp-marketing/deployments": 2.0}
    ) as api:
        ev = source(api, tmp_path, timeout=0.5).load("tmcp-marketing")
    assert any("list deployments in tmcp-marketing: no answer" in e for e in ev.errors)


def test_unknown_app(vault_example: Path, tmp_path: Path) -> None:
    with FakeKubeAPI(vault_example / "cluster") as api, pytest.raises(NotFoundError, match="'nope' not found"):
        source(api, tmp_path).load("nope")


def test_cli_snapshot_then_diagnose(vault_example: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "snap"
    with FakeKubeAPI(vault_example / "cluster") as api:
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        r = runner.invoke(app, ["snapshot", "--app", "tmcp-marketing", "-o", str(out), "--kubeconfig", str(kc)])
        assert r.exit_code == 0, r.output
        r2 = runner.invoke(app, ["diagnose", "--app", "tmcp-marketing", "--kubeconfig", str(kc), "--format", "json"])
    assert r2.exit_code == 0, r2.output
    assert (out / "logs" / "external-secrets").exists() is False  # only the app's pods' logs are read live
    r3 = runner.invoke(app, ["diagnose", "--snapshot", str(out), "--app", "tmcp-marketing", "--format", "json"])
    assert r3.exit_code == 0, r3.output
    assert '"external-secret-sync"' in r3.output
    r4 = runner.invoke(app, ["snapshot", "--app", "tmcp-marketing", "-o", str(out), "--kubeconfig", str(kc)])
    assert r4.exit_code == 3 and "not empty" in r4.output


def test_cli_missing_kubeconfig(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["diagnose", "--app", "x", "--kubeconfig", str(tmp_path / "none")])
    assert r.exit_code == 3
    assert "kubeconfig does not exist" in r.output


def test_cli_snapshot_probes_registries_only_when_asked(vault_example: Path, tmp_path: Path) -> None:
    """`--probe-registries` asks each image's registry for its tags (here a closed loopback port, so
    the answer is an error probe) and `snapshot` keeps what was asked in probes/; without it, nothing."""
    runner = CliRunner()
    with FakeKubeAPI(vault_example / "cluster") as api:
        for (kind, _ns), items in api.objects.items():
            for o in items if kind in ("Pod", "Deployment", "ReplicaSet") else []:
                spec = o.get("spec") or {}
                for s in (spec, ((spec.get("template") or {}).get("spec") or {})):
                    for c in s.get("containers") or []:
                        c["image"] = "127.0.0.1:9/tmcp/app:1.0"
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        base = ["snapshot", "--app", "tmcp-marketing", "--kubeconfig", str(kc), "--no-probe-models"]
        r = runner.invoke(app, [*base, "-o", str(tmp_path / "with"), "--probe-registries"])
        assert r.exit_code == 0, r.output
        r2 = runner.invoke(app, [*base, "-o", str(tmp_path / "without")])
        assert r2.exit_code == 0, r2.output
    probes = "".join(p.read_text() for p in (tmp_path / "with" / "probes").glob("*.json"))
    assert "127.0.0.1:9/v2/tmcp/app/tags/list" in probes and '"error"' in probes
    assert not list((tmp_path / "without").glob("probes/*registry*")) and "tags/list" not in "".join(
        p.read_text() for p in (tmp_path / "without").rglob("probes/*.json")
    )
