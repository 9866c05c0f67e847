"""The ``remediator`` command line (typer)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import IntEnum, StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from remediator import __version__
from remediator.diagnose import Diagnosis, diagnose
from remediator.errors import InputError, NotFoundError, PermanentError, RemediatorError, TemporaryError, truncate
from remediator.evidence.sources.gitsource import load_desired
from remediator.evidence.sources.snapshot import SnapshotSource
from remediator.evidence.store import Evidence


class Exit(IntEnum):
    """Exit codes (documented in the README)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    INPUT = 3  # a file, folder, policy or app name that cannot be used
    CLUSTER = 4  # the cluster or API refused or did not answer
    BELOW = 5  # eval --min: the score is below the threshold
    FINDINGS = 6  # review: issues at or above --fail-on


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Diagnose Degraded Argo CD applications and propose GitOps fixes.",
)


def fail(message: str, code: Exit) -> typer.Exit:
    typer.echo(f"remediator: error: {message}", err=True)
    return typer.Exit(int(code))


def examples_root() -> Path:
    return Path(str(resources.files("remediator") / "examples"))


def _scenario_dirs(root: Path) -> list[Path]:
    from remediator.eval import find_scenarios

    return find_scenarios([root])


def _render(d: Diagnosis, fmt: Format, redacted: bool = True) -> str:
    from remediator.views import diagnosis as report

    if fmt is Format.json:
        return report.to_json(d, redacted) + "\n"
    if fmt is Format.markdown:
        return report.to_markdown(d, redacted)
    return report.to_text(d, redacted)


NoRedact = Annotated[
    bool,
    typer.Option(
        "--no-redact",
        help="print (or write) evidence with its secrets: for local debugging only; Secret data is never read",
    ),
]


def _load_snapshot(snapshot: Path, app_name: str | None, repo: Path | None) -> Evidence:
    ev = SnapshotSource(snapshot).load(app_name)
    if repo is not None:
        ev.desired = load_desired(repo, ev.app, ev.errors)
    return ev


ProbeModels = Annotated[
    bool,
    typer.Option(
        "--probe-models/--no-probe-models",
        help="live mode: ask the model servers in the pods' env which models they serve (GET /api/tags, /v1/models)",
    ),
]


ArgoURL = Annotated[
    str | None,
    typer.Option(
        "--argocd-url",
        envvar="ARGOCD_URL",
        help="read evidence through the Argo CD API server instead of the cluster ($ARGOCD_TOKEN, or "
        "$ARGOCD_USERNAME/$ARGOCD_PASSWORD)",
    ),
]


def _live(
    app_name: str,
    kubeconfig: Path | None,
    context: str | None,
    ns: str,
    probe_models: bool,
    tail: int | None = None,
    argocd_url: str | None = None,
) -> Evidence:
    from remediator.evidence.sources.collect import Live, collect

    return collect(app_name, Live(kubeconfig, context, ns, argocd_url, tail or 500, probe_models))


def _error_code(e: RemediatorError) -> Exit:
    if isinstance(e, TemporaryError):
        return Exit.CLUSTER
    if isinstance(e, InputError | NotFoundError):
        return Exit.INPUT
    if isinstance(e, PermanentError):
        return Exit.CLUSTER
    return Exit.INTERNAL


