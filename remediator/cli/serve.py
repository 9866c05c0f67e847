"""``remediator serve`` and ``remediator watch``: the webhook service and the Application watcher."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from remediator.cli.common import (
    ArgoNamespace,
    ArgoURL,
    GitHubAppId,
    GitHubAppInstallation,
    GitHubAppKeyFile,
    Kubeconfig,
    KubeContext,
    PolicyOption,
    ProviderName,
    app,
    errors_as_exit_codes,
    policy_path,
)
from remediator.evidence.store import Evidence

if TYPE_CHECKING:
    from remediator.evidence.sources.informer import Informer


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


PROVIDER_HELP = "where pull requests go"
GITHUB_URL_HELP = "GitHub API URL (GitHub Enterprise: https://HOST/api/v3)"
GITHUB_REPO_HELP = "OWNER/NAME for every app (default: from the Application's repoURL)"
PR_DIR_HELP = "local provider: folder of PR records"
CACHE_HELP = "where clones are kept (default: ~/.cache/remediator)"
SETTLE_HELP = "seconds to wait for an app's notifications to settle"
WORKERS_HELP = "apps handled in parallel"
NO_AUTH_HELP = "accept hooks without the shared secret (local testing only)"
JOURNAL_HELP = "SQLite journal of incidents"
REPORT_ONLY_HELP = "diagnose and journal each incident; open no pull request and push nothing"


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", help="port of the hooks, /healthz, /readyz and /metrics")] = 8080,
    journal_path: Annotated[Path, typer.Option("--journal", help=JOURNAL_HELP)] = Path("remediator-journal.sqlite"),
    snapshots: Annotated[
        Path | None,
        typer.Option("--snapshots", help="offline: evidence from DIR/<app>/ snapshot folders instead of the cluster"),
    ] = None,
    remotes: Annotated[
        Path | None, typer.Option("--remotes", help="offline: clone DIR/<app>.git instead of the Application's repoURL")
    ] = None,
    provider: Annotated[ProviderName, typer.Option("--provider", help=PROVIDER_HELP)] = ProviderName.github,
    github_url: Annotated[str, typer.Option("--github-url", help=GITHUB_URL_HELP)] = "https://api.github.com",
    github_repo: Annotated[str | None, typer.Option("--github-repo", help=GITHUB_REPO_HELP)] = None,
    pr_dir: Annotated[Path | None, typer.Option("--pr-dir", help=PR_DIR_HELP)] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help=CACHE_HELP)] = None,
    policy_file: PolicyOption = None,
    settle: Annotated[float, typer.Option("--settle", help=SETTLE_HELP)] = 10.0,
    workers: Annotated[int, typer.Option("--workers", min=1, help=WORKERS_HELP)] = 4,
    request_timeout: Annotated[
        float, typer.Option("--request-timeout", min=0.1, help="seconds a client has to send a whole request")
    ] = 10.0,
    max_prs_per_cause: Annotated[
        int,
        typer.Option("--max-prs-per-cause", min=1, help="pull requests per app and cause before a person must look"),
    ] = 3,
    insecure_no_auth: Annotated[bool, typer.Option("--insecure-no-auth", help=NO_AUTH_HELP)] = False,
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    argocd_namespace: ArgoNamespace = "argocd",
    log_level: Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False, help="log level")] = LogLevel.INFO,
    argocd_url: ArgoURL = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="also watch Application objects and act when one becomes Degraded")
    ] = False,
    report_only: Annotated[bool, typer.Option("--report-only", help=REPORT_ONLY_HELP)] = False,
    github_app_id: GitHubAppId = None,
    github_app_private_key_file: GitHubAppKeyFile = None,
    github_app_installation_id: GitHubAppInstallation = None,
) -> None:
    """Run the webhook service: Argo CD notifications and Alertmanager in, pull requests out.

    The shared secret comes from $REMEDIATOR_WEBHOOK_SECRET; GitHub credentials from the GitHub App
    options ($REMEDIATOR_GITHUB_APP_*), else the token in $GITHUB_TOKEN."""
    import os

    import uvicorn

    from remediator.flow import ProviderKind, github_app, pull_request_target
    from remediator.policy import load_policy
    from remediator.review.notes import review_notes
    from remediator.service.app import Settings, create_app
    from remediator.service.journal import Journal
    from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader
    from remediator.service.server import configure_logging, server_config

    configure_logging(log_level.value)
    with errors_as_exit_codes():
        policy = load_policy(policy_path(policy_file))
        gh_app = None
        if provider is ProviderKind.github:
            gh_app = github_app(github_app_id, github_app_private_key_file, github_app_installation_id, github_url)
        target = pull_request_target(
            provider, policy, cache_dir, github_url, github_repo, pr_dir, review_notes=review_notes(policy), app=gh_app
        )
        informer: Informer | None = None
        if snapshots is not None:
            load, list_apps = snapshot_loader(snapshots), snapshot_applications(snapshots)
        else:
            from remediator.evidence.sources.collect import Live, applications, collect

            if argocd_url is None:  # live from the cluster: a watch-based cache of the cluster-scoped kinds
                from remediator.errors import RemediatorError
                from remediator.evidence.sources.informer import Informer
                from remediator.evidence.sources.live import LiveSource

                try:
                    informer = Informer(
                        LiveSource.from_kubeconfig(
                            kubeconfig=kubeconfig, context=context, argocd_namespace=argocd_namespace
                        )
                    )
                except RemediatorError as e:  # no cache: each alert lists what it needs, as the CLI does
                    logging.getLogger("remediator.service").warning("no watch-based cache: %s", e)
            where = Live(
                kubeconfig, context, argocd_namespace, argocd_url, metrics=policy.metrics, cache=informer,
                concurrency=policy.collection.concurrency, timeout=policy.collection.timeout_seconds,
            )  # fmt: skip

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
            remote_of, target.review_notes, report_only=report_only, credentials=target.check,
        )  # fmt: skip
        settings = Settings(
            secret=os.environ.get("REMEDIATOR_WEBHOOK_SECRET") or None,
            allow_unauthenticated=insecure_no_auth,
            settle_seconds=settle,
            workers=workers,
            request_timeout=request_timeout,
            report_only=report_only,
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
    if informer is not None:
        informer.start()
    try:
        uvicorn.Server(server_config(api, host, port, settings, timeout_graceful_shutdown=30)).run()
    finally:
        if informer is not None:
            informer.stop()


@app.command("watch")
def watch_cmd(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", help="port of /healthz, /readyz, /metrics and the hooks")] = 8080,
    journal_path: Annotated[Path, typer.Option("--journal", help=JOURNAL_HELP)] = Path("remediator-journal.sqlite"),
    provider: Annotated[ProviderName, typer.Option("--provider", help=PROVIDER_HELP)] = ProviderName.github,
    github_url: Annotated[str, typer.Option("--github-url", help=GITHUB_URL_HELP)] = "https://api.github.com",
    github_repo: Annotated[str | None, typer.Option("--github-repo", help=GITHUB_REPO_HELP)] = None,
    pr_dir: Annotated[Path | None, typer.Option("--pr-dir", help=PR_DIR_HELP)] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help=CACHE_HELP)] = None,
    policy_file: PolicyOption = None,
    settle: Annotated[float, typer.Option("--settle", help=SETTLE_HELP)] = 10.0,
    workers: Annotated[int, typer.Option("--workers", min=1, help=WORKERS_HELP)] = 4,
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    argocd_namespace: ArgoNamespace = "argocd",
    argocd_url: ArgoURL = None,
    insecure_no_auth: Annotated[bool, typer.Option("--insecure-no-auth", help=NO_AUTH_HELP)] = False,
    log_level: Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False, help="log level")] = LogLevel.INFO,
    report_only: Annotated[bool, typer.Option("--report-only", help=REPORT_ONLY_HELP)] = False,
    github_app_id: GitHubAppId = None,
    github_app_private_key_file: GitHubAppKeyFile = None,
    github_app_installation_id: GitHubAppInstallation = None,
) -> None:
    """Watch Argo CD Applications (no argocd-notifications needed) and act when one becomes Degraded.

    The same service as `serve --watch`: journal, dedupe, PRs, /metrics; the hooks stay available."""
    serve_cmd(
        host=host, port=port, journal_path=journal_path, provider=provider, github_url=github_url,
        github_repo=github_repo, pr_dir=pr_dir, cache_dir=cache_dir, policy_file=policy_file, settle=settle,
        workers=workers, kubeconfig=kubeconfig, context=context, argocd_namespace=argocd_namespace,
        argocd_url=argocd_url, insecure_no_auth=insecure_no_auth, log_level=log_level, watch=True,
        report_only=report_only, github_app_id=github_app_id,
        github_app_private_key_file=github_app_private_key_file, github_app_installation_id=github_app_installation_id,
    )  # fmt: skip
