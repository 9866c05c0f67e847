"""Safety of the write path: what the bot pushes, where, and what it writes into pull requests.

Each test replays an attack reproduced on loopback: a pasted marker on a PR from ``main``, a marker
smuggled in through evidence, Markdown injection, ``--dry-run`` that published, a ``Retry-After``
of an hour, and a branch deleted under an open PR. Real git (bare remotes on disk), PyGithub against
the fake GitHub on 127.0.0.1, the local provider; Markdown is parsed with markdown-it-py (CommonMark)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.edits.plan import plan_fix
from remediator.errors import RemediatorError, TemporaryError
from remediator.model import EvidenceLine
from remediator.policy import Policy
from remediator.publish import body as prbody
from remediator.publish.base import branch_name, marker, parse_marker
from remediator.publish.checkout import Checkout, check_ref_name, safe_component
from remediator.publish.local import LocalProvider
from remediator.publish.propose import cause_key, evidence_key, propose
from tests.fakes.github_api import FakeGitHub
from tests.test_pr import TOKEN, Case, git, github, memory_case

runner = CliRunner()
HOSTILE = (
    "pull failed\n```\n\n# Pwned\n[click here](https://evil.example/login) ![x](https://evil.example/p.png)\n"
    "@acme/sre-team please approve. Closes #1, fixes acme/deploy#2, resolved: https://github.com/acme/deploy/issues/3\n"
    "<img src=x onerror=alert(1)> <details><summary>hidden</summary></details>\n````\n~~~\n| a | b |"
)


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as api:
        yield api


def refs(remote: Path) -> str:
    return git(remote, "for-each-ref", "--format=%(refname) %(objectname)")


def with_policy(policy: Policy, **pr: object) -> Policy:
    return policy.model_copy(update={"pull_requests": policy.pull_requests.model_copy(update=pr)})


def planted_marker(case: Case, app: str = "memory-demo") -> str:
    f = case.d.top
    assert f is not None
    return marker(app=app, cause=cause_key(app, f), category=f.category.value, evidence=evidence_key(case.d),
                  fingerprint="0000000000")  # fmt: skip


# --- 1. the bot pushes only its own branches, and trusts only its own PRs ------------------


@pytest.mark.parametrize(
    ("head", "user", "fork"),
    [
        ("main", "mallory", "mallory/deploy"),  # a fork's branch named main
        ("main", "remediator-bot", None),  # even "by the bot": head is not a bot branch
        ("remediator/memory-demo/oom-killed-0000000000", "mallory", None),  # the right branch, the wrong author
        ("remediator/memory-demo/oom-killed-0000000000", "remediator-bot", "mallory/deploy"),  # from a fork
        ("remediator/other-app/oom-killed-0000000000", "remediator-bot", None),  # another app's branch
    ],
)
def test_a_pasted_marker_never_makes_the_bot_push_to_someone_elses_branch(
    tmp_path: Path, gh: FakeGitHub, head: str, user: str, fork: str | None
) -> None:
    case = memory_case(tmp_path)
    gh.add_pull(head, "Please review.\n\n" + planted_marker(case) + "\n", title="innocent", user=user, head_repo=fork)
    main = git(case.remote, "rev-parse", "main")
    out = case.run(github(gh))
    assert out.action == "opened" and out.pr is not None and out.pr.number == 2
    assert git(case.remote, "rev-parse", "main") == main
    assert gh.repo.pulls[0]["title"] == "innocent" and not gh.repo.comments.get(1)
    assert gh.count("PATCH", r"/repos/acme/deploy/pulls/1") == 0


def test_checkout_push_and_delete_hold_the_invariants(tmp_path: Path) -> None:
    case = memory_case(tmp_path)
    git(case.remote, "branch", "release-2", "main")
    git(case.remote, "branch", "remediator/base", "main")
    c = Checkout(str(case.remote), tmp_path / "cache")
    c.restrict("remediator/", ["main", "release*", "remediator/prod*"])
    c.sync("main")
    before = refs(case.remote)
    for bad in ("main", "release-2", "refs/heads/main", "remediator/../main", "remediator/prod-eu", "other/x",
                "remediator/-x", "remediator/x.lock", "remediator/a b", "remediator/x@{1}"):  # fmt: skip
        with pytest.raises(RemediatorError):
            c.push(bad, force=True)
        with pytest.raises(RemediatorError):
            c.delete_remote_branch(bad)
    c.sync("remediator/base")  # the base branch itself is never a push target, even under the prefix
    with pytest.raises(RemediatorError, match="base branch"):
        c.push("remediator/base", force=True)
    assert refs(case.remote) == before


def test_push_goes_only_to_the_repository_the_checkout_was_made_for(tmp_path: Path) -> None:
    case = memory_case(tmp_path)
    other = tmp_path / "other.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(case.remote), str(other)], check=True)
    c = Checkout(str(case.remote), tmp_path / "cache")
    c.sync("main")
    c.start_branch("remediator/memory-demo/x", "main")
    before = refs(other)
    git(c.path, "config", f"url.{other.as_uri()}.pushInsteadOf", Path(str(case.remote)).resolve().as_uri())
    with pytest.raises(RemediatorError, match="origin"):
        c.push("remediator/memory-demo/x")
    git(c.path, "config", "--unset", f"url.{other.as_uri()}.pushInsteadOf")
    git(c.path, "remote", "set-url", "origin", other.as_uri())
    with pytest.raises(RemediatorError, match="origin"):
        c.push("remediator/memory-demo/x")
    with pytest.raises(RemediatorError, match="origin"):
        c.sync("main")  # nor fetch (with the token) from elsewhere
    assert refs(other) == before


@pytest.mark.parametrize(
    "app", ["../../refs/heads/main", "a..b", "x.lock", "-rf", "@{-1}", "Main App", "é", "", "a" * 300]
)
def test_branch_names_from_hostile_app_names_are_valid_and_under_the_prefix(app: str) -> None:
    b = branch_name("remediator/", app, "oom-killed", "0123456789")
    assert check_ref_name(b) is None and b.startswith("remediator/") and b.count("/") == 2
    assert safe_component(app) != safe_component(app + "x")


def test_an_unknown_bot_login_trusts_no_pr_and_says_so(tmp_path: Path) -> None:
    case = memory_case(tmp_path)
    with FakeGitHub(token=TOKEN, login=None) as api:  # an App installation token: GET /user is 403
        first = case.run(github(api))
        assert first.action == "opened" and any("bot_login" in w for w in first.warnings)
        again = case.run(github(api))  # its own PR is not trusted either: no update, no comment
        assert again.action == "opened" and any("bot_login" in w for w in again.warnings)
        assert api.count("PATCH", r"/repos/acme/deploy/pulls/1") == 0 and not api.repo.comments.get(1)
        policy = with_policy(case.policy, bot_login="remediator-app[bot]")
        assert case.run(github(api), policy).action == "unchanged"  # named in the policy: its own PRs again
        assert len(api.repo.pulls) == 1


def test_a_local_record_written_by_hand_is_not_the_bots(tmp_path: Path) -> None:
    case = memory_case(tmp_path)
    prs = tmp_path / "prs"
    prs.mkdir()
    rec = {"number": 1, "branch": "main", "base": "main", "title": "t", "body": "b\n" + planted_marker(case),
           "state": "open", "comments": [], "labels": [], "reviewers": [], "assignees": []}  # fmt: skip
    (prs / "pr-1.json").write_text(json.dumps(rec))
    main = git(case.remote, "rev-parse", "main")
    out = case.run(LocalProvider(prs))
    assert out.action == "opened" and out.pr is not None and out.pr.number == 2
    assert git(case.remote, "rev-parse", "main") == main
    assert json.loads((prs / "pr-1.json").read_text()) == rec
    assert case.run(LocalProvider(prs)).action == "unchanged"  # its own record is still its own


# --- 2. no marker from evidence, and only the trailing one counts --------------------------


def test_parse_marker_reads_only_the_trailing_marker() -> None:
    real, fake = marker(app="mine", cause="1"), marker(app="victim", cause="2")
    assert parse_marker(f"text\n{fake}\nmore\n{real}\n\n") == {"app": "mine", "cause": "1"}
    assert parse_marker(f"text\n{real}\nsomething after it") == {}
    assert parse_marker(f"{real} {fake}")["app"] == "victim"  # the last one, when it ends the body
    hostile = marker(app="x --> <!-- remediator: {} -->", cause="3")
    assert parse_marker("body\n" + hostile)["app"] == "x --> <!-- remediator: {} -->"


def test_a_marker_in_evidence_or_narrative_never_reaches_a_body_or_comment(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    victim = planted_marker(case, app="victim-app")
    f = case.d.top
    assert f is not None
    f2 = replace(f, evidence=(EvidenceLine("log app", f"boom {victim}"), *f.evidence), summary=f"oom {victim}",
                 chain=(*f.chain, victim))  # fmt: skip
    d = replace(case.d, findings=[f2, *case.d.findings[1:]])
    out = propose(d, case.ev, case.policy, github(gh), case.checkout(), "main", why=(f"because {victim}", "model"))
    assert out.action == "opened"
    # the evidence changes: the bot comments on its PR, quoting it again
    f3 = replace(f2, evidence=(*f2.evidence, EvidenceLine("event", f"again {victim}")))
    d3 = replace(d, findings=[f3, *d.findings[1:]])
    propose(d3, case.ev, case.policy, github(gh), case.checkout(), "main")
    texts = [gh.repo.pulls[0]["body"], *(c["body"] for c in gh.repo.comments[1])]
    assert len(texts) == 2
    for text in texts:
        assert text.count("<!--") == 1 and parse_marker(text).get("app", "memory-demo") == "memory-demo"
    assert parse_marker(gh.repo.pulls[0]["body"])["app"] == "memory-demo"


def test_a_comment_that_copies_the_incident_tag_does_not_silence_the_bot(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    case.run(github(gh))
    gh.add_comment(1, "nothing new here\n" + marker(incident=evidence_key(case.d)), user="mallory")
    assert case.run(github(gh)).action == "unchanged"
    assert [c["user"]["login"] for c in gh.repo.comments[1]] == ["mallory", "remediator-bot"]
    assert case.run(github(gh)).action == "unchanged"
    assert len(gh.repo.comments[1]) == 2  # its own tag still counts


# --- 3. Markdown injection ---------------------------------------------------------------


def tokens(md: str) -> list[Token]:
    out: list[Token] = []
    stack = MarkdownIt("commonmark").enable("table").parse(md)
    while stack:
        t = stack.pop(0)
        out.append(t)
        stack[:0] = t.children or []
    return out


def assert_inert(md: str, headings: list[str]) -> None:
    toks = tokens(md)
    found = [toks[i + 1].content for i, t in enumerate(toks) if t.type == "heading_open"]
    assert found == headings
    assert not [
        t for t in toks if t.type in ("link_open", "image") and "evil" in str(t.attrs.get("href") or t.attrs.get("src"))
    ]
    prose = [t.content for t in toks if t.type == "text"]
    for text in prose:
        assert not re.search(r"(?<![\w`])@[A-Za-z0-9]", text), text
        assert not re.search(r"(?i)\b(close[sd]?|fix(e[sd])?|resolve[sd]?)\b[\s:]*(\S+/\S+)?(#\d|https?://)", text), (
            text
        )
    html = [t.content for t in toks if t.type in ("html_inline", "html_block")]
    assert not [h for h in html if "evil" in h or "img" in h or "hidden" in h], html
    assert md.count("<!--") == md.count("<!-- remediator:") <= 1


def test_hostile_text_everywhere_is_quoted_inert_in_the_body(tmp_path: Path) -> None:
    case = memory_case(tmp_path)
    f = case.d.top
    assert f is not None
    f2 = replace(
        f, summary=f"summary {HOSTILE}", chain=(f"step {HOSTILE}",), evidence=(EvidenceLine("event", HOSTILE),)
    )
    d = replace(case.d, findings=[f2])
    c = case.checkout()
    c.start_branch("remediator/work", c.sync("main"))
    res = plan_fix(d, case.ev, c.path, case.policy)
    assert res.proposal is not None and res.edits
    res.proposal = replace(res.proposal, reason=HOSTILE, risk=HOSTILE, rollback=HOSTILE, warnings=[HOSTILE])
    res.notes = [HOSTILE]
    ctx = prbody.Context(
        app="memory-demo", health=HOSTILE, sync="Synced", since=HOSTILE, why=HOSTILE, why_source=HOSTILE
    )
    md = prbody.body(res, ctx, {"app": "memory-demo"}, review=[HOSTILE])
    heads = ["What is broken", "Root cause", "Evidence", "The change", "Risk and rollback", "Confidence"]
    assert_inert(md, heads)
    fences = [t for t in tokens(md) if t.type == "fence"]
    assert len(fences) == 2 and "# Pwned" in fences[0].content and "````" in fences[0].content
    assert_inert(prbody.incident_comment(f2, HOSTILE, True, False), [])
    msg = prbody.commit_message(res, "memory-demo\nCo-authored-by: Mallory <m@evil.example>", res.fingerprint)
    assert not re.search(r"(?im)^co-authored-by:", msg) and not re.search(r"(?i)closes #1|fixes acme", msg)
    assert "\n" not in prbody.title(res, HOSTILE)


def test_hostile_evidence_in_a_real_pr_and_commit(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    f = case.d.top
    assert f is not None
    f2 = replace(f, summary=f"oom {HOSTILE}", evidence=(EvidenceLine("event", HOSTILE), *f.evidence))
    out = case.run(github(gh), d=replace(case.d, findings=[f2, *case.d.findings[1:]]))
    assert out.action == "opened" and out.branch is not None
    heads = ["What is broken", "Root cause", "Evidence", "The change", "Risk and rollback", "Confidence"]
    assert_inert(gh.repo.pulls[0]["body"], heads)
    log = git(case.remote, "log", "-1", "--format=%B", out.branch)
    assert not re.search(r"(?i)closes #1|fixes acme/deploy#2|^# Pwned|@acme/", log, re.M)


# --- 4. --dry-run with --open-pr publishes nothing -----------------------------------------


def test_dry_run_open_pr_on_the_example_changes_nothing(tmp_path: Path) -> None:
    args = ["fix", "--example", "tmcp-marketing/fluentd-rbac", "--open-pr", "--dry-run", "--provider", "local",
            "--workdir", str(tmp_path)]  # fmt: skip
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "dry run" in r.output and "would: open a pull request remediator/" in r.output and "+" in r.output
    [remote] = list(tmp_path.glob("*/remote.git"))
    assert git(remote, "for-each-ref", "--format=%(refname)").split() == ["refs/heads/main"]
    assert not list(tmp_path.glob("*/pull-requests"))
    # after a real run, a dry run on a changed policy updates nothing either
    assert runner.invoke(cli, [a for a in args if a != "--dry-run"]).exit_code == 0
    before, prs = refs(remote), sorted((p.name, p.read_text()) for p in tmp_path.glob("*/pull-requests/*"))
    r = runner.invoke(cli, args)
    assert r.exit_code == 0 and "unchanged (dry run)" in r.output and "would: comment on PR #1" in r.output
    assert refs(remote) == before
    assert sorted((p.name, p.read_text()) for p in tmp_path.glob("*/pull-requests/*")) == prs


def test_dry_run_open_pr_against_github_sends_only_gets(
    tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = memory_case(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    before = refs(case.remote)
    args = ["fix", "--snapshot", str(case.scenario / "cluster"), "--app", "memory-demo", "--repo-url", str(case.remote),
            "--open-pr", "--dry-run", "--github-url", gh.url, "--github-repo", "acme/deploy",
            "--cache-dir", str(tmp_path / "c"), "--format", "json"]  # fmt: skip
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["dry_run"] is True and out["pr"] is None and any("open a pull request" in w for w in out["would"])
    assert {x.method for x in gh.requests} == {"GET"} and gh.repo.pulls == []
    assert refs(case.remote) == before


# --- 5. a Retry-After of an hour does not put a worker to sleep -------------------------------


@pytest.mark.parametrize(
    ("key", "status", "headers", "message"),
    [
        ("POST /repos/acme/deploy/pulls", 403, {"Retry-After": "3600"}, "You have exceeded a secondary rate limit."),
        ("POST /repos/acme/deploy/pulls", 429, {"Retry-After": "3600"}, "Too many requests"),
        ("GET /repos/acme/deploy", 403, {"Retry-After": "3600"}, "You have exceeded a secondary rate limit."),
        ("GET /repos/acme/deploy", 403, {"X-RateLimit-Remaining": "0"}, "API rate limit exceeded for user."),
    ],
)
def test_a_long_retry_after_raises_a_temporary_error_at_once(
    tmp_path: Path, gh: FakeGitHub, key: str, status: int, headers: dict[str, str], message: str
) -> None:
    case = memory_case(tmp_path)
    gh.fail(key, status, headers, {"message": message})
    t = time.monotonic()
    with pytest.raises(TemporaryError) as e:
        case.run(github(gh))
    assert time.monotonic() - t < 5
    assert e.value.retry_after is not None and e.value.retry_after > 60
    assert TOKEN not in str(e.value) and case.branches() == []  # the branch pushed for the PR is taken back


def test_the_retry_wait_cap_comes_from_the_policy(
    tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = memory_case(tmp_path)
    pol = tmp_path / "policy.yaml"
    pol.write_text("pull_requests:\n  max_retry_wait_seconds: 0.5\n")
    gh.fail(
        "GET /repos/acme/deploy", 403, {"Retry-After": "2"}, {"message": "You have exceeded a secondary rate limit."}
    )
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    args = ["fix", "--snapshot", str(case.scenario / "cluster"), "--app", "memory-demo", "--repo-url", str(case.remote),
            "--open-pr", "--github-url", gh.url, "--github-repo", "acme/deploy", "--cache-dir", str(tmp_path / "c"),
            "--policy", str(pol)]  # fmt: skip
    t = time.monotonic()
    r = runner.invoke(cli, args)
    assert r.exit_code != 0 and "max_retry_wait_seconds" in r.output and time.monotonic() - t < 1.9


# --- 6. never a branch deleted under an open PR --------------------------------------------


def test_a_pr_created_behind_a_502_keeps_its_branch_and_is_used(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    gh.fail("POST /repos/acme/deploy/pulls", 502, body={"message": "Server Error"}, times=10, after=True)
    out = case.run(github(gh))
    assert out.action == "opened" and out.pr is not None and out.pr.number == 1
    assert case.branches() == [out.branch] and [p["head"] for p in gh.repo.pulls] == [out.branch]


def test_when_the_lookup_fails_too_the_branch_is_kept(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    gh.fail("POST /repos/acme/deploy/pulls", 502, body={"message": "Server Error"}, times=10, after=True)
    gh.fail("GET /repos/acme/deploy/pulls", 502, body={"message": "Server Error"}, times=10, when=lambda q: "head" in q)
    with pytest.raises(TemporaryError, match="branch is kept"):
        case.run(github(gh))
    assert len(case.branches()) == 1 and gh.repo.pulls[0]["head"] == case.branches()[0]
    gh.failures.clear()
    out = case.run(github(gh))  # the next run finds its PR and its branch
    assert out.action == "unchanged" and out.pr is not None and out.pr.number == 1


# --- secrets in URLs and errors --------------------------------------------------------------


def test_redact_hides_the_token_and_credentials_in_urls(tmp_path: Path) -> None:
    url = f"https://deployer:{TOKEN}@127.0.0.1:9/acme/deploy.git"
    c = Checkout(url, tmp_path / "cache", token=TOKEN)
    assert TOKEN not in c.redact(f"fatal: {url} and {TOKEN}") and "deployer" not in c.redact(url)
    with pytest.raises(RemediatorError) as e:
        c.sync("main")
    assert TOKEN not in str(e.value) and "deployer:" not in str(e.value)
