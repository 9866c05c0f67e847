"""``remediator serve`` and ``remediator watch``: the webhook service and the Application watcher."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from remediator.cli.common import ArgoURL, ProviderName, app, errors_as_exit_codes
from remediator.evidence.store import Evidence


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

    from remediator.flow import pull_request_target
    from remediator.policy import load_policy
    from remediator.review.notes import review_notes
    from remediator.service.app import Settings, create_app
    from remediator.service.journal import Journal
    from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader
    from remediator.service.server import configure_logging, server_config

    configure_logging(log_level.upper())
    with errors_as_exit_codes():
        policy = load_policy(policy_file)
        target = pull_request_target(
            provider, policy, cache_dir, github_url, github_repo, pr_dir, review_notes=review_notes(policy)
        )
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
            load, list_apps, policy, target.provider_for, target.cache, journal, target.token, max_prs_per_cause,
            remote_of, target.review_notes,
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
