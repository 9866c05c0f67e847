"""``remediator fix``: the fix for the root cause, as a diff, a local branch or a pull request."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from remediator.cli.common import (
    ArgoNamespace,
    ArgoURL,
    Concurrency,
    Exit,
    Format,
    Kubeconfig,
    KubeContext,
    NoRedact,
    PolicyOption,
    ProbeModels,
    ProbeRegistries,
    PrometheusURL,
    ProviderName,
    app,
    errors_as_exit_codes,
    example_app,
    examples_root,
    fail,
    join_reports,
    live,
    load_snapshot,
    no_example,
    policy_path,
    scenario_dirs,
)
from remediator.evidence.store import Evidence
from remediator.flow import FlowResult, LocalBranch, PullRequestTarget, pull_request_target, run
from remediator.policy import Policy, load_policy


@dataclass(frozen=True)
class Job:
    """One app to fix: its name in the output, where its evidence, repository and policy are."""

    name: str
    snapshot: Path | None  # None: the live cluster
    app: str | None
    repo: Path | None
    policy: Path | None
    example: bool = False


@app.command("fix")
def fix_cmd(
    app_name: Annotated[
        str | None, typer.Option("--app", help="Argo CD Application (live cluster, or one in the snapshot)")
    ] = None,
    snapshot: Annotated[Path | None, typer.Option("--snapshot", help="read evidence from a snapshot folder")] = None,
    example: Annotated[
        str | None,
        typer.Option(
            "--example", help="examples shipped with the package, e.g. tmcp-marketing or tmcp-marketing/fluentd-rbac"
        ),
    ] = None,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo", help="local checkout of the app's Git repository (with --open-pr: a local remote to clone)"
        ),
    ] = None,
    policy_file: PolicyOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the reasoning and the diff; change nothing")
    ] = False,
    open_pr: Annotated[
        bool, typer.Option("--open-pr", help="clone, branch, commit, push and open (or update) the pull request")
    ] = False,
    provider: Annotated[ProviderName, typer.Option("--provider", help="where pull requests go")] = ProviderName.github,
    draft: Annotated[
        bool, typer.Option("--draft", help="open pull requests as drafts (also: pull_requests.draft)")
    ] = False,
    summary: Annotated[
        Path | None,
        typer.Option("--summary", help="dry run: append findings and diff as Markdown (e.g. $GITHUB_STEP_SUMMARY)"),
    ] = None,
    github_url: Annotated[
        str, typer.Option("--github-url", help="GitHub API URL (GitHub Enterprise: https://HOST/api/v3)")
    ] = "https://api.github.com",
    github_repo: Annotated[
        str | None, typer.Option("--github-repo", help="OWNER/NAME (default: from the repository URL)")
    ] = None,
    repo_url: Annotated[
        str | None, typer.Option("--repo-url", help="repository to clone (default: the Application's repoURL)")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="where clones are kept (default: ~/.cache/remediator)")
    ] = None,
    pr_dir: Annotated[
        Path | None, typer.Option("--pr-dir", help="local provider: folder for the PR records and bodies")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="--example with --open-pr: folder for the example's remotes, clones and PRs"),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.text,
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    argocd_namespace: ArgoNamespace = "argocd",
    probe_models: ProbeModels = True,
    probe_registries: ProbeRegistries = False,
    argocd_url: ArgoURL = None,
    prometheus_url: PrometheusURL = None,
    no_redact: NoRedact = False,
    concurrency: Concurrency = None,
) -> None:
    """Propose the fix for the root cause as a minimal edit of the app's manifests.

    --dry-run prints the reasoning and a unified diff. --open-pr runs the whole flow: a pull request
    per app and cause, updated on repeated incidents. Otherwise the change is committed on a new
    local branch remediator/<app>/<category>-<fingerprint> (the checkout itself is not touched)."""
    from remediator.assist.hook import describe

    with errors_as_exit_codes():
        jobs = _jobs(app_name, snapshot, example, repo, policy_file, dry_run, open_pr)
        reports: dict[str, str] = {}
        for job in jobs:
            policy = load_policy(job.policy)
            if draft:
                policy = policy.model_copy(
                    update={"pull_requests": policy.pull_requests.model_copy(update={"draft": True})}
                )
            if job.repo is None and not (open_pr and (repo_url or job.snapshot is None)):
                raise fail("give --repo PATH: the local checkout of the app's Git repository", Exit.USAGE)
            evidence = _evidence(
                job, kubeconfig, context, argocd_namespace, probe_models, argocd_url, probe_registries, prometheus_url,
                concurrency,
            )  # fmt: skip
            target: LocalBranch | PullRequestTarget
            if open_pr:
                target = _pr_target(job, policy, provider, github_url, github_repo, repo_url, cache_dir, pr_dir,
                                    workdir, dry_run)  # fmt: skip
            else:
                assert job.repo is not None
                target = LocalBranch(job.repo, dry_run)
            res = run(evidence, policy, target, job.app)
            if open_pr:
                out = _pull_request_report(res, fmt)
            else:
                out = _local_report(res, fmt, summary, job.name if len(jobs) > 1 else None, not no_redact)
            a = res.assessment
            if fmt is Format.text and (a.explanation or a.investigation):
                out += describe(a.explanation, a.investigation)
            if not no_redact:  # everything printed is redacted, whichever path wrote it
                from remediator.redact import redact, redact_data

                out = json.dumps(redact_data(json.loads(out)), indent=2) + "\n" if fmt is Format.json else redact(out)
            reports[job.name] = out
        typer.echo(join_reports(reports, fmt, several=len(jobs) > 1), nl=False)


def _jobs(
    app_name: str | None,
    snapshot: Path | None,
    example: str | None,
    repo: Path | None,
    policy_file: Path | None,
    dry_run: bool,
    open_pr: bool,
) -> list[Job]:
    if example is not None:
        root = examples_root()
        target = root / example
        scenarios = scenario_dirs(target) if target.is_dir() else []
        if not scenarios:
            raise no_example(example)
        if not dry_run and not open_pr:
            raise fail("examples are packaged read-only: use --dry-run, or --open-pr --provider local", Exit.USAGE)
        return [
            Job(
                sc.relative_to(root).as_posix(),
                sc / "cluster",
                example_app(sc, app_name),
                sc / "repo",
                policy_file or (sc / "policy.yaml" if (sc / "policy.yaml").is_file() else None),
                example=True,
            )
            for sc in scenarios
        ]
    if snapshot is not None:
        return [Job(snapshot.name, snapshot, app_name, repo, policy_path(policy_file))]
    if app_name is not None:
        return [Job(app_name, None, app_name, repo, policy_path(policy_file))]
    raise fail("give --app NAME (live cluster), --snapshot DIR or --example NAME", Exit.USAGE)


def _evidence(
    job: Job,
    kubeconfig: Path | None,
    context: str | None,
    ns: str,
    probe_models: bool,
    argocd_url: str | None,
    probe_registries: bool = False,
    prometheus_url: str | None = None,
    concurrency: int | None = None,
) -> Callable[[], Evidence]:
    """The job's evidence reader: its snapshot, else the live cluster; with what its repository declares."""
    if job.snapshot is not None:
        snap, repo = job.snapshot, job.repo if job.repo and job.repo.is_dir() else None
        return lambda: load_snapshot(snap, job.app, repo)
    return lambda: live(
        str(job.app),
        kubeconfig,
        context,
        ns,
        probe_models,
        argocd_url=argocd_url,
        repo=job.repo,
        probe_registries=probe_registries,
        prometheus_url=prometheus_url,
        policy_file=job.policy,
        concurrency=concurrency,
    )