@app.command("diagnose")
def diagnose_cmd(
    app_name: Annotated[str | None, typer.Option("--app", help="Argo CD Application to diagnose")] = None,
    snapshot: Annotated[Path | None, typer.Option("--snapshot", help="read evidence from a snapshot folder")] = None,
    example: Annotated[
        str | None, typer.Option("--example", help="diagnose an example shipped with the package ('list' lists them)")
    ] = None,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="local checkout of the app's Git repository (finds never-applied resources)"),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"),
    ] = None,
    context: Annotated[str | None, typer.Option("--context", help="kubeconfig context")] = None,
    argocd_namespace: Annotated[
        str, typer.Option("--argocd-namespace", help="namespace of the Application objects")
    ] = "argocd",
    probe_models: ProbeModels = True,
    argocd_url: ArgoURL = None,
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="policy file (its model section enables model assist)")
    ] = None,
    no_redact: NoRedact = False,
) -> None:
    """Say what is wrong with an app: ranked findings, root cause first (secrets redacted)."""
    try:
        if example is not None:
            root = examples_root()
            names = sorted(p.relative_to(root).as_posix() for p in _scenario_dirs(root))
            if example == "list":
                typer.echo("\n".join(names))
                return
            target = root / example
            if not target.is_dir():
                raise fail(f"no example {example!r}; examples: {', '.join(names)}", Exit.INPUT)
            out = []
            for sc in _scenario_dirs(target):
                import yaml

                truth = yaml.safe_load((sc / "truth.yaml").read_text()) if (sc / "truth.yaml").is_file() else {}
                name = app_name or (truth or {}).get("app")
                ev = _load_snapshot(sc / "cluster", name, sc / "repo" if (sc / "repo").is_dir() else None)
                if fmt is not Format.json:
                    out.append(f"== example {sc.relative_to(root).as_posix()}\n")
                out.append(_render(diagnose(ev, name), fmt, not no_redact))
            typer.echo("".join(out), nl=False)
            return
        if snapshot is not None:
            ev = _load_snapshot(snapshot, app_name, repo)
        elif app_name is not None:
            ev = _live(app_name, kubeconfig, context, argocd_namespace, probe_models, argocd_url=argocd_url)
            if repo is not None:
                ev.desired = load_desired(repo, ev.app, ev.errors)
        else:
            raise fail("give --app NAME (live cluster), --snapshot DIR or --example NAME", Exit.USAGE)
        from remediator.assist.hook import assisted, describe
        from remediator.policy import load_policy

        d, expl, inv = assisted(ev, diagnose(ev, app_name), load_policy(policy_file))
        typer.echo(_render(d, fmt, not no_redact), nl=False)
        if fmt is Format.text and (expl or inv):
            from remediator.redact import redact

            why = describe(expl, inv)
            typer.echo("\n" + (why if no_redact else redact(why)), nl=False)
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None


