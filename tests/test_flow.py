"""One incident flow for every face: `remediator fix --open-pr` and the service's FlowRunner open the
same pull request for the same incident; a dry run through the flow writes nothing anywhere."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.errors import InputError
from remediator.evidence.sources.snapshot import SnapshotSource
from remediator.flow import (
    LocalBranch,
    NoRepository,
    ProviderKind,
    PullRequestTarget,
    Refusal,
    UsageError,
    provider_factory,
    pull_request_target,
    run,
)
from remediator.policy import Policy
from remediator.publish.examples import example_remote
from remediator.review.notes import review_notes
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader

from .conftest import EXAMPLES

runner = CliRunner()
EXAMPLE = EXAMPLES / "tmcp-marketing" / "fluentd-rbac"
APP = "tmcp-gitops"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def refs(remote: Path) -> str:
    return git(remote, "for-each-ref", "--format=%(refname) %(objectname)")


def files(folder: Path) -> list[tuple[str, str]]:
    return sorted((p.name, p.read_text()) for p in folder.glob("*")) if folder.is_dir() else []


def local_target(tmp: Path, remote: Path, dry_run: bool = False) -> PullRequestTarget:
    policy = Policy()
    return pull_request_target(
        ProviderKind.local, policy, tmp / "cache", pr_dir=tmp / "prs", repo_url=str(remote), dry_run=dry_run,
        review_notes=review_notes(policy),
    )  # fmt: skip


def test_the_cli_and_the_service_open_the_same_pull_request(tmp_path: Path) -> None:
    args = ["fix", "--example", "tmcp-marketing/fluentd-rbac", "--open-pr", "--provider", "local",
            "--workdir", str(tmp_path / "cli")]  # fmt: skip
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    [cli_pr] = [json.loads(p.read_text()) for p in (tmp_path / "cli").glob("*/pull-requests/pr-*.json")]

    snaps = tmp_path / "snapshots"
    shutil.copytree(EXAMPLE / "cluster", snaps / APP)
    remote = example_remote(EXAMPLE / "repo", tmp_path / "svc" / "remote.git")
    policy = Policy()
    cache = tmp_path / "svc" / "cache"
    flow_runner = FlowRunner(
        snapshot_loader(snaps), snapshot_applications(snaps), policy,
        provider_factory(ProviderKind.local, policy, cache, pr_dir=tmp_path / "svc" / "prs"), cache,
        Journal(tmp_path / "journal.sqlite"), repo_url_override=lambda app: str(remote),
        review_notes=review_notes(policy),
    )  # fmt: skip
    stages: list[str] = []
    res = flow_runner.run(APP, {}, stages.append)
    assert (res.state, res.outcome) == ("done", "opened"), res
    assert stages == ["evidence", "diagnose", "propose"] and set(res.durations) == set(stages)
    [svc_pr] = [json.loads(p.read_text()) for p in (tmp_path / "svc" / "prs").glob("pr-*.json")]

    assert svc_pr["branch"] == cli_pr["branch"] and svc_pr["branch"].startswith(f"remediator/{APP}/rbac-forbidden-")
    assert svc_pr["title"] == cli_pr["title"]
    assert svc_pr["body"] == cli_pr["body"]
    assert "remediator review of this change" in svc_pr["body"]  # the notes the face gave reached the body
    assert git(remote, "rev-parse", svc_pr["branch"]) != git(remote, "rev-parse", "main")


def test_a_dry_run_through_the_flow_leaves_the_remote_and_the_pr_folder_unchanged(tmp_path: Path) -> None:
    ev = SnapshotSource(EXAMPLE / "cluster").load(APP)
    remote = example_remote(EXAMPLE / "repo", tmp_path / "remote.git")
    before = refs(remote)
    res = run(ev, Policy(), local_target(tmp_path, remote, dry_run=True), APP)
    assert res.outcome is not None and res.outcome.dry_run and res.outcome.pr is None
    assert any(w.startswith("open a pull request remediator/") for w in res.outcome.would), res.outcome.would
    assert refs(remote) == before and not (tmp_path / "prs").exists()

    opened = run(ev, Policy(), local_target(tmp_path, remote), APP)  # a real run, then a dry one on top
    assert opened.outcome is not None and opened.outcome.action == "opened"
    before, prs = refs(remote), files(tmp_path / "prs")
    again = run(ev, Policy(), local_target(tmp_path, remote, dry_run=True), APP)
    assert again.outcome is not None and again.outcome.action == "unchanged" and again.outcome.dry_run
    assert opened.outcome.pr is not None and again.outcome.would == [f"comment on PR #{opened.outcome.pr.number}"]
    assert refs(remote) == before and files(tmp_path / "prs") == prs


def test_a_dry_run_to_a_local_branch_commits_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE / "repo", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "init")
    ev = SnapshotSource(EXAMPLE / "cluster").load(APP)
    res = run(ev, Policy(), LocalBranch(repo, dry_run=True), APP)
    assert res.fix is not None and res.fix.edits and res.branch is None
    assert git(repo, "branch", "--format=%(refname:short)").split() == ["main"]
    res = run(ev, Policy(), LocalBranch(repo), APP)
    assert res.branch is not None and res.branch in git(repo, "branch", "--format=%(refname:short)").split()
    assert git(repo, "status", "--porcelain") == ""  # the work tree is untouched


def test_a_gate_stops_the_run_before_anything_is_written(tmp_path: Path) -> None:
    """The clone is read (what Git declares feeds the diagnosis), but a gate that refuses after the
    diagnosis stops the run before any branch, commit, push or pull request."""
    ev = SnapshotSource(EXAMPLE / "cluster").load(APP)
    remote = example_remote(EXAMPLE / "repo", tmp_path / "remote.git")
    before = refs(remote)
    seen: list[str] = []
    res = run(ev, Policy(), local_target(tmp_path, remote), APP, seen.append, lambda ev, d: Refusal("capped", "enough"))
    assert res.refusal == Refusal("capped", "enough") and res.outcome is None and seen == ["evidence", "diagnose"]
    assert refs(remote) == before and not (tmp_path / "prs").exists()


def test_no_repository_and_no_github_slug_are_usage_errors(tmp_path: Path) -> None:
    ev = SnapshotSource(EXAMPLE / "cluster").load(APP)
    assert ev.app is not None
    ev.app["spec"]["source"].pop("repoURL")
    target = PullRequestTarget(provider_factory(ProviderKind.local, Policy(), tmp_path), tmp_path)
    with pytest.raises(NoRepository, match="give --repo-url"):
        run(ev, Policy(), target, APP)
    github = provider_factory(ProviderKind.github, Policy(), tmp_path, token="t")
    with pytest.raises(UsageError, match="give --github-repo") as e:
        github("/srv/git/deploy.git")
    assert isinstance(e.value, InputError)


def test_publish_shows_the_review_notes_it_is_given_and_never_runs_the_review(tmp_path: Path) -> None:
    ev = SnapshotSource(EXAMPLE / "cluster").load(APP)

    def broken(root: Path, edited: object) -> list[str]:
        raise RuntimeError("checker crashed")

    for name, notes, expect in (
        ("none", None, None),
        ("given", lambda root, edited: [f"NOTE on {', '.join(sorted(edited))}"], "- NOTE on apps/fluentd.yaml"),
        ("broken", broken, "- review not run: RuntimeError: checker crashed"),
    ):
        remote = example_remote(EXAMPLE / "repo", tmp_path / name / "remote.git")
        prov = provider_factory(ProviderKind.local, Policy(), tmp_path / name)
        res = run(ev, Policy(), PullRequestTarget(prov, tmp_path / name, repo_url=str(remote), review_notes=notes), APP)
        assert res.outcome is not None and res.outcome.action == "opened", res.outcome
        body = (tmp_path / name / "pull-requests" / "pr-1.md").read_text()
        if expect is None:
            assert "remediator review of this change" not in body
        else:
            assert "remediator review of this change" in body and expect in body


def test_the_service_keeps_its_attempt_cap_and_refuses_an_app_without_a_repository(tmp_path: Path) -> None:
    snaps = tmp_path / "snapshots"
    shutil.copytree(EXAMPLE / "cluster", snaps / APP)
    journal = Journal(tmp_path / "journal.sqlite")
    policy = Policy()
    remote = example_remote(EXAMPLE / "repo", tmp_path / "remote.git")

    def flow_runner(override: str | None) -> FlowRunner:
        prov = provider_factory(ProviderKind.local, policy, tmp_path / "cache")
        return FlowRunner(
            snapshot_loader(snaps), snapshot_applications(snaps), policy, prov, tmp_path / "cache", journal,
            max_prs_per_cause=1, repo_url_override=lambda app: override,
        )  # fmt: skip

    first = flow_runner(str(remote)).run(APP, {}, lambda s: None)
    assert (first.state, first.outcome) == ("done", "opened") and first.cause
    capped = flow_runner(str(remote)).run(APP, {}, lambda s: None)
    assert (capped.state, capped.outcome, capped.cause) == ("refused", "capped", first.cause), capped
    assert set(capped.durations) == {"evidence", "diagnose"}

    app_file = snaps / APP / "app.yaml"
    app_file.write_text(app_file.read_text().replace("repoURL:", "x-repoURL:"))
    journal2 = Journal(tmp_path / "journal2.sqlite")
    no_repo = FlowRunner(
        snapshot_loader(snaps), snapshot_applications(snaps), policy,
        provider_factory(ProviderKind.local, policy, tmp_path / "c2"), tmp_path / "c2", journal2,
    ).run(APP, {}, lambda s: None)  # fmt: skip
    assert (no_repo.state, no_repo.outcome) == ("refused", "no-repo") and "names no repoURL" in no_repo.message
    assert set(no_repo.durations) == {"evidence", "diagnose"}
    assert not (tmp_path / "c2").exists()


def test_the_service_flow_sees_what_git_declares_through_the_one_source_index(tmp_path: Path) -> None:
    """The flow reads the app's Git source from its clone (the base branch) before it diagnoses, so
    the service's detectors see the same desired objects as `diagnose --repo` and the remedies."""
    from remediator.edits.index import SourceIndex

    from .conftest import SCENARIOS

    sc = SCENARIOS / "oom-kustomize-overlay-patch"
    remote = example_remote(sc / "repo", tmp_path / "remote.git")
    ev = SnapshotSource(sc / "cluster").load(None)
    assert not ev.desired
    res = run(ev, Policy(), local_target(tmp_path, remote, dry_run=True))
    expected = SourceIndex(sc / "repo").desired(ev.app, [])
    key = lambda o: (o.get("kind"), (o.get("metadata") or {}).get("name"))  # noqa: E731
    assert sorted(map(key, res.evidence.desired)) == sorted(map(key, expected)) != []
    deploy = next(o for o in res.evidence.desired if o.get("kind") == "Deployment")
    assert deploy == next(o for o in expected if o.get("kind") == "Deployment")  # the merged object, not the patch
