"""``remediator eval``, ``snapshot`` and ``version``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remediator import __version__
from remediator.cli.common import (
    ArgoNamespace,
    ArgoURL,
    Concurrency,
    Exit,
    Kubeconfig,
    KubeContext,
    NoRedact,
    PolicyOption,
    ProbeModels,
    ProbeRegistries,
    PrometheusURL,
    TextOrJson,
    app,
    errors_as_exit_codes,
    fail,
    live,
)


@app.command("eval")
def eval_cmd(
    dirs: Annotated[list[Path], typer.Argument(help="scenario folders, or folders of scenarios")],
    fmt: Annotated[TextOrJson, typer.Option("--format", "-f", help="output format")] = TextOrJson.text,
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
    typer.echo(
        result.model_dump_json(indent=2) if fmt is TextOrJson.json else to_text(result), nl=fmt is TextOrJson.json
    )
    t = result.totals
    if minimum is not None and (t.cases == 0 or min(t.category_ok, t.culprit_ok, t.fix_ok) < minimum * t.cases):
        raise typer.Exit(int(Exit.BELOW))


@app.command("snapshot")
def snapshot_cmd(
    app_name: Annotated[str, typer.Option("--app", help="Argo CD Application to capture")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder to write (created; must be empty)")],
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    argocd_namespace: ArgoNamespace = "argocd",
    tail: Annotated[int, typer.Option("--tail", help="log lines per container")] = 500,
    probe_models: ProbeModels = True,
    probe_registries: ProbeRegistries = False,
    argocd_url: ArgoURL = None,
    prometheus_url: PrometheusURL = None,
    policy_file: PolicyOption = None,
    no_redact: NoRedact = False,
    concurrency: Concurrency = None,
) -> None:
    """Write the app's evidence from a live cluster as a snapshot folder (attach it to a bug report):
    Secrets without their data, and logs, events and fields with their secrets redacted."""
    from remediator.evidence.sources.writer import write_snapshot
    from remediator.redact import redact

    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise fail(f"{output}: output folder exists and is not empty", Exit.INPUT)
    with errors_as_exit_codes():
        ev = live(
            app_name,
            kubeconfig,
            context,
            argocd_namespace,
            probe_models,
            tail,
            argocd_url,
            probe_registries=probe_registries,
            prometheus_url=prometheus_url,
            policy_file=policy_file,
            concurrency=concurrency,
        )
        n = write_snapshot(ev, output, redacted=not no_redact)
    typer.echo(f"wrote {n} files to {output}" + (f" ({len(ev.errors)} warnings)" if ev.errors else ""))
    for err in ev.errors:
        typer.echo(f"warning: {err if no_redact else redact(err)}", err=True)


@app.command("version")
def version_cmd() -> None:
    """Print the version."""
    typer.echo(__version__)
