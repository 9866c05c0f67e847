"""``remediator doctor`` against the fake Kubernetes, Argo CD and GitHub servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.evidence.sources import live
from tests.fakes.argocd_api import FakeArgoCD
from tests.fakes.github_api import FakeGitHub
from tests.fakes.kube_api import FakeKubeAPI
from tests.test_github_app import pem_pair

runner = CliRunner()
GH_TOKEN = "ghp_doctortoken1234567890abcdefghij012345"
APP = "tmcp-marketing"
ENV = (
    "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_API_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "ARGOCD_URL",
    "ARGOCD_TOKEN", "ARGOCD_USERNAME", "ARGOCD_PASSWORD", "REMEDIATOR_WEBHOOK_SECRET", "REMEDIATOR_POLICY",
    *(f"REMEDIATOR_GITHUB_APP_{k}" for k in ("ID", "PRIVATE_KEY", "PRIVATE_KEY_FILE", "INSTALLATION_ID")),
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for k in ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config, no ~/.config policy


@dataclass
class World:
    kube: FakeKubeAPI
    argo: FakeArgoCD
    gh: FakeGitHub
    kubeconfig: Path

    def args(self, *extra: str) -> list[str]:
        return ["doctor", "--kubeconfig", str(self.kubeconfig), "--argocd-url", self.argo.url,
                "--repo", "acme/deploy", "--github-url", self.gh.url, *extra]  # fmt: skip


@pytest.fixture
def world(vault_example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with (
        FakeKubeAPI(vault_example / "cluster") as kube,
        FakeArgoCD(vault_example / "cluster", APP) as argo,
        FakeGitHub(token=GH_TOKEN) as gh,
    ):
        monkeypatch.setenv("ARGOCD_TOKEN", argo.token)
        monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
        monkeypatch.setenv("REMEDIATOR_WEBHOOK_SECRET", "s3cret")
        yield World(kube, argo, gh, kube.kubeconfig(tmp_path / "kubeconfig"))


def by_name(output: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(output)["checks"]}


def test_all_ok(world: World) -> None:
    r = runner.invoke(cli, world.args())
    assert r.exit_code == 0, r.output
    lines = {line.split()[1]: line.split()[0] for line in r.output.splitlines() if line[:4].strip() in {"OK", "FAIL", "WARN", "SKIP"}}  # fmt: skip
    for name in (
        "kubernetes",
        "kubernetes-rbac",
        "argocd-api",
        "argocd-token",
        "argocd-rbac",
        "github",
        "webhook-secret",
    ):
        assert lines[name] == "OK", r.output
    assert lines["model"] == "SKIP"
    assert r.output.splitlines()[-1].startswith("ready: ")
    # one SelfSubjectAccessReview per read of the collector, the same set the ClusterRole is derived from
    reads = live.collector_reads()
    assert {(x.group, x.resource, x.verb) for x in reads} == set(world.kube.reviews)
    assert ("", "secrets", "list") in world.kube.reviews and ("", "pods/log", "get") in world.kube.reviews
    assert any("/api/v1/account/can-i/logs/get/" in p for p in world.argo.requests)
    assert not world.kube.unexpected and not world.argo.unexpected and not world.gh.unexpected
    # nothing was written to GitHub
    assert {req.method for req in world.gh.requests} == {"GET"}


def test_json_shape(world: World) -> None:
    r = runner.invoke(cli, world.args("--format", "json"))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["ok"] is True and isinstance(doc["checks"], list)
    for c in doc["checks"]:
        assert set(c) == {"name", "status", "detail", "fix", "missing", "snippet"}
        assert c["status"] in {"ok", "fail", "warn", "skip"} and c["detail"]
    assert [c["name"] for c in doc["checks"]][:5] == [
        "kubernetes", "kubernetes-rbac", "argocd-api", "argocd-token", "argocd-rbac",
    ]  # fmt: skip
    assert by_name(r.output)["github acme/deploy"]["status"] == "ok"


def test_missing_rbac_rules_are_printed_as_a_clusterrole(world: World) -> None:
    world.kube.denied = {
        ("", "secrets", "list"),
        ("", "pods/log", "get"),
        ("discovery.k8s.io", "endpointslices", "list"),
    }
    r = runner.invoke(cli, world.args())
    assert r.exit_code == 4, r.output
    assert "FAIL  kubernetes-rbac" in r.output and "3 of" in r.output
    snippet = r.output.split("---\n")[1]
    role = yaml.safe_load(snippet)
    assert role["kind"] == "ClusterRole"
    granted = {(g, res, v) for rule in role["rules"] for g in rule["apiGroups"] for res in rule["resources"] for v in rule["verbs"]}  # fmt: skip
    assert granted == world.kube.denied
    j = runner.invoke(cli, world.args("--format", "json"))
    assert j.exit_code == 4
    doc = json.loads(j.output)
    rbac = by_name(j.output)["kubernetes-rbac"]
    assert doc["ok"] is False and rbac["status"] == "fail" and rbac["fix"]
    assert {(m["group"], m["resource"], m["verb"]) for m in rbac["missing"]} == world.kube.denied


def test_rejected_argocd_token(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOCD_TOKEN", "expired-token-xyz")
    r = runner.invoke(cli, world.args("--format", "json"))
    assert r.exit_code == 4, r.output
    checks = by_name(r.output)
    assert checks["argocd-api"]["status"] == "ok"
    assert checks["argocd-token"]["status"] == "fail" and "rejected" in checks["argocd-token"]["detail"]
    assert "argocd-rbac" not in checks and "expired-token-xyz" not in r.output


def test_argocd_account_that_cannot_read_logs(world: World) -> None:
    world.argo.denied = {"logs/get/*"}
    r = runner.invoke(cli, world.args("--format", "json"))
    assert r.exit_code == 4
    rbac = by_name(r.output)["argocd-rbac"]
    assert rbac["status"] == "fail" and "logs" in rbac["detail"] and "p, role:remediator, logs, get" in rbac["fix"]


def test_token_without_push(world: World) -> None:
    world.gh.repo.push = False
    r = runner.invoke(cli, world.args())
    assert r.exit_code == 4, r.output
    assert "FAIL  github acme/deploy" in r.output and "permissions.push is false" in r.output
    assert GH_TOKEN not in r.output


def test_rejected_github_token_and_unknown_repository(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    r = runner.invoke(cli, [*world.args("--format", "json"), "--repo", "acme/other"])
    assert by_name(r.output)["github acme/other"]["status"] == "fail" and r.exit_code == 3  # not found: a given value
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    r = runner.invoke(cli, world.args("--format", "json"))
    assert "401" in by_name(r.output)["github acme/deploy"]["detail"] and r.exit_code == 4


def test_github_app_installation_permissions(monkeypatch: pytest.MonkeyPatch) -> None:
    private, public = pem_pair()
    with FakeGitHub(token=GH_TOKEN, login=None, app_public_key=public) as gh:
        monkeypatch.setenv("REMEDIATOR_GITHUB_APP_ID", gh.app_id)
        monkeypatch.setenv("REMEDIATOR_GITHUB_APP_PRIVATE_KEY", private)
        args = ["doctor", "--repo", "acme/deploy", "--github-url", gh.url, "--format", "json"]
        r = runner.invoke(cli, args)
        assert by_name(r.output)["github acme/deploy"]["status"] == "ok", r.output
        assert r.exit_code == 0
        gh.app_permissions = {"contents": "read", "metadata": "read"}
        r = runner.invoke(cli, args)
        check = by_name(r.output)["github acme/deploy"]
        assert r.exit_code == 4 and check["status"] == "fail"
        assert "contents: write" in check["detail"] and "pull_requests: write" in check["detail"]
        assert {req.method for req in gh.requests} == {"GET"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "code", "name"),
    [
        (["--kubeconfig", "{tmp}/missing"], 3, "kubernetes"),
        (["--kubeconfig", "{tmp}/garbage"], 3, "kubernetes"),
        (["--kubeconfig", "{tmp}"], 3, "kubernetes"),
        (["--argocd-url", "ftp://argocd"], 3, "argocd-api"),
        (["--argocd-url", "http://127.0.0.1:{port}"], 4, "argocd-api"),
    ],
)
def test_bad_input_is_one_failed_check_not_a_traceback(
    args: list[str], code: int, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGOCD_TOKEN", "t")
    (tmp_path / "garbage").write_text("clusters: 3\n")
    filled = [a.format(tmp=tmp_path, port=_free_port()) for a in args]
    r = runner.invoke(cli, ["doctor", "--format", "json", *filled])
    assert r.exit_code == code, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    check = by_name(r.output)[name]
    assert check["status"] == "fail" and "\n" not in check["detail"] and check["fix"]


def test_bad_repository_name_and_nothing_configured() -> None:
    r = runner.invoke(cli, ["doctor", "--format", "json"])
    assert r.exit_code == 0, r.output
    checks = by_name(r.output)
    assert checks["github"]["status"] == "warn" and checks["argocd"]["status"] == "skip"
    assert checks["kubernetes"]["status"] == "warn" and checks["webhook-secret"]["status"] == "warn"
    r = runner.invoke(cli, ["doctor", "--repo", "not-a-slug"], env={"GITHUB_TOKEN": GH_TOKEN})
    assert r.exit_code == 3 and "owner/name" in r.output
