"""GitHub App authentication (App ID + private key, installation tokens refreshed) and a /readyz that
knows whether the provider accepts its credentials: PyGithub against the FAKE GitHub on 127.0.0.1,
with an RSA key generated for the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from remediator.errors import InputError
from remediator.flow import ProviderKind, github_app, pull_request_target
from remediator.policy import Policy
from remediator.publish.github import GitHubApp, GitHubProvider
from remediator.service.app import Settings, create_app
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner
from tests.fakes.github_api import FakeGitHub

TOKEN = "ghp_apptesttoken000000000000000000000000000"
ENV = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    *(f"REMEDIATOR_GITHUB_APP_{k}" for k in ("ID", "PRIVATE_KEY", "PRIVATE_KEY_FILE", "INSTALLATION_ID")),
)


def pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


KEY, PUBLIC = pem_pair()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ENV:
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, login=None, app_public_key=PUBLIC) as api:
        yield api


def provider(gh: FakeGitHub, app: GitHubApp | None, token: str | None = None) -> GitHubProvider:
    return GitHubProvider(
        "acme/deploy", token, gh.url, retries=1, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0,
        app=app,
    )  # fmt: skip


def auths(gh: FakeGitHub, method: str, path: str) -> list[str]:
    return [r.authorization for r in gh.requests if r.method == method and r.path.split("?")[0] == path]


def test_app_lists_and_creates_pull_requests_with_its_installation_token(gh: FakeGitHub) -> None:
    p = provider(gh, GitHubApp(gh.app_id, KEY, None, gh.url))
    assert p.pulls("open") == []
    pr = p.create("remediator/fix", "main", "fix", "<!-- remediator: x -->", draft=False)
    assert pr.number == 1 and gh.repo.pulls[0]["head"] == "remediator/fix"
    assert p.login(None) == "remediator-app[bot]"  # GET /app gives the slug
    assert p.login("custom-bot") == "custom-bot"  # pull_requests.bot_login wins
    # the installation was discovered from the repository, one token issued, JWTs well formed and signed
    assert gh.count("GET", r"/repos/acme/deploy/installation") == 1
    assert gh.issued == [gh.issued[0]] and not gh.jwt_rejections
    token = f"token {gh.issued[0]}"
    assert auths(gh, "GET", "/repos/acme/deploy/pulls") == [token]
    assert auths(gh, "POST", "/repos/acme/deploy/pulls") == [token]
    assert all(a.startswith("Bearer ") for a in auths(gh, "POST", "/app/installations/77/access_tokens"))
    assert not gh.unexpected


def test_a_rejected_installation_token_is_refreshed(gh: FakeGitHub) -> None:
    app = GitHubApp(gh.app_id, KEY, 77, gh.url)  # installation given: no discovery
    p = provider(gh, app)
    p.pulls("open")
    first = gh.issued[0]
    gh.revoke_tokens()  # GitHub now answers 401 to it, as to an expired token
    p.create("remediator/fix", "main", "fix", "body", draft=False)
    assert len(gh.issued) == 2 and gh.count("GET", r"/repos/acme/deploy/installation") == 0
    assert auths(gh, "POST", "/repos/acme/deploy/pulls")[-1] == f"token {gh.issued[1]}"
    assert app.token("acme/deploy") == gh.issued[1] != first  # git pushes get the new token too


def test_the_clone_gets_the_current_installation_token(gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_ID", gh.app_id)
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_PRIVATE_KEY", KEY)
    target = pull_request_target(ProviderKind.github, Policy(), Path("/nonexistent"), gh.url)
    assert callable(target.token)
    url = "https://github.com/acme/deploy.git"
    assert target.token(url) == gh.issued[-1]
    gh.revoke_tokens()
    prov = target.provider_for(url)
    prov.check_access()  # 401, refreshed, retried
    assert target.token(url) == gh.issued[-1] and len(gh.issued) == 2


def test_app_configuration_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert github_app() is None  # no App ID: the token is used
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_ID", "1")
    with pytest.raises(InputError, match="no private key"):
        github_app()
    with pytest.raises(InputError, match="cannot read the GitHub App private key"):
        github_app(private_key_file=tmp_path / "missing.pem")
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_PRIVATE_KEY", "not a key")
    with pytest.raises(InputError, match="cannot sign a JWT"):
        github_app()
    (tmp_path / "k.pem").write_text(KEY)
    monkeypatch.delenv("REMEDIATOR_GITHUB_APP_PRIVATE_KEY")
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_PRIVATE_KEY_FILE", str(tmp_path / "k.pem"))
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_INSTALLATION_ID", "x")
    with pytest.raises(InputError, match="must be a number"):
        github_app()
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_INSTALLATION_ID", "5")
    app = github_app()
    assert app is not None and app.installation_id == 5


# --- /readyz knows the provider ------------------------------------------------------------


def readyz(tmp_path: Path, gh: FakeGitHub, kind: ProviderKind = ProviderKind.github) -> tuple[int, str, FlowRunner]:
    policy = Policy()
    target = pull_request_target(kind, policy, tmp_path / "cache", gh.url)
    runner = FlowRunner(
        lambda app: None,  # type: ignore[arg-type,return-value]
        list, policy, target.provider_for, target.cache, Journal(tmp_path / "j.sqlite"), target.token,
        credentials=target.check,
    )  # fmt: skip
    client = TestClient(create_app(Settings(secret="s"), runner.journal, runner, policy))
    r = client.get("/readyz")
    return r.status_code, r.text, runner


def test_readyz_without_credentials_names_them(tmp_path: Path, gh: FakeGitHub) -> None:
    status, text, _ = readyz(tmp_path, gh)
    assert status == 503 and "GITHUB_TOKEN" in text and "REMEDIATOR_GITHUB_APP_ID" in text


def test_readyz_with_a_rejected_token(tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    status, text, _ = readyz(tmp_path, gh)
    assert status == 503 and "401" in text and "ghp_wrong" not in text


def test_readyz_with_a_valid_token_is_cached(tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    status, _, runner = readyz(tmp_path, gh)
    assert status == 200  # GET /user answers 403 to an installation token: authenticated all the same
    assert runner.ready() is None and gh.count("GET", r"/user") == 1  # checked once a minute


def test_readyz_with_an_app(tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_ID", gh.app_id)
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_PRIVATE_KEY", KEY)
    assert readyz(tmp_path / "ok", gh)[0] == 200 and gh.count("GET", r"/app") == 1
    monkeypatch.setenv("REMEDIATOR_GITHUB_APP_ID", "999")  # another App's ID: the JWT is rejected
    status, text, _ = readyz(tmp_path / "bad", gh)
    assert status == 503 and "401" in text


def test_readyz_with_the_local_provider(tmp_path: Path, gh: FakeGitHub) -> None:
    assert readyz(tmp_path, gh, ProviderKind.local)[0] == 200


def test_review_comments_as_the_github_app(tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from remediator.cli import app as cli
    from tests.test_review import event, pr_repo

    repo, base, head = pr_repo(tmp_path)
    key = tmp_path / "app.pem"
    key.write_text(KEY)
    gh.repo.pulls.append({"number": 7, "state": "open", "title": "t", "body": "", "head": "feature", "base": "main"})
    args = ["review", "--repo", str(repo), "--event", str(event(tmp_path, base, head)), "--comment",
            "--github-url", gh.url, "--github-repo", "acme/deploy", "--fail-on", "never",
            "--github-app-id", str(gh.app_id), "--github-app-private-key-file", str(key)]  # fmt: skip
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "review comments: 3 new" in r.output
    assert auths(gh, "POST", "/repos/acme/deploy/pulls/7/reviews") == [f"token {gh.issued[0]}"]
