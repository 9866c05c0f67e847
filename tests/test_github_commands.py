"""Commands on the bot's pull requests: ``POST /v1/hooks/github`` on a real uvicorn server on
127.0.0.1, signed like GitHub signs, PyGithub against the FAKE GitHub server, real git remotes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediator.policy import Policy
from remediator.publish.base import PullRequest, parse_marker
from remediator.publish.github import GitHubProvider
from remediator.service.app import Settings, create_app
from remediator.service.commands import ReplyLimit, User, parse, refusal, sign, signature_ok
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader
from tests.fakes.github_api import FakeGitHub
from tests.test_service import Server, hook, make_apps, wait_done

SECRET = "s3cret-hook-token"
GH_SECRET = "gh-webhook-secret-0123"
TOKEN = "ghp_commandstoken0000000000000000000000000"
H = {"X-Remediator-Token": SECRET}


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as api:
        api.collaborators.update({"alice": "write", "mona": "maintain", "rita": "read"})
        yield api


@pytest.fixture
def service(tmp_path: Path, gh: FakeGitHub) -> Iterator[tuple[httpx.Client, Journal]]:
    """The service with shop-a's bot PR #1 already open."""
    snaps, remotes = make_apps(tmp_path, ["shop-a"])
    journal = Journal(tmp_path / "journal.sqlite")
    policy = Policy()
    provider = GitHubProvider(
        "acme/deploy", TOKEN, gh.url, retries=1, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0
    )
    runner = FlowRunner(
        snapshot_loader(snaps), snapshot_applications(snaps), policy, lambda url: provider, tmp_path / "cache",
        journal, repo_url_override=lambda app: str(remotes / f"{app}.git"),
    )  # fmt: skip
    settings = Settings(secret=SECRET, github_secret=GH_SECRET, settle_seconds=0.1, poll_seconds=0.02)
    with Server(create_app(settings, journal, runner, policy)) as url, httpx.Client(base_url=url) as c:
        assert c.post("/v1/hooks/argocd", json=hook("shop-a"), headers=H).status_code == 202
        wait_done(journal, 1)
        assert [p["user"] for p in gh.repo.pulls] == ["remediator-bot"], journal.all()
        yield c, journal


def send(
    c: httpx.Client, event: str, payload: dict[str, Any], delivery: str | None = None, secret: str = GH_SECRET
) -> httpx.Response:
    raw = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, raw),
        "Content-Type": "application/json",
    }
    return c.post("/v1/hooks/github", content=raw, headers=headers)


REPO = {"full_name": "acme/deploy", "html_url": "https://github.com/acme/deploy", "fork": False}


def comment(number: int, body: str, login: str = "alice", kind: str = "User") -> dict[str, Any]:
    user = {"login": login, "type": kind}
    return {
        "action": "created",
        "issue": {"number": number, "pull_request": {"url": "x"}, "user": {"login": "remediator-bot"}},
        "comment": {"id": 11, "body": body, "user": user},
        "repository": REPO,
        "sender": user,
    }


def closed_event(gh: FakeGitHub, number: int, merged: bool) -> dict[str, Any]:
    p = gh.repo.pulls[number - 1]
    gh.close_pull(number, merged)
    pr = gh._pull_json(p)
    pr["merged"] = merged
    return {"action": "closed", "number": number, "pull_request": pr, "repository": REPO}


def bot_comments(gh: FakeGitHub, number: int) -> list[str]:
    return [c["body"] for c in gh.repo.comments.get(number, []) if c["user"]["login"] == "remediator-bot"]


def test_explain_posts_the_full_diagnosis_once_per_delivery(
    service: tuple[httpx.Client, Journal], gh: FakeGitHub
) -> None:
    c, _ = service
    before = len(bot_comments(gh, 1))
    r = send(c, "issue_comment", comment(1, "thanks!\n/remediator explain\n"), delivery="d-1")
    assert r.status_code == 200 and r.json()["result"] == "explain", r.text
    said = bot_comments(gh, 1)[before:]
    assert len(said) == 1 and "Diagnosis of `shop-a`" in said[0] and "oom" in said[0].lower()
    assert "<!--" not in said[0] and "\n```text\n" in said[0]  # inert: fenced, no marker
    r = send(c, "issue_comment", comment(1, "/remediator explain"), delivery="d-1")  # the same delivery again
    assert r.json() == {"replayed": "d-1"} and len(bot_comments(gh, 1)) == before + 1
    assert 'remediator_github_events_total{result="replayed"} 1.0' in c.get("/metrics").text