class ProviderName(StrEnum):
    github = "github"
    local = "local"


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
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="policy file (default: the packaged policies/default.yaml)")
    ] = None,
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
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    kubeconfig: Annotated[Path | None, typer.Option("--kubeconfig", help="kubeconfig file")] = None,
    context: Annotated[str | None, typer.Option("--context", help="kubeconfig context")] = None,
    argocd_namespace: Annotated[str, typer.Option("--argocd-namespace")] = "argocd",
    probe_models: ProbeModels = True,
    argocd_url: ArgoURL = None,
    no_redact: NoRedact = False,
) -> None:
    """Propose the fix for the root cause as a minimal edit of the app's manifests.

    --dry-run prints the reasoning and a unified diff. --open-pr runs the whole flow: a pull request
    per app and cause, updated on repeated incidents. Otherwise the change is committed on a new
    local branch remediator/<app>/<category>-<fingerprint> (the checkout itself is not touched)."""
    from remediator.policy import load_policy

    try:
        jobs: list[tuple[str, Path, str | None, Path | None, Path | None]] = []  # name, snapshot, app, repo, policy
        if example is not None:
            root = examples_root()
            target = root / example
            scenarios = _scenario_dirs(target) if target.is_dir() else []
            if not scenarios:
                names = sorted(p.relative_to(root).as_posix() for p in _scenario_dirs(root))
                raise fail(f"no example {example!r}; examples: {', '.join(names)}", Exit.INPUT)
            if not dry_run and not open_pr:
                raise fail("examples are packaged read-only: use --dry-run, or --open-pr --provider local", Exit.USAGE)
            import yaml

            for sc in scenarios:
                truth = yaml.safe_load((sc / "truth.yaml").read_text()) if (sc / "truth.yaml").is_file() else {}
                pol = policy_file or (sc / "policy.yaml" if (sc / "policy.yaml").is_file() else None)
                jobs.append(
                    (
                        sc.relative_to(root).as_posix(),
                        sc / "cluster",
                        app_name or (truth or {}).get("app"),
                        sc / "repo",
                        pol,
                    )
                )
        elif snapshot is not None:
            jobs.append((snapshot.name, snapshot, app_name, repo, policy_file))
        elif app_name is not None:
            jobs.append((app_name, Path(), app_name, repo, policy_file))
        else:
            raise fail("give --app NAME (live cluster), --snapshot DIR or --example NAME", Exit.USAGE)
        outputs: list[str] = []
        for name, snap, app_n, repo_p, pol_p in jobs:
            policy = load_policy(pol_p)
            if draft:
                policy = policy.model_copy(
                    update={"pull_requests": policy.pull_requests.model_copy(update={"draft": True})}
                )
            if repo_p is None and not (open_pr and (repo_url or snap == Path())):
                raise fail("give --repo PATH: the local checkout of the app's Git repository", Exit.USAGE)
            if snap != Path():
                ev = _load_snapshot(snap, app_n, repo_p if repo_p and repo_p.is_dir() else None)
            else:
                ev = _live(str(app_n), kubeconfig, context, argocd_namespace, probe_models, argocd_url=argocd_url)
                if repo_p is not None:
                    ev.desired = load_desired(repo_p, ev.app, ev.errors)
            from remediator.assist.hook import assisted, describe

            d, expl, inv = assisted(ev, diagnose(ev, app_n), policy)
            if len(jobs) > 1 and fmt is not Format.json:
                outputs.append(f"== {name}\n")
            if open_pr:
                outputs.append(
                    _open_pr(
                        d,
                        ev,
                        policy,
                        name,
                        repo_p,
                        example is not None,
                        provider,
                        github_url,
                        github_repo,
                        repo_url,
                        cache_dir,
                        pr_dir,
                        workdir,
                        fmt,
                        (expl.text, expl.source) if expl is not None else None,
                        dry_run,
                    )
                )
            else:
                outputs.append(
                    _fix_local(
                        d, ev, policy, repo_p, dry_run, fmt, summary, name if len(jobs) > 1 else None, not no_redact
                    )
                )
            if fmt is Format.text and (expl or inv):
                outputs.append(describe(expl, inv))
        if not no_redact:  # everything printed is redacted, whichever path wrote it
            from remediator.redact import redact, redact_data

            if fmt is Format.json:
                import json

                outputs = [json.dumps(redact_data(json.loads(o)), indent=2) + "\n" for o in outputs if o.strip()]
            else:
                outputs = [redact(o) for o in outputs]
        typer.echo("".join(outputs), nl=False)
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None


def _fix_local(
    d: Diagnosis,
    ev: Evidence,
    policy: object,
    repo: Path | None,
    dry_run: bool,
    fmt: Format,
    summary: Path | None = None,
    title: str | None = None,
    redacted: bool = True,
) -> str:
    from remediator.views import fix as fixreport
    from remediator.edits.plan import commit, plan_fix
    from remediator.policy import Policy

    assert isinstance(policy, Policy) and repo is not None
    res = plan_fix(d, ev, repo, policy)
    if summary is not None:
        with summary.open("a", encoding="utf-8") as fh:
            fh.write(fixreport.to_markdown(res, title, redacted))
    branch = commit(repo, res) if not dry_run and res.edits else None
    if fmt is Format.json:
        return fixreport.to_json(res, branch, redacted) + "\n"
    return fixreport.to_text(res, branch, redacted)


