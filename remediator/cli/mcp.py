"""``remediator mcp``: serve the diagnosis and fix tools to MCP clients (stdio or streamable HTTP)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from remediator.cli.common import (
    ArgoNamespace,
    ArgoURL,
    Kubeconfig,
    KubeContext,
    PolicyOption,
    ProbeModels,
    ProbeRegistries,
    PrometheusURL,
    ProviderName,
    app,
    errors_as_exit_codes,
)


class Transport(StrEnum):
    stdio = "stdio"
    streamable_http = "streamable-http"


@app.command("mcp")
def mcp_cmd(
    transport: Annotated[
        Transport, typer.Option("--transport", help="stdio (spawned by the client) or streamable-http")
    ] = Transport.stdio,
    host: Annotated[str, typer.Option("--host", help="streamable-http: address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="streamable-http: port")] = 8000,
    snapshot: Annotated[
        Path | None, typer.Option("--snapshot", help="read evidence from a snapshot folder (one or several apps)")
    ] = None,
    repo: Annotated[
        Path | None, typer.Option("--repo", help="local checkout of the apps' Git repository (for propose_fix)")
    ] = None,
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    argocd_namespace: ArgoNamespace = "argocd",
    probe_models: ProbeModels = True,
    probe_registries: ProbeRegistries = False,
    argocd_url: ArgoURL = None,
    prometheus_url: PrometheusURL = None,
    policy_file: PolicyOption = None,
    journal: Annotated[
        Path | None, typer.Option("--journal", help="the service's SQLite journal, read-only (for get_incident)")
    ] = None,
    allow_write: Annotated[
        bool,
        typer.Option("--allow-write", help="let propose_fix open pull requests (when the policy allows the change)"),
    ] = False,
    provider: Annotated[ProviderName, typer.Option("--provider", help="where pull requests go")] = ProviderName.github,
    github_url: Annotated[str, typer.Option("--github-url", help="GitHub API URL")] = "https://api.github.com",
    github_repo: Annotated[str | None, typer.Option("--github-repo", help="OWNER/NAME")] = None,
    repo_url: Annotated[
        str | None, typer.Option("--repo-url", help="repository to clone (default: the Application's repoURL)")
    ] = None,
    pr_dir: Annotated[Path | None, typer.Option("--pr-dir", help="local provider: folder for PR records")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="where clones are kept")] = None,
) -> None:
    """Serve list_apps, diagnose_app, scan, propose_fix and get_incident to MCP clients (Claude Desktop,
    n8n, IDE agents). Read-only unless --allow-write; every answer is redacted."""
    from remediator.mcp_server import Config, build_server, check_config

    cfg = Config(
        snapshot=snapshot,
        repo=repo,
        kubeconfig=kubeconfig,
        context=context,
        argocd_namespace=argocd_namespace,
        argocd_url=argocd_url,
        probe_models=probe_models,
        probe_registries=probe_registries,
        prometheus_url=prometheus_url,
        policy_file=policy_file,
        journal=journal,
        allow_write=allow_write,
        provider=provider,
        github_url=github_url,
        github_repo=github_repo,
        repo_url=repo_url,
        pr_dir=pr_dir,
        cache_dir=cache_dir,
    )
    with errors_as_exit_codes():
        check_config(cfg)
    server = build_server(cfg)
    if transport is Transport.stdio:
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
