"""Pull requests end to end: real git (bare remotes on disk, real clones and pushes), PyGithub against
a FAKE GitHub REST server on 127.0.0.1, and the local provider."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.diagnose import Diagnosis, diagnose
from remediator.errors import ForbiddenError, InputError, RemediatorError
from remediator.eval import load_scenario
from remediator.evidence.store import Evidence
from remediator.policy import Policy
from remediator.publish.checkout import Checkout
from remediator.publish.examples import example_remote
from remediator.publish.github import GitHubProvider, repo_slug
from remediator.publish.local import LocalProvider
from remediator.publish.propose import Outcome, propose
from remediator.redact import redact
from tests.fakes.github_api import FakeGitHub

from .conftest import EXAMPLES, SCENARIOS

runner = CliRunner()
TOKEN = "ghp_faketoken1234567890abcdefghij0123456789"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


class Case:
    """A scenario's snapshot, a bare remote holding its repo, a clone cache."""

    def __init__(self, tmp: Path, scenario: Path) -> None:
        self.scenario = tmp / "scenario"
        shutil.copytree(scenario, self.scenario)
        self.remote = example_remote(self.scenario / "repo", tmp / "remote.git")
        self.cache = tmp / "cache"
        ev, truth = load_scenario(self.scenario)
        self.ev: Evidence = ev
        self.d: Diagnosis = diagnose(ev, truth.get("app"))
        self.policy = Policy.model_validate(
            yaml.safe_load((self.scenario / "policy.yaml").read_text())
            if (self.scenario / "policy.yaml").is_file()
            else {}
        )

    def checkout(self) -> Checkout:
        return Checkout(str(self.remote), self.cache)

    def branches(self) -> list[str]:
        return [b.strip().lstrip("* ") for b in git(self.remote, "branch", "--list", "remediator/*").splitlines()]

    def run(self, provider: object, policy: Policy | None = None, d: Diagnosis | None = None) -> Outcome:
        return propose(d or self.d, self.ev, policy or self.policy, provider, self.checkout(), "main")  # type: ignore[arg-type]


@pytest.fixture
def gh() -> FakeGitHub:
    with FakeGitHub(token=TOKEN) as api:
        yield api


def github(api: FakeGitHub, token: str = TOKEN) -> GitHubProvider:
    return GitHubProvider(
        "acme/deploy", token, api.url, retries=3, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0
    )


def memory_case(tmp_path: Path) -> Case:
    return Case(tmp_path, SCENARIOS / "seed001-memory-demo-oom")


# --- once per app and cause ------------------------------------------------------------