def _open_pr(
    d: Diagnosis,
    ev: Evidence,
    policy: object,
    name: str,
    repo: Path | None,
    is_example: bool,
    provider_name: ProviderName,
    github_url: str,
    github_repo: str | None,
    repo_url: str | None,
    cache_dir: Path | None,
    pr_dir: Path | None,
    workdir: Path | None,
    fmt: Format,
    why: tuple[str, str] | None = None,
    dry_run: bool = False,
) -> str:
    import os

    from remediator.views import fix as fixreport
    from remediator.evidence.relations import dig
    from remediator.policy import Policy
    from remediator.publish.base import Provider
    from remediator.publish.checkout import Checkout
    from remediator.publish.propose import propose

    assert isinstance(policy, Policy)
    app_obj = ev.app or {}
    src: dict[str, object] = (
        dig(app_obj, "spec", "source") or next(iter(dig(app_obj, "spec", "sources") or []), {}) or {}
    )
    revision = str(src.get("targetRevision") or "") or None
    url = repo_url or (str(repo) if repo is not None else None) or str(src.get("repoURL") or "")
    if not url:
        raise fail("no repository to clone: give --repo-url (the Application has no repoURL)", Exit.USAGE)
    cache = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "remediator" / "repos"
    if is_example:
        from remediator.publish.examples import example_remote

        if provider_name is not ProviderName.local:
            raise fail("the embedded examples run with --provider local", Exit.USAGE)
        base = (workdir or Path("remediator-example")).resolve() / name.replace("/", "-")
        url = str(example_remote(repo, base / "remote.git"))
        cache = base / "cache"
        pr_dir = base / "pull-requests"
        revision = "main"
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    prov: Provider
    if provider_name is ProviderName.local:
        from remediator.publish.local import LocalProvider

        prov = LocalProvider(pr_dir or cache / "pull-requests")
    else:
        from remediator.publish.github import GitHubProvider, repo_slug

        slug = github_repo or repo_slug(url)
        if not slug:
            raise fail(f"cannot tell the GitHub repository from {url!r}: give --github-repo OWNER/NAME", Exit.USAGE)
        prov = GitHubProvider(slug, token, github_url, max_retry_wait=policy.pull_requests.max_retry_wait_seconds)
    checkout = Checkout(url, cache, token if provider_name is ProviderName.github else None)
    out = propose(d, ev, policy, prov, checkout, revision, why, dry_run=dry_run)
    if fmt is Format.json:
        import json

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
    lines = [f"{out.action}{' (dry run)' if out.dry_run else ''}: {out.message}"]
    if out.dry_run:
        lines += [f"would: {w}" for w in out.would]
        if out.fix is not None:
            lines.append(fixreport.to_text(out.fix, None).rstrip("\n"))
    if out.branch:
        lines.append(f"branch: {out.branch} (remote: {checkout.redact(url)})")
    if out.pr:
        lines.append(f"pull request: {out.pr.url}")
    lines += [f"warning: {w}" for w in out.warnings]
    return "\n".join(lines) + "\n"


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option("--host")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port")] = 8080,
    journal_path: Annotated[Path, typer.Option("--journal", help="SQLite journal of incidents")] = Path(
        "remediator-journal.sqlite"
    ),
    snapshots: Annotated[
        Path | None,
        typer.Option("--snapshots", help="offline: evidence from DIR/<app>/ snapshot folders instead of the cluster"),
    ] = None,
    remotes: Annotated[
        Path | None, typer.Option("--remotes", help="offline: clone DIR/<app>.git instead of the Application's repoURL")
    ] = None,
    provider: Annotated[ProviderName, typer.Option("--provider")] = ProviderName.github,
    github_url: Annotated[str, typer.Option("--github-url")] = "https://api.github.com",
    github_repo: Annotated[
        str | None, typer.Option("--github-repo", help="OWNER/NAME for every app (default: from repoURL)")
    ] = None,
    pr_dir: Annotated[Path | None, typer.Option("--pr-dir", help="local provider: folder of PR records")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir")] = None,
    policy_file: Annotated[Path | None, typer.Option("--policy")] = None,
    settle: Annotated[
        float, typer.Option("--settle", help="seconds to wait for an app's notifications to settle")
    ] = 10.0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="apps handled in parallel")] = 4,
    request_timeout: Annotated[
        float, typer.Option("--request-timeout", min=0.1, help="seconds a client has to send a whole request")
    ] = 10.0,
    max_prs_per_cause: Annotated[int, typer.Option("--max-prs-per-cause")] = 3,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="accept hooks without the shared secret (local testing only)")
    ] = False,
    kubeconfig: Annotated[Path | None, typer.Option("--kubeconfig")] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    argocd_namespace: Annotated[str, typer.Option("--argocd-namespace")] = "argocd",
    log_level: Annotated[str, typer.Option("--log-level")] = "INFO",
    argocd_url: ArgoURL = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="also watch Application objects and act when one becomes Degraded")
    ] = False,
) -> None:
    """Run the webhook service: Argo CD notifications and Alertmanager in, pull requests out.

    The shared secret comes from $REMEDIATOR_WEBHOOK_SECRET; the GitHub token from $GITHUB_TOKEN."""
    import os

    import uvicorn

    from remediator.policy import load_policy
    from remediator.publish.base import Provider
    from remediator.service.app import Settings, configure_logging, create_app, server_config
    from remediator.service.journal import Journal
    from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader

    configure_logging(log_level.upper())
    try:
        policy = load_policy(policy_file)
        token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
        cache = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "remediator" / "repos"

        def provider_for(url: str) -> Provider:
            if provider is ProviderName.local:
                from remediator.publish.local import LocalProvider

                return LocalProvider(pr_dir or cache / "pull-requests")
            from remediator.publish.github import GitHubProvider, repo_slug

            slug = github_repo or repo_slug(url)
            if not slug:
                raise InputError(f"cannot tell the GitHub repository from {url!r}: give --github-repo")
            return GitHubProvider(slug, token, github_url, max_retry_wait=policy.pull_requests.max_retry_wait_seconds)

        if snapshots is not None:
            load, list_apps = snapshot_loader(snapshots), snapshot_applications(snapshots)
        else:
            from remediator.evidence.sources.collect import Live, applications, collect

            where = Live(kubeconfig, context, argocd_namespace, argocd_url)

            def load(app_name: str) -> Evidence:
                return collect(app_name, where)

            def list_apps() -> list[dict[str, object]]:
                return applications(where)

        def remote_of(app_name: str) -> str | None:
            if remotes is not None and (remotes / f"{app_name}.git").is_dir():
                return str(remotes / f"{app_name}.git")
            return None

        journal = Journal(journal_path)
        runner = FlowRunner(
            load, list_apps, policy, provider_for, cache, journal, token if provider is ProviderName.github else None,
            max_prs_per_cause, remote_of,
        )  # fmt: skip
        settings = Settings(
            secret=os.environ.get("REMEDIATOR_WEBHOOK_SECRET") or None,
            allow_unauthenticated=insecure_no_auth,
            settle_seconds=settle,
            workers=workers,
            request_timeout=request_timeout,
        )
        watcher = None
        if watch:
            from remediator.evidence.sources.live import LiveSource
            from remediator.service.watch import ApplicationWatcher

            source = LiveSource.from_kubeconfig(
                kubeconfig=kubeconfig, context=context, argocd_namespace=argocd_namespace
            )

            def watcher(on_change: Callable[[str, str | None, str], None]) -> ApplicationWatcher:
                return ApplicationWatcher(source, on_change)

        api = create_app(settings, journal, runner, policy, watcher)
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None
    uvicorn.Server(server_config(api, host, port, settings, timeout_graceful_shutdown=30)).run()


