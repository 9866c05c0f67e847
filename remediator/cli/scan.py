"""``remediator scan``: the daily inspection of every app, from one pass of evidence collection."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from remediator.cli.common import (
    ArgoNamespace,
    ArgoURL,
    Exit,
    Kubeconfig,
    KubeContext,
    NoRedact,
    PolicyOption,
    PrometheusURL,
    app,
    errors_as_exit_codes,
    policy_path,
)
from remediator.errors import InputError
from remediator.policy import Policy
from remediator.scan import AppScan, ScanOptions, ScanResult, Severity, parse_time, scan


class ScanFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"
    html = "html"


class FailOn(StrEnum):
    critical = "critical"
    warning = "warning"
    never = "never"


@app.command("scan")
def scan_cmd(
    snapshot: Annotated[
        Path | None,
        typer.Argument(help="a snapshot folder holding several apps (default: the live cluster)", show_default=False),
    ] = None,
    apps: Annotated[list[str] | None, typer.Option("--app", help="scan only this app (repeatable)")] = None,
    fmt: Annotated[ScanFormat, typer.Option("--format", "-f", help="output format")] = ScanFormat.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the report to this file")] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="exit 6 when an app reaches this severity (never: always exit 0)"),
    ] = FailOn.critical,
    window_hours: Annotated[
        float, typer.Option("--window", help="hours: OOM kills and restarts younger than this count", min=0.01)
    ] = 24.0,
    pvc_threshold: Annotated[
        float, typer.Option("--pvc-threshold", help="used share of a PVC reported (0-1; needs metrics)", min=0, max=1)
    ] = 0.8,
    pending_minutes: Annotated[
        float, typer.Option("--pending-minutes", help="a pod Pending longer than this is reported", min=0)
    ] = 10.0,
    require_memory_limits: Annotated[
        bool, typer.Option("--require-memory-limits", help="report containers without a memory limit")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option("--now", help="the scan's time, ISO 8601 (default: a snapshot's newest time; live: now)"),
    ] = None,
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    argocd_namespace: ArgoNamespace = "argocd",
    argocd_url: ArgoURL = None,
    prometheus_url: PrometheusURL = None,
    notify: Annotated[
        bool, typer.Option("--notify", help="send the summary (scan.summary) to the policy's notification channels")
    ] = False,
    policy_file: PolicyOption = None,
    no_redact: NoRedact = False,
) -> None:
    """Inspect every app: diagnose the non-Healthy ones, list the risks of the Healthy ones.

    Exit codes: 0 nothing at or above --fail-on, 6 an app at or above it, 2 usage, 3 bad input,
    4 cluster unreachable or refused."""
    from datetime import UTC, datetime

    from remediator.views.scan import render

    with errors_as_exit_codes():
        at = None
        if now is not None:
            at = parse_time(now)
            if at is None:
                raise InputError(f"--now {now!r}: not an ISO 8601 time (e.g. 2026-01-31T06:00:00Z)")
        if snapshot is not None:
            from remediator.evidence.sources.snapshot import load_snapshot

            ev = load_snapshot(snapshot)
        else:
            from remediator.evidence.sources.cluster import load_cluster
            from remediator.evidence.sources.collect import Live
            from remediator.policy import load_policy

            metrics = load_policy(policy_path(policy_file)).metrics  # PVC usage: one query for the cluster
            if prometheus_url:
                metrics = metrics.model_copy(update={"url": prometheus_url})
            where = Live(
                kubeconfig=kubeconfig,
                context=context,
                argocd_namespace=argocd_namespace,
                argocd_url=argocd_url,
                probe_models=False,
                metrics=metrics,
            )
            ev = load_cluster(where)
            at = at or datetime.now(UTC)
        opts = ScanOptions(
            window=timedelta(hours=window_hours),
            pvc_threshold=pvc_threshold,
            pending=timedelta(minutes=pending_minutes),
            require_memory_limits=require_memory_limits,
            now=at,
        )
        result = scan(ev, opts, apps or None)
        if apps:
            missing = sorted(set(apps) - {a.name for a in result.apps})
            if missing:
                raise InputError(f"--app {missing[0]}: no such app in the evidence")
        if not result.apps and snapshot is not None:
            raise InputError(f"{snapshot}: no Application and no namespace with workloads")
        report = render(result, fmt.value, not no_redact)
        if output is not None:
            try:
                output.write_text(report, encoding="utf-8")
            except OSError as e:
                raise InputError(f"{output}: cannot write: {e.strerror}") from e
        else:
            typer.echo(report, nl=False)
        if notify:
            from remediator.policy import load_policy

            _notify(result, load_policy(policy_path(policy_file)))
    worst = result.severity
    if fail_on is not FailOn.never and worst is not None and worst.rank >= Severity(fail_on.value).rank:
        raise typer.Exit(int(Exit.FINDINGS))


def _top(a: AppScan) -> str:
    if a.diagnosis is not None and a.diagnosis.top is not None:
        return f"{a.diagnosis.top.category.value}: {a.diagnosis.top.summary}"
    if a.risks:
        more = f" (+{len(a.risks) - 1} more)" if len(a.risks) > 1 else ""
        return f"{a.risks[0].rule}: {a.risks[0].message}{more}"
    return ""


def _notify(result: ScanResult, policy: Policy) -> None:
    """The summary on the configured channels (a failing channel never fails the scan)."""
    from remediator.notify import scan_summary, send
    from remediator.views.scan import headline

    worst = result.severity
    lines = [f"{a.severity.value}: {a.name} ({a.health}): {_top(a)}" for a in result.apps if a.severity is not None]
    event = scan_summary(
        f"remediator scan: {worst.value}" if worst is not None else "remediator scan: every app healthy",
        headline(result),
        severity=worst.value if worst is not None else "info",
        counts=dict(result.counts()),
        lines=lines[:10],
    )
    send(policy, event)