def test_unknown_command_gets_the_list(service: tuple[httpx.Client, Journal], gh: FakeGitHub) -> None:
    c, _ = service
    r = send(c, "issue_comment", comment(1, "/remediator frobnicate", login="mona"))
    assert r.json()["result"] == "unknown"
    last = bot_comments(gh, 1)[-1]
    assert "frobnicate" in last and "/remediator rediagnose" in last and "/remediator close" in last


def test_rediagnose_runs_again_and_updates_the_same_pr(service: tuple[httpx.Client, Journal], gh: FakeGitHub) -> None:
    c, journal = service
    r = send(c, "issue_comment", comment(1, "/remediator rediagnose"))
    assert r.status_code == 202 and r.json()["result"] == "rediagnose", r.text
    wait_done(journal, 2)
    first, again = journal.all()
    assert again.source == "github" and again.state == "done" and again.outcome in ("updated", "unchanged")
    assert again.pr_url == first.pr_url and len(gh.repo.pulls) == 1  # the same PR, not a second one
    assert any("Re-diagnosing" in b for b in bot_comments(gh, 1))


def test_close_closes_and_the_same_change_is_not_proposed_again(
    service: tuple[httpx.Client, Journal], gh: FakeGitHub
) -> None:
    c, journal = service
    fp = parse_marker(gh.repo.pulls[0]["body"])["fingerprint"]
    r = send(c, "issue_comment", comment(1, "/remediator close", login="mona"))
    assert r.json()["result"] == "close", r.text
    assert gh.repo.pulls[0]["state"] == "closed"
    url = journal.all()[0].pr_url
    assert journal.rejected("shop-a", fp) == url and journal.pr_state(url) == "rejected"
    assert journal.rejected("shop-a", "another-change") is None  # a different change is still allowed
    assert journal.all()[0].outcome == "rejected"
    # someone edits the closed PR's description: GitHub no longer shows it as the bot's; the journal remembers
    gh.repo.pulls[0]["body"] = "closed, see chat"
    c.post("/v1/hooks/argocd", json=hook("shop-a"), headers=H)
    wait_done(journal, 2)
    last = journal.all()[-1]
    assert last.outcome == "rejected-before" and "exactly this change" in last.message, last
    assert len(gh.repo.pulls) == 1


def test_pull_request_closed_events_update_the_journal(service: tuple[httpx.Client, Journal], gh: FakeGitHub) -> None:
    c, journal = service
    r = send(c, "pull_request", closed_event(gh, 1, merged=True))
    assert r.json()["result"] == "merged", r.text
    inc = journal.all()[0]
    assert inc.outcome == "merged" and "awaits verification" in inc.message
    assert journal.pr_state(inc.pr_url) == "merged"
    assert send(c, "pull_request", {**closed_event(gh, 1, True), "action": "edited"}).json()["result"] == (
        "ignored-action"
    )


