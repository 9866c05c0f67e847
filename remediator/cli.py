"""The ``remediator`` command line (typer)."""

from __future__ import annotations

import sys
from enum import IntEnum, StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from remediator import __version__
from remediator.diagnose import Diagnosis, diagnose
from remediator.errors import InputError, NotFoundError, PermanentError, RemediatorError, TemporaryError
from remediator.evidence.gitsource import load_desired
from remediator.evidence.snapshot import SnapshotSource
from remediator.evidence.store import Evidence


class Exit(IntEnum):
    """Exit codes (documented in the README)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    INPUT = 3  # a file, folder, policy or app name that cannot be used
    CLUSTER = 4  # the cluster or API refused or did not answer
    BELOW = 5  # eval --min: the score is below the threshold


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Diagnose Degraded Argo CD applications and propose GitOps fixes."
)


def fail(message: str, code: Exit) -> typer.Exit:
    typer.echo(f"remediator: error: {message}", err=True)
    return typer.Exit(int(code))


def examples_root() -> Path:
    return Path(str(resources.files("remediator") / "examples"))


def _scenario_dirs(root: Path) -> list[Path]:
    from remediator.eval import find_scenarios

    return find_scenarios([root])


def _render(d: Diagnosis, fmt: Format) -> str:
    from remediator import report

    if fmt is Format.json:
        return report.to_json(d) + "\n"
    if fmt is Format.markdown:
        return report.to_markdown(d)
    return report.to_text(d)


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


def _live(
    app_name: str, kubeconfig: Path | None, context: str | None, ns: str, probe_models: bool, tail: int | None = None
) -> Evidence:
    from remediator.evidence.live import LiveSource
    from remediator.evidence.modelprobe import probe_model_servers

    kw: dict[str, object] = {"kubeconfig": kubeconfig, "context": context, "argocd_namespace": ns}
    if tail is not None:
        kw["tail"] = tail
    ev = LiveSource.from_kubeconfig(**kw).load(app_name)  # type: ignore[arg-type]
    if probe_models:
        probe_model_servers(ev)
    return ev


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
) -> None:
    """Say what is wrong with an app: ranked findings, root cause first."""
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
                out.append(_render(diagnose(ev, name), fmt))
            typer.echo("".join(out), nl=False)
            return
        if snapshot is not None:
            ev = _load_snapshot(snapshot, app_name, repo)
        elif app_name is not None:
            ev = _live(app_name, kubeconfig, context, argocd_namespace, probe_models)
            if repo is not None:
                ev.desired = load_desired(repo, ev.app, ev.errors)
        else:
            raise fail("give --app NAME (live cluster), --snapshot DIR or --example NAME", Exit.USAGE)
        typer.echo(_render(diagnose(ev, app_name), fmt), nl=False)
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None


@app.command("fix")
def fix_cmd(
    app_name: Annotated[
        str | None, typer.Option("--app", help="Argo CD Application (live cluster, or one in the snapshot)")
    ] = None,
    snapshot: Annotated[Path | None, typer.Option("--snapshot", help="read evidence from a snapshot folder")] = None,
    example: Annotated[
        str | None,
        typer.Option("--example", help="an example shipped with the package, e.g. tmcp-marketing/fluentd-rbac"),
    ] = None,
    repo: Annotated[Path | None, typer.Option("--repo", help="local checkout of the app's Git repository")] = None,
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="policy file (default: the packaged policies/default.yaml)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the reasoning and the diff; change nothing")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    kubeconfig: Annotated[Path | None, typer.Option("--kubeconfig", help="kubeconfig file")] = None,
    context: Annotated[str | None, typer.Option("--context", help="kubeconfig context")] = None,
    argocd_namespace: Annotated[str, typer.Option("--argocd-namespace")] = "argocd",
    probe_models: ProbeModels = True,
) -> None:
    """Propose the fix for the root cause as a minimal edit of the app's manifests.

    With --dry-run: print the reasoning and a unified diff. Without: commit the change on a new
    local branch remediator/<app>/<category>-<fingerprint> (the checkout itself is not touched)."""
    from remediator import fixreport
    from remediator.fix import commit, plan_fix
    from remediator.policy import load_policy

    try:
        if example is not None:
            sc = examples_root() / example
            if not (sc / "cluster").is_dir():
                names = sorted(p.relative_to(examples_root()).as_posix() for p in _scenario_dirs(examples_root()))
                raise fail(f"no example scenario {example!r}; examples: {', '.join(names)}", Exit.INPUT)
            import yaml

            truth = yaml.safe_load((sc / "truth.yaml").read_text()) if (sc / "truth.yaml").is_file() else {}
            app_name = app_name or (truth or {}).get("app")
            snapshot, repo = sc / "cluster", repo or sc / "repo"
            if policy_file is None and (sc / "policy.yaml").is_file():
                policy_file = sc / "policy.yaml"
            if not dry_run:
                raise fail("examples are packaged read-only: use --dry-run", Exit.USAGE)
        if repo is None:
            raise fail("give --repo PATH: the local checkout of the app's Git repository", Exit.USAGE)
        policy = load_policy(policy_file)
        if snapshot is not None:
            ev = _load_snapshot(snapshot, app_name, repo)
        elif app_name is not None:
            ev = _live(app_name, kubeconfig, context, argocd_namespace, probe_models)
            ev.desired = load_desired(repo, ev.app, ev.errors)
        else:
            raise fail("give --app NAME (live cluster), --snapshot DIR or --example NAME", Exit.USAGE)
        d = diagnose(ev, app_name)
        res = plan_fix(d, ev, repo, policy)
        branch = None
        if not dry_run and res.edits:
            branch = commit(repo, res)
        out = fixreport.to_json(res, branch) + "\n" if fmt is Format.json else fixreport.to_text(res, branch)
        typer.echo(out, nl=False)
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None


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
) -> None:
    """Write the app's evidence from a live cluster as a snapshot folder (attach it to a bug report)."""
    from remediator.evidence.writer import write_snapshot

    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise fail(f"{output}: output folder exists and is not empty", Exit.INPUT)
    try:
        ev = _live(app_name, kubeconfig, context, argocd_namespace, probe_models, tail)
        n = write_snapshot(ev, output)
    except RemediatorError as e:
        raise fail(str(e), _error_code(e)) from None
    typer.echo(f"wrote {n} files to {output}" + (f" ({len(ev.errors)} warnings)" if ev.errors else ""))
    for err in ev.errors:
        typer.echo(f"warning: {err}", err=True)


@app.command("version")
def version_cmd() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