@app.command("watch")
def watch_cmd(
    port: Annotated[int, typer.Option("--port", help="port of /healthz, /readyz, /metrics and the hooks")] = 8080,
    journal_path: Annotated[Path, typer.Option("--journal")] = Path("remediator-journal.sqlite"),
    provider: Annotated[ProviderName, typer.Option("--provider")] = ProviderName.github,
    github_url: Annotated[str, typer.Option("--github-url")] = "https://api.github.com",
    github_repo: Annotated[str | None, typer.Option("--github-repo")] = None,
    pr_dir: Annotated[Path | None, typer.Option("--pr-dir")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir")] = None,
    policy_file: Annotated[Path | None, typer.Option("--policy")] = None,
    settle: Annotated[float, typer.Option("--settle")] = 10.0,
    workers: Annotated[int, typer.Option("--workers")] = 4,
    kubeconfig: Annotated[Path | None, typer.Option("--kubeconfig")] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    argocd_namespace: Annotated[str, typer.Option("--argocd-namespace")] = "argocd",
    insecure_no_auth: Annotated[bool, typer.Option("--insecure-no-auth")] = False,
) -> None:
    """Watch Argo CD Applications (no argocd-notifications needed) and act when one becomes Degraded.

    The same service as `serve --watch`: journal, dedupe, PRs, /metrics; the hooks stay available."""
    serve_cmd(
        port=port, journal_path=journal_path, provider=provider, github_url=github_url, github_repo=github_repo,
        pr_dir=pr_dir, cache_dir=cache_dir, policy_file=policy_file, settle=settle, workers=workers,
        kubeconfig=kubeconfig, context=context, argocd_namespace=argocd_namespace, insecure_no_auth=insecure_no_auth,
        watch=True,
    )  # fmt: skip


class FailOn(StrEnum):
    error = "error"
    warning = "warning"
    note = "note"
    never = "never"


@app.command("review")
def review_cmd(
    repo: Annotated[Path, typer.Option("--repo", help="the manifests repository checkout")] = Path("."),
    base: Annotated[
        str | None, typer.Option("--base", help="base commit (default: from the pull_request event)")
    ] = None,
    head: Annotated[
        str | None, typer.Option("--head", help="head commit (default: from the pull_request event)")
    ] = None,
    event: Annotated[
        Path | None, typer.Option("--event", envvar="GITHUB_EVENT_PATH", help="GitHub pull_request event payload")
    ] = None,
    all_files: Annotated[bool, typer.Option("--all", help="review every manifest, not only the changed ones")] = False,
    policy_file: Annotated[Path | None, typer.Option("--policy")] = None,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="write a SARIF 2.1.0 file")] = None,
    summary: Annotated[
        Path | None, typer.Option("--summary", envvar="GITHUB_STEP_SUMMARY", help="append a Markdown summary here")
    ] = None,
    comment: Annotated[
        bool, typer.Option("--comment/--no-comment", help="post review comments on the pull request ($GITHUB_TOKEN)")
    ] = False,
    github_url: Annotated[str, typer.Option("--github-url", envvar="GITHUB_API_URL")] = "https://api.github.com",
    github_repo: Annotated[str | None, typer.Option("--github-repo", envvar="GITHUB_REPOSITORY")] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="exit 6 when an issue reaches this severity")
    ] = FailOn.error,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
) -> None:
    """Review the manifests a pull request changes: static checks for the failures the detectors find
    after a deploy (wrong binding namespace, missing memory limits, unserved models, hosts without a
    Service, PVCs below their class minimum, probes on unexposed ports, missing Secrets/ConfigMaps,
    unpinned images)."""
    import json
    import os

    from remediator.policy import load_policy
    from remediator.review import run as rv
    from remediator.review.model import Severity

    try:
        policy = load_policy(policy_file)
        number = None
        if event is not None and event.is_file() and not all_files:
            from remediator.yamlload import load_one

            payload = load_one(event.read_text(encoding="utf-8", errors="replace"), str(event), as_json=True)

            def get(d: object, key: str) -> object:  # a field of the (hostile) payload; absent if mistyped
                return d.get(key) if isinstance(d, dict) else None

            pr = get(payload, "pull_request")
            number = n if isinstance(n := get(pr, "number"), int) and not isinstance(n, bool) else None
            base = base or (str(sha) if isinstance(sha := get(get(pr, "base"), "sha"), str) else None)
            head = head or (str(sha) if isinstance(sha := get(get(pr, "head"), "sha"), str) else None)
            full = get(get(payload, "repository"), "full_name")
            github_repo = github_repo or (full if isinstance(full, str) else None)
        changed = None
        if not all_files:
            if not base or not head:
                raise fail("give --base and --head (or a pull_request event), or --all", Exit.USAGE)
            changed = rv.changed_lines(repo, base, head)
        res = rv.run_review(repo, policy, changed)
        if sarif is not None:
            sarif.write_text(json.dumps(rv.to_sarif(res), indent=2) + "\n", encoding="utf-8")
        if summary is not None:
            with summary.open("a", encoding="utf-8") as fh:
                fh.write(rv.to_markdown(res))
        posted = ""
        if comment:
            if number is None or not head or not github_repo:
                raise fail("--comment needs a pull_request event (number, head) and the repository", Exit.USAGE)
            from remediator.publish.github import GitHubProvider

            gh = GitHubProvider(github_repo, os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN"), github_url)
            new, updated, same = rv.post_review(gh, int(number), head, res)
            posted = f"review comments: {new} new, {updated} updated, {same} unchanged"
        if fmt is Format.json:
            typer.echo(
                json.dumps(
                    {"issues": [i.__dict__ | {"severity": i.severity.name} for i in res.issues], "errors": res.errors},
                    indent=2,
                )
            )
        else:
            for i in res.issues:
                typer.echo(f"{i.file}:{i.line}: {i.severity.name} {i.rule}: {i.message} (fix: {i.hint})")
            typer.echo(f"{len(res.issues)} issue(s)" + (f"; {posted}" if posted else ""))
        worst = res.worst()
        if fail_on is not FailOn.never and worst is not None and worst >= Severity[fail_on.value]:
            raise typer.Exit(int(Exit.FINDINGS))
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None


@app.command("doctor")
def doctor_cmd(
    policy_file: Annotated[Path | None, typer.Option("--policy", help="policy file with the model section")] = None,
) -> None:
    """Check the configured model: does it answer, is it listed, does it call tools?"""
    from remediator.assist.llm import LLM
    from remediator.policy import load_policy

    try:
        policy = load_policy(policy_file)
        if not policy.model.enabled:
            typer.echo(
                "model assist: off (set model.base_url and model.model in the policy); everything works without it"
            )
            return
        r = LLM(policy.model, max_retries=0).check()
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None
    typer.echo(f"model {r['model']} at {r['base_url']}")
    typer.echo(f"  listed by the server: {r['listed']}")
    typer.echo(f"  answers: {r['answers']}" + (f" ({r['error']})" if r.get("error") else ""))
    if "tool_calls" in r:
        typer.echo(f"  tool calls: {'yes' if r['tool_calls'] else 'no (investigations use the JSON-answer protocol)'}")
    if not r["answers"]:
        raise typer.Exit(int(Exit.CLUSTER))


@app.command("eval")
def eval_cmd(
    dirs: Annotated[list[Path], typer.Argument(help="scenario folders, or folders of scenarios")],
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    minimum: Annotated[
        float | None,
        typer.Option("--min", help="exit 5 when the category, culprit or fix score is below this fraction"),
    ] = None,
) -> None:
    """Score the diagnosis on scenarios (see the scenario contract)."""
    from remediator.eval import evaluate, to_text

    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise fail(f"not a folder: {', '.join(missing)}", Exit.INPUT)
    result = evaluate(dirs)
    typer.echo(result.model_dump_json(indent=2) if fmt is Format.json else to_text(result), nl=fmt is Format.json)
    t = result.totals
    if minimum is not None and (t.cases == 0 or min(t.category_ok, t.culprit_ok, t.fix_ok) < minimum * t.cases):
        raise typer.Exit(int(Exit.BELOW))


@app.command("snapshot")
def snapshot_cmd(
    app_name: Annotated[str, typer.Option("--app", help="Argo CD Application to capture")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder to write (created; must be empty)")],
    kubeconfig: Annotated[Path | None, typer.Option("--kubeconfig")] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    argocd_namespace: Annotated[str, typer.Option("--argocd-namespace")] = "argocd",
    tail: Annotated[int, typer.Option("--tail", help="log lines per container")] = 500,
    probe_models: ProbeModels = True,
    argocd_url: ArgoURL = None,
    no_redact: NoRedact = False,
) -> None:
    """Write the app's evidence from a live cluster as a snapshot folder (attach it to a bug report):
    Secrets without their data, and logs, events and fields with their secrets redacted."""
    from remediator.evidence.sources.writer import write_snapshot
    from remediator.redact import redact

    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise fail(f"{output}: output folder exists and is not empty", Exit.INPUT)
    try:
        ev = _live(app_name, kubeconfig, context, argocd_namespace, probe_models, tail, argocd_url)
        n = write_snapshot(ev, output, redacted=not no_redact)
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None
    typer.echo(f"wrote {n} files to {output}" + (f" ({len(ev.errors)} warnings)" if ev.errors else ""))
    for err in ev.errors:
        typer.echo(f"warning: {err if no_redact else redact(err)}", err=True)


@app.command("version")
def version_cmd() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # a bug: one line, not a traceback (REMEDIATOR_DEBUG=1 shows it)
        import os

        if os.environ.get("REMEDIATOR_DEBUG"):
            raise
        typer.echo(
            f"remediator: internal error: {type(e).__name__}: {truncate(str(e), 300)} (REMEDIATOR_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(int(Exit.INTERNAL))