def _pr_target(
    job: Job,
    policy: Policy,
    provider: ProviderName,
    github_url: str,
    github_repo: str | None,
    repo_url: str | None,
    cache_dir: Path | None,
    pr_dir: Path | None,
    workdir: Path | None,
    dry_run: bool,
) -> PullRequestTarget:
    """Where the job's pull request goes; an example gets its own remote, clones and PR folder
    under ``workdir``."""
    from remediator.review.notes import review_notes

    url, revision = repo_url or (str(job.repo) if job.repo is not None else None), None
    if job.example:
        from remediator.publish.examples import example_remote

        if provider is not ProviderName.local:
            raise fail("the embedded examples run with --provider local", Exit.USAGE)
        base = (workdir or Path("remediator-example")).resolve() / job.name.replace("/", "-")
        url = str(example_remote(job.repo, base / "remote.git"))
        cache_dir, pr_dir, revision = base / "cache", base / "pull-requests", "main"
    return pull_request_target(
        provider, policy, cache_dir, github_url, github_repo, pr_dir, url, revision, dry_run,
        review_notes(policy),
    )  # fmt: skip


def _local_report(res: FlowResult, fmt: Format, summary: Path | None, title: str | None, redacted: bool) -> str:
    from remediator.views import fix as fixreport

    assert res.fix is not None
    if summary is not None:
        with summary.open("a", encoding="utf-8") as fh:
            fh.write(fixreport.to_markdown(res.fix, title, redacted))
    if fmt is Format.json:
        return fixreport.to_json(res.fix, res.branch, redacted) + "\n"
    if fmt is Format.markdown:  # the example's heading comes from join_reports
        return fixreport.to_markdown(res.fix, None, redacted)
    return fixreport.to_text(res.fix, res.branch, redacted)


