"""The service's notification events end to end: Argo CD hooks into the running service, pull
requests on the FAKE GitHub, and a generic webhook channel on a loopback receiver that checks the
documented payload. fix.out_of_band (a Vault-backed ExternalSecret), fix.refused (the policy turns
the remedy off), pr.updated (the base branch moved), app.recovered and app.still_degraded (after the
bot's PR is merged)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
import yaml

from remediator.policy import Policy
from remediator.publish.examples import example_remote
from remediator.publish.github import GitHubProvider
from remediator.service.app import Settings, create_app
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader
from tests.fakes.chat_receivers import ChatReceiver
from tests.fakes.github_api import FakeGitHub
from tests.test_service import SECRET, TOKEN, Server, hook, make_apps, wait_done

EXAMPLES = Path(__file__).resolve().parents[1] / "remediator" / "examples" / "tmcp-marketing"
H = {"X-Remediator-Token": SECRET}


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as api:
        yield api


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatReceiver]:
    with ChatReceiver("webhook") as r:
        monkeypatch.setenv("HOOK_URL", r.webhook_url)
        yield r


def policy(**extra: Any) -> Policy:
    return Policy.model_validate(
        {
            "pull_requests": {"argocd_url": "https://argocd.example.org"},
            "notifications": {"channels": [{"name": "hook", "type": "webhook", "url_env": "HOOK_URL"}]},
            **extra,
        }
    )


@contextmanager
def bot(tmp_path: Path, gh: FakeGitHub, pol: Policy, snaps: Path, remotes: Path) -> Iterator[tuple[str, Journal]]:
    journal = Journal(tmp_path / "journal.sqlite")
    provider = GitHubProvider(
        "acme/deploy", TOKEN, gh.url, retries=2, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0
    )
    runner = FlowRunner(
        snapshot_loader(snaps), snapshot_applications(snaps), pol, lambda url: provider, tmp_path / "cache",
        journal, repo_url_override=lambda app: str(remotes / f"{app}.git"),
    )  # fmt: skip
    with Server(
        create_app(Settings(secret=SECRET, settle_seconds=0.2, poll_seconds=0.02), journal, runner, pol)
    ) as url:
        yield url, journal


def send(url: str, journal: Journal, app: str, n: int, health: str = "Degraded") -> None:
    r = httpx.post(f"{url}/v1/hooks/argocd", json=hook(app, health=health), headers=H)
    assert r.status_code == 202, r.text
    wait_done(journal, n)


def events(r: ChatReceiver, *wanted: str, timeout: float = 10) -> dict[str, dict[str, Any]]:
    """The received bodies by event type, once every ``wanted`` type arrived."""
    end = time.time() + timeout
    while time.time() < end:
        got = {b["event"]: b for b in r.received}
        if all(w in got for w in wanted):
            assert not r.errors
            return got
        time.sleep(0.05)
    raise AssertionError([b["event"] for b in r.received])


def test_out_of_band_cause_is_notified_with_next_steps(tmp_path: Path, gh: FakeGitHub, receiver: ChatReceiver) -> None:
    snaps, remotes = tmp_path / "snapshots", tmp_path / "remotes"
    shutil.copytree(EXAMPLES / "vault-secrets" / "cluster", snaps / "tmcp-marketing")
    example_remote(EXAMPLES / "vault-secrets" / "repo", remotes / "tmcp-marketing.git")
    with bot(tmp_path, gh, policy(), snaps, remotes) as (url, journal):
        send(url, journal, "tmcp-marketing", 1)
        got = events(receiver, "incident.diagnosed", "fix.out_of_band")
    assert journal.all()[0].outcome == "no-edit" and not gh.repo.pulls
    oob = got["fix.out_of_band"]
    assert oob["app"] == "tmcp-marketing" and oob["steps"], oob
    assert oob["incident"] == got["incident.diagnosed"]["incident"]
    assert "fix.refused" not in got and "pr.opened" not in got
    assert any("argocd.example.org" in link["url"] for link in oob["links"])


def test_refused_fix_is_notified(tmp_path: Path, gh: FakeGitHub, receiver: ChatReceiver) -> None:
    snaps, remotes = make_apps(tmp_path, ["shop-a"])
    with bot(tmp_path, gh, policy(remedies={"memory-limit": False}), snaps, remotes) as (url, journal):
        send(url, journal, "shop-a", 1)
        got = events(receiver, "incident.diagnosed", "fix.refused")
    assert not gh.repo.pulls and "pr.opened" not in got
    refused = got["fix.refused"]
    assert refused["app"] == "shop-a" and refused["steps"]
    assert "memory-limit" in refused["summary"] or "polic" in refused["summary"].lower(), refused["summary"]


def test_pr_updated_when_the_change_moves(tmp_path: Path, gh: FakeGitHub, receiver: ChatReceiver) -> None:
    snaps, remotes = make_apps(tmp_path, ["shop-a"])
    with bot(tmp_path, gh, policy(), snaps, remotes) as (url, journal):
        send(url, journal, "shop-a", 1)
        events(receiver, "pr.opened")
        # someone changes the same file on main: the bot's change (and its fingerprint) moves
        work = git.Repo.clone_from(str(remotes / "shop-a.git"), tmp_path / "work")
        dep = next((tmp_path / "work" / "deploy" / "memory-demo").glob("*deploy*.yaml"))
        dep.write_text("# owned by the shop team\n" + dep.read_text())
        work.git.add("-A")
        work.git.commit("-m", "a comment", "--author", "dev <dev@example.org>")
        work.git.push("origin", "main")
        send(url, journal, "shop-a", 2)
        got = events(receiver, "pr.updated")
    assert [r.outcome for r in journal.all()].count("updated") == 1
    pr = gh.repo.pulls[0]
    assert got["pr.updated"]["links"][0]["url"].endswith(f"/pull/{pr['number']}")
    assert got["pr.updated"]["incident"] == got["pr.opened"]["incident"]


def _merge_first_pr(gh: FakeGitHub, receiver: ChatReceiver) -> str:
    """Merge the bot's PR in the fake; its URL as the pr.opened event linked it."""
    gh.close_pull(gh.repo.pulls[0]["number"], merged=True)
    return str(events(receiver, "pr.opened")["pr.opened"]["links"][0]["url"])