def test_one_pr_after_five_repeated_incidents(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    runs = [case.run(github(gh)) for _ in range(5)]
    outcomes = [o.action for o in runs]
    assert outcomes == ["opened", "unchanged", "unchanged", "unchanged", "unchanged"]
    assert runs[1].message.endswith("added the new evidence as a comment")  # says so only when it did
    assert all(o.message.endswith("this incident was already commented") for o in runs[2:])
    assert gh.count("POST", r"/repos/acme/deploy/pulls") == 1
    assert len(gh.repo.pulls) == 1 and len(case.branches()) == 1
    assert len(gh.repo.comments.get(1, [])) == 1  # the same incident is told once
    assert not gh.unexpected


def test_pr_title_body_sections_labels_and_marker(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    policy = case.policy.model_copy(
        update={
            "pull_requests": case.policy.pull_requests.model_copy(
                update={
                    "labels": ["remediator", "oom"],
                    "reviewers": ["sre-oncall"],
                    "runbook": "https://wiki/runbooks/oom",
                    "argocd_url": "https://cd.example",
                }
            )
        }
    )
    out = case.run(github(gh), policy)
    assert out.action == "opened" and out.pr is not None
    pr = gh.repo.pulls[0]
    assert pr["title"] == "fix(memory-demo): set limits.memory of Deployment memory-demo to 192Mi (oom-killed)"
    body = pr["body"]
    heads = re.findall(r"^## (.+)$", body, re.M)
    assert heads == ["What is broken", "Root cause", "Evidence", "The change", "Risk and rollback", "Confidence"]
    assert "https://cd.example/applications/argocd/memory-demo" in body and "Runbook: https://wiki/runbooks/oom" in body
    assert (
        "<details>" in body
        and "| `deploy/memory-demo/deployment.yaml` | `spec.template.spec.containers[name=memory-demo].resources.limits.memory`"
        in body
    )
    assert "`100Mi` | `192Mi`" in body and "This diagnosis is wrong if" in body
    m = re.search(r"<!-- remediator: (\{.*\}) -->", body)
    assert m and set(json.loads(m.group(1))) == {"app", "cause", "category", "evidence", "fingerprint"}
    assert pr["labels"] == ["oom", "remediator"] and pr["reviewers"] == ["sre-oncall"]
    assert pr["head"] == out.branch and out.branch.startswith("remediator/memory-demo/oom-killed-")
    diff = git(case.remote, "diff", "main", out.branch)
    assert "-            memory: 100Mi" in diff and "+            memory: 192Mi" in diff
    log = git(case.remote, "log", "-1", "--format=%an <%ae>%n%s%n%b", out.branch)
    assert log.startswith("remediator <remediator@users.noreply.github.com>") and "Remediator-Fingerprint:" in log


def test_labels_and_reviewers_are_best_effort(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    gh.fail("POST /repos/acme/deploy/issues/1/labels", 422, body={"message": "Validation Failed"})
    out = case.run(github(gh))
    assert out.action == "opened" and out.warnings and "labels" in out.warnings[0]


def test_a_pull_request_already_exists_is_success(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    first = case.run(github(gh))
    gh.repo.pulls[0]["body"] = "a PR someone edited; the marker is gone"
    again = case.run(github(gh))
    assert again.action == "opened" and again.pr is not None and again.pr.number == first.pr.number  # type: ignore[union-attr]
    assert gh.count("POST", r"/repos/acme/deploy/pulls") == 2 and len(gh.repo.pulls) == 1


def test_closed_without_merge_is_not_proposed_again(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    case.run(github(gh))
    gh.close_pull(1, merged=False)
    out = case.run(github(gh))
    assert out.action == "rejected-before" and "closed without merging" in out.message
    assert gh.count("POST", r"/repos/acme/deploy/pulls") == 1


def test_a_different_change_force_pushes_and_updates_the_pr(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    first = case.run(github(gh))
    bigger = case.policy.model_copy(update={"memory": case.policy.memory.model_copy(update={"factor": 3.0})})
    out = case.run(github(gh), bigger)
    assert out.action == "updated" and out.branch == first.branch
    assert "+            memory: 320Mi" in git(case.remote, "diff", "main", str(out.branch))
    assert gh.count("PATCH", r"/repos/acme/deploy/pulls/1") == 1 and "320Mi" in gh.repo.pulls[0]["title"]
    assert len(gh.repo.pulls) == 1


def test_someone_elses_commit_stops_force_pushes(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    first = case.run(github(gh))
    human = tmp_path / "human"
    git(tmp_path, "clone", "-q", "-b", str(first.branch), str(case.remote), str(human))
    (human / "NOTES.md").write_text("tuning by hand\n")
    git(human, "add", "-A")
    git(human, "-c", "user.name=Ana", "-c", "user.email=ana@example.org", "commit", "-qm", "hand tuning")
    git(human, "push", "-q", "origin", str(first.branch))
    tip = git(case.remote, "rev-parse", str(first.branch))
    bigger = case.policy.model_copy(update={"memory": case.policy.memory.model_copy(update={"factor": 3.0})})
    out = case.run(github(gh), bigger)
    assert out.action == "held" and "ana@example.org" in out.message
    assert git(case.remote, "rev-parse", str(first.branch)) == tip
    assert "320Mi" in gh.repo.comments[1][-1]["body"]


def test_healthy_again_comments_once_and_closes_when_the_policy_says(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    case.run(github(gh))
    healthy = Diagnosis(app="memory-demo", findings=[], health="Healthy", sync="Synced")
    assert case.run(github(gh), d=healthy).action == "healthy-noted"
    assert case.run(github(gh), d=healthy).action == "healthy-noted"
    assert sum("Healthy again" in c["body"] for c in gh.repo.comments[1]) == 1
    closing = case.policy.model_copy(
        update={"pull_requests": case.policy.pull_requests.model_copy(update={"close_when_healthy": True})}
    )
    case.run(github(gh), closing, d=healthy)
    assert gh.repo.pulls[0]["state"] == "closed"


# --- faults ------------------------------------------------------------------------------


def test_retries_after_502_and_secondary_rate_limit(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    gh.fail(
        "GET /repos/acme/deploy", 403, {"Retry-After": "1"}, {"message": "You have exceeded a secondary rate limit."}
    )
    gh.fail("POST /repos/acme/deploy/pulls", 502, body={"message": "Server Error"})
    out = case.run(github(gh))
    assert out.action == "opened"
    assert gh.count("GET", r"/repos/acme/deploy") == 2 and gh.count("POST", r"/repos/acme/deploy/pulls") == 2
    assert len(gh.repo.pulls) == 1


def test_bad_token_fails_before_anything_is_pushed_and_is_never_printed(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    bad = "ghp_wrongtoken000000000000000000000000000"
    with pytest.raises(ForbiddenError) as e:
        case.run(github(gh, bad))
    assert "401" in str(e.value) and bad not in str(e.value) and "\n" not in str(e.value)
    assert case.branches() == []
    assert all(bad not in r.path and bad not in json.dumps(r.body) for r in gh.requests)


def test_no_push_permission_fails_before_push(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    gh.repo.push = False
    with pytest.raises(ForbiddenError, match="no push permission"):
        case.run(github(gh))
    assert case.branches() == []


def test_missing_token_is_a_one_line_error() -> None:
    with pytest.raises(InputError, match="GITHUB_TOKEN is not set"):
        GitHubProvider("acme/deploy", None)


def test_pr_failure_leaves_no_orphan_branch_and_the_next_run_recovers(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    gh.fail("POST /repos/acme/deploy/pulls", 500, body={"message": "Server Error"}, times=4)
    with pytest.raises(RemediatorError):
        case.run(github(gh))
    assert case.branches() == [] and gh.repo.pulls == []
    out = case.run(github(gh))
    assert out.action == "opened" and case.branches() == [out.branch]


def test_non_fast_forward_push_is_retried_once_from_the_new_base(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    hook = case.remote / "hooks" / "pre-receive"
    flag = tmp_path / "rejected-once"
    hook.write_text(
        f"#!/bin/sh\nif [ ! -e {flag} ]; then touch {flag}; echo 'error: failed to push: non-fast-forward' >&2; exit 1; fi\nexit 0\n"
    )
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    out = case.run(github(gh))
    assert flag.exists() and out.action == "opened" and case.branches() == [out.branch]


def test_clone_errors_never_show_the_token(tmp_path: Path) -> None:
    c = Checkout("https://127.0.0.1:9/acme/deploy.git", tmp_path / "cache", token=TOKEN)
    with pytest.raises(RemediatorError) as e:
        c.sync("main")
    assert TOKEN not in str(e.value)
    assert not list((tmp_path / "cache").glob("*/.git/config"))


# --- secrets never reach a PR ----------------------------------------------------------

SECRETS = [
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl",
    "postgres://app:hunter2-s3cret@db.prod:5432/app",
    "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHNlY3JldCBibG9iIDEyMzQ1Njc4OTA=",
    "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAx7\\n-----END RSA PRIVATE KEY-----",
]


def test_planted_secrets_never_reach_a_pr_body_or_comment(tmp_path: Path, gh: FakeGitHub) -> None:
    src = tmp_path / "src"
    shutil.copytree(SCENARIOS / "seed001-memory-demo-oom", src)
    log = next((src / "cluster" / "logs").rglob("*.log"))
    log.write_text(log.read_text() + "".join(f"connecting with {s}\n" for s in SECRETS) + "OOMKilled\n")
    (tmp_path / "run").mkdir()
    case = Case(tmp_path / "run", src)
    # make the secret lines part of the finding's evidence
    f = case.d.top
    assert f is not None
    from remediator.model import EvidenceLine

    planted = replace(f, evidence=(*f.evidence, *(EvidenceLine("log x", f"connecting with {s}") for s in SECRETS)))
    d = replace(case.d, findings=[planted, *case.d.findings[1:]])
    case.run(github(gh), d=d)
    case.run(
        github(gh),
        d=replace(d, findings=[replace(planted, evidence=(*planted.evidence, EvidenceLine("log y", SECRETS[1])))]),
    )
    sent = json.dumps([r.body for r in gh.requests])
    for needle in (
        "hunter2-s3cret",
        "c2lnbmF0dXJlc2lnbmF0dXJl",
        "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHNlY3JldCBibG9iIDEyMzQ1Njc4OTA",
        "MIIEowIBAAKCAQEAx7",
    ):
        assert needle not in sent


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Authorization: Bearer abc.def.ghijklmnop", "abc.def"),
        ("DATABASE_URL=postgres://u:pa55w0rd@h/db", "pa55w0rd"),
        ("password: hunter2", "hunter2"),
        ("key=" + "A" * 44, "A" * 44),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXk"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abc"),
    ],
)
def test_redaction(text: str, gone: str) -> None:
    assert gone not in redact(text)


# --- the local provider and the CLI ------------------------------------------------------


def test_local_provider_flow_twice(tmp_path: Path) -> None:
    case = Case(tmp_path, EXAMPLES / "tmcp-marketing" / "fluentd-rbac")
    prov = LocalProvider(tmp_path / "prs")
    first = case.run(prov)
    assert first.action == "opened" and (tmp_path / "prs" / "pr-1.md").is_file()
    assert "subject namespace of ClusterRoleBinding fluentd to argocd" in (tmp_path / "prs" / "pr-1.md").read_text()
    assert case.run(prov).action == "unchanged"
    assert len(list((tmp_path / "prs").glob("pr-*.json"))) == 1


def test_readme_first_command_runs_the_whole_flow_on_the_example(tmp_path: Path) -> None:
    args = ["fix", "--example", "tmcp-marketing", "--open-pr", "--provider", "local", "--workdir", str(tmp_path)]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert r.output.count("opened: opened PR #1") == 3 and "no-edit: no pull request: no Git fix" in r.output
    bodies = sorted(tmp_path.glob("*/pull-requests/pr-1.md"))
    assert len(bodies) == 3 and all(str(b) in r.output for b in bodies)
    r = runner.invoke(cli, args)
    assert r.exit_code == 0 and r.output.count("unchanged:") == 3


def cli_args(case: Case, gh: FakeGitHub, cache: Path, *extra: str) -> list[str]:
    return [
        "fix", "--snapshot", str(case.scenario / "cluster"), "--app", "memory-demo", "--repo-url", str(case.remote),
        "--open-pr", *extra, "--github-url", gh.url, "--github-repo", "acme/deploy", "--cache-dir", str(cache),
    ]  # fmt: skip


def test_cli_github_provider_against_the_fake(tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    case = memory_case(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    args = [*cli_args(case, gh, tmp_path / "c2"), "--format", "json"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["action"] == "opened" and out["pr"]["number"] == 1 and TOKEN not in r.output
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_revoked000000000000000000000000000000")
    r = runner.invoke(cli, args)
    assert r.exit_code == 4 and "401" in r.output and "revoked" not in r.output


def test_repo_slug() -> None:
    assert repo_slug("https://github.com/acme/deploy.git") == "acme/deploy"
    assert repo_slug("git@github.com:acme/deploy.git") == "acme/deploy"
    assert repo_slug("https://github.example.org/platform/gitops") == "platform/gitops"
    assert repo_slug("/srv/git/deploy.git") is None


def test_cli_draft_flag(tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    case = memory_case(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    args = cli_args(case, gh, tmp_path / "c", "--draft")
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert gh.repo.pulls[0]["draft"] is True


def test_after_the_merge_the_pr_says_whether_it_worked_and_the_fix_is_not_reproposed(
    tmp_path: Path, gh: FakeGitHub
) -> None:
    case = memory_case(tmp_path)
    assert case.d.sync == "Synced"
    case.run(github(gh))
    gh.close_pull(1, merged=True)
    out = case.run(github(gh))  # still Degraded with the same cause, same change
    assert out.action == "fixed-before" and "merged" in out.message
    assert gh.count("POST", r"/repos/acme/deploy/pulls") == 1
    [c] = gh.repo.comments[1]
    assert "After the merge: Argo CD synced revision" in c["body"] and "did not resolve it" in c["body"]
    case.run(github(gh))
    assert len(gh.repo.comments[1]) == 1  # said once


def test_after_the_merge_a_healthy_app_is_reported_fixed(tmp_path: Path, gh: FakeGitHub) -> None:
    case = memory_case(tmp_path)
    case.run(github(gh))
    gh.close_pull(1, merged=True)
    healthy = Diagnosis(app="memory-demo", findings=[], health="Healthy", sync="Synced")
    assert case.run(github(gh), d=healthy).action == "healthy"
    assert "The fix worked." in gh.repo.comments[1][0]["body"]