def test_nothing_is_done_for_others(service: tuple[httpx.Client, Journal], gh: FakeGitHub) -> None:
    c, journal = service
    before = {n: list(v) for n, v in gh.repo.comments.items()}
    # a forged signature, and none at all
    raw = json.dumps(comment(1, "/remediator close")).encode()
    forged = {"X-GitHub-Event": "issue_comment", "X-Hub-Signature-256": sign("wrong", raw)}
    assert c.post("/v1/hooks/github", content=raw, headers=forged).status_code == 401
    assert c.post("/v1/hooks/github", content=raw, headers={"X-GitHub-Event": "issue_comment"}).status_code == 401
    # a PR that looks like the bot's (marker, branch) but was opened by someone else
    gh.add_pull(gh.repo.pulls[0]["head"] + "-x", gh.repo.pulls[0]["body"], user="mallory")
    cases = [
        (comment(1, "/remediator close", login="rita"), "ignored-no-permission"),
        (comment(1, "/remediator close", login="stranger"), "ignored-no-permission"),
        (comment(1, "please do not run /remediator close"), "ignored-not-a-command"),
        (comment(1, "> /remediator close"), "ignored-not-a-command"),
        (comment(1, "/remediator close", login="ci[bot]", kind="Bot"), "ignored-bot"),
        (comment(1, "/remediator close", login="remediator-bot"), "ignored-bot"),
        (comment(2, "/remediator close"), "ignored-not-owned"),
        ({**comment(1, "/remediator close"), "repository": {**REPO, "fork": True}}, "ignored-fork"),
    ]
    for payload, expected in cases:
        r = send(c, "issue_comment", payload)
        assert r.status_code == 200 and r.json()["result"] == expected, (expected, r.text)
    assert gh.repo.pulls[0]["state"] == "open" and gh.repo.pulls[1]["state"] == "open"
    assert gh.repo.comments == before and len(journal.all()) == 1
    m = c.get("/metrics").text
    assert 'remediator_requests_rejected_total{reason="unauthorized"} 2.0' in m
    assert 'remediator_github_events_total{result="ignored-no-permission"} 2.0' in m


# --- the pure parts ---------------------------------------------------------------------------------


def test_parse_takes_only_a_command_alone_at_the_start_of_a_line() -> None:
    assert parse("/remediator explain") == parse("LGTM\r\n/remediator   explain  \r\n")
    cmd = parse("x\n/remediator Close\n/remediator explain")
    assert cmd is not None and (cmd.name, cmd.known) == ("close", True)
    assert parse("/remediator") is not None and not parse("/remediator bogus").known  # type: ignore[union-attr]
    for text in ("run /remediator close", " /remediator close", "`/remediator close`", "/remediator close now", ""):
        assert parse(text) is None, text


def test_signature_and_refusals() -> None:
    body = b'{"a": 1}'
    assert signature_ok("k", body, sign("k", body))
    assert not signature_ok("k", body + b" ", sign("k", body))
    assert not signature_ok("k", body, None) and not signature_ok("", body, sign("", body))
    pr = PullRequest(1, "u", "remediator/a/x", "main", "t", "b", "open", author="bot", head_repo="o/r", base_repo="o/r")
    alice = User(login="alice")
    assert refusal(alice, pr, True, "write") is None and refusal(alice, pr, True, "admin") is None
    assert refusal(alice, pr, True, "triage") == "no-permission"
    assert refusal(alice, pr, False, "admin") == "not-owned"
    fork = PullRequest(1, "u", "b", "main", "t", "b", "open", head_repo="x/r", base_repo="o/r")
    assert refusal(alice, fork, True, "admin") == "fork"
    assert refusal(User(login="dependabot[bot]", type="Bot"), pr, True, "admin") == "bot"


def test_reply_limit_per_pull_request() -> None:
    lim = ReplyLimit(per_window=2, window=60)
    assert lim.allow("o/r#1", 0) and lim.allow("o/r#1", 1) and not lim.allow("o/r#1", 2)
    assert lim.allow("o/r#2", 2)  # another PR has its own budget
    assert lim.allow("o/r#1", 61)  # the window moved on


def test_a_delivery_that_failed_is_acted_on_when_redelivered(
    service: tuple[httpx.Client, Journal], gh: FakeGitHub
) -> None:
    c, _ = service
    before = len(bot_comments(gh, 1))
    gh.fail("POST /repos/acme/deploy/issues/1/comments", 422, times=1)  # GitHub refuses the reply once
    r = send(c, "issue_comment", comment(1, "/remediator explain"), delivery="d-9")
    assert r.status_code == 502 and len(bot_comments(gh, 1)) == before
    r = send(c, "issue_comment", comment(1, "/remediator explain"), delivery="d-9")  # GitHub's redelivery
    assert r.status_code == 200 and r.json()["result"] == "explain", r.text
    assert len(bot_comments(gh, 1)) == before + 1