def test_recovered_after_the_merged_pr(tmp_path: Path, gh: FakeGitHub, receiver: ChatReceiver) -> None:
    snaps, remotes = make_apps(tmp_path, ["shop-a"])
    with bot(tmp_path, gh, policy(), snaps, remotes) as (url, journal):
        send(url, journal, "shop-a", 1)
        pr_url = _merge_first_pr(gh, receiver)
        # Argo CD synced the merge and the app is Healthy: the snapshot says so
        app_file = snaps / "shop-a" / "argocd" / "application.yaml"
        docs = list(yaml.safe_load_all(app_file.read_text()))
        docs[0]["status"]["health"] = {"status": "Healthy"}
        app_file.write_text(yaml.safe_dump_all(docs))
        for f in ("pods.json", "events.yaml"):
            (snaps / "shop-a" / "demo" / f).unlink()
        shutil.rmtree(snaps / "shop-a" / "logs")
        send(url, journal, "shop-a", 2, health="Healthy")
        got = events(receiver, "app.recovered")
    assert [r.outcome for r in journal.all()] == ["opened", "healthy"]
    rec = got["app.recovered"]
    assert rec["app"] == "shop-a" and "app.still_degraded" not in got
    assert any(link["url"] == pr_url for link in rec["links"]), rec
    assert rec["incident"] == got["pr.opened"]["incident"]


def test_still_degraded_after_the_merged_pr(tmp_path: Path, gh: FakeGitHub, receiver: ChatReceiver) -> None:
    snaps, remotes = make_apps(tmp_path, ["shop-a"])
    with bot(tmp_path, gh, policy(), snaps, remotes) as (url, journal):
        send(url, journal, "shop-a", 1)
        pr_url = _merge_first_pr(gh, receiver)
        send(url, journal, "shop-a", 2)
        got = events(receiver, "app.still_degraded")
    assert sorted(r.outcome for r in journal.all()) == ["fixed-before", "opened"]
    still = got["app.still_degraded"]
    assert still["app"] == "shop-a" and "app.recovered" not in got
    assert any(link["url"] == pr_url for link in still["links"]), still
    assert len(gh.repo.pulls) == 1  # no second PR for the same change
