"""The CLI on the packaged example: the README's first command, every output format."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from remediator.cli import app

runner = CliRunner()


def test_example_text() -> None:
    r = runner.invoke(app, ["diagnose", "--example", "tmcp-marketing"])
    assert r.exit_code == 0, r.output
    for cat in ("external-secret-sync", "rbac-forbidden", "dns-resolution", "model-not-found"):
        assert f"[{cat}]" in r.output


def test_example_list() -> None:
    r = runner.invoke(app, ["diagnose", "--example", "list"])
    assert "tmcp-marketing/vault-secrets" in r.output


def test_json_contract() -> None:
    r = runner.invoke(app, ["diagnose", "--example", "tmcp-marketing/vault-secrets", "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    f = out["findings"][0]
    assert out["app"] == "tmcp-marketing"
    assert {"category", "culprit", "summary", "confidence", "chain", "evidence"} <= set(f)
    assert f["culprit"] == {"kind": "ExternalSecret", "namespace": "tmcp-marketing", "name": "bridge-secrets"}
    assert f["chain"][-1].startswith("Vault is sealed") or "403" in f["chain"][-1]
    assert all({"source", "text"} == set(e) for e in f["evidence"])
    assert f["folded"] and f["folded"][0]["category"] == "missing-secret"


def test_markdown_report_sections() -> None:
    r = runner.invoke(app, ["diagnose", "--example", "tmcp-marketing/fluentd-rbac", "--format", "markdown"])
    assert r.exit_code == 0, r.output
    for section in ("## Overview", "## Primary resource", "## Related resources", "## Root cause", "## Next steps"):
        assert section in r.output
    assert "kubectl auth can-i --as=system:serviceaccount:argocd:fluentd list" in r.output


def test_unknown_example() -> None:
    r = runner.invoke(app, ["diagnose", "--example", "nope"])
    assert r.exit_code == 3 and "no example 'nope'" in r.output