def _pull_request_report(res: FlowResult, fmt: Format) -> str:
    from remediator.views import fix as fixreport

    out, checkout = res.outcome, res.checkout
    assert out is not None and checkout is not None
    if fmt is Format.json:
        data = {
            "action": out.action,
            "message": out.message,
            "branch": out.branch,
            "pr": {"number": out.pr.number, "url": out.pr.url, "branch": out.pr.branch} if out.pr else None,
            "warnings": out.warnings,
            "fix": json.loads(fixreport.to_json(out.fix, out.branch)) if out.fix else None,
            "dry_run": out.dry_run,
            "would": out.would,
        }
        return json.dumps(data, indent=2) + "\n"
    if fmt is Format.markdown:
        md = [f"**{out.action}**{' (dry run)' if out.dry_run else ''}: {out.message}", ""]
        md += [f"- would: {w}" for w in out.would] if out.dry_run else []
        md += [f"- branch: `{out.branch}` (remote: {checkout.redact(checkout.url)})"] if out.branch else []
        md += [f"- pull request: {out.pr.url}"] if out.pr else []
        md += [f"- warning: {w}" for w in out.warnings]
        if out.dry_run and out.fix is not None:
            md += ["", fixreport.to_markdown(out.fix, None).rstrip("\n")]
        return "\n".join(md) + "\n"
    lines = [f"{out.action}{' (dry run)' if out.dry_run else ''}: {out.message}"]
    if out.dry_run:
        lines += [f"would: {w}" for w in out.would]
        if out.fix is not None:
            lines.append(fixreport.to_text(out.fix, None).rstrip("\n"))
    if out.branch:
        lines.append(f"branch: {out.branch} (remote: {checkout.redact(checkout.url)})")
    if out.pr:
        lines.append(f"pull request: {out.pr.url}")
    lines += [f"warning: {w}" for w in out.warnings]
    if out.action == "no-edit" and not out.dry_run and out.fix is not None and out.fix.finding is not None:
        from remediator.views.diagnosis import next_steps

        lines.append("next steps:")
        lines += [f"  {i}. {s.replace('`', '')}" for i, s in enumerate(next_steps(out.fix.finding), 1)]
    return "\n".join(lines) + "\n"
