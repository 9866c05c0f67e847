"""``remediator diagnose``: what is wrong with an app, root cause first."""

from __future__ import annotations

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
    app,
    errors_as_exit_codes,
    example_app,
    example_names,
    examples_root,
    fail,
    join_reports,
    live,
    load_snapshot,
    no_example,
    policy_path,
    render_diagnosis,
    scenario_dirs,
)
from remediator.diagnose import diagnose


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
    fmt: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.text,
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    argocd_namespace: ArgoNamespace = "argocd",
    probe_models: ProbeModels = True,
    probe_registries: ProbeRegistries = False,
    argocd_url: ArgoURL = None,
    prometheus_url: PrometheusURL = None,
    policy_file: PolicyOption = None,
    no_redact: NoRedact = False,
    concurrency: Concurrency = None,
) -> None:
    """Say what is wrong with an app: ranked findings, root cause first (secrets redacted)."""
    with errors_as_exit_codes():
        if example is not None:
            if example == "list":
                typer.echo("\n".join(example_names()))
                return
            root = examples_root()
            target = root / example
            if not target.is_dir():
                raise no_example(example)
            scenarios = scenario_dirs(target)
            reports: dict[str, str] = {}
            for sc in scenarios:
                name = example_app(sc, app_name)
                ev = load_snapshot(sc / "cluster", name, sc / "repo" if (sc / "repo").is_dir() else None)
                reports[sc.relative_to(root).as_posix()] = render_diagnosis(diagnose(ev, name), fmt, not no_redact)
            typer.echo(join_reports(reports, fmt, several=len(scenarios) > 1), nl=False)
            return
        if snapshot is not None:
            ev = load_snapshot(snapshot, app_name, repo)
        elif app_name is not None:
            ev = live(
                app_name,
                kubeconfig,
                context,
                argocd_namespace,
                probe_models,
                argocd_url=argocd_url,
                repo=repo,
                probe_registries=probe_registries,
                prometheus_url=prometheus_url,
                policy_file=policy_file,
                concurrency=concurrency,
            )
        else:
            raise fail("give --app NAME (live cluster), --snapshot DIR or --example NAME", Exit.USAGE)
        from remediator.assist.hook import describe
        from remediator.flow import assess
        from remediator.policy import load_policy

        a = assess(ev, load_policy(policy_path(policy_file)), app_name)
        typer.echo(render_diagnosis(a.diagnosis, fmt, not no_redact), nl=False)
        if fmt is Format.text and (a.explanation or a.investigation):
            from remediator.redact import redact

            why = describe(a.explanation, a.investigation)
            typer.echo("\n" + (why if no_redact else redact(why)), nl=False)
