"""The typer app, exit codes, error mapping and the options and evidence readers the commands share."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum, StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from remediator.diagnose import Diagnosis
from remediator.edits.index import SourceIndex
from remediator.errors import InputError, NotFoundError, PermanentError, RemediatorError, TemporaryError, truncate
from remediator.evidence.sources.snapshot import SnapshotSource
from remediator.evidence.store import Evidence
from remediator.flow import ProviderKind, UsageError


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


class TextOrJson(StrEnum):
    """The formats of a command without a Markdown view."""

    text = "text"
    json = "json"


ProviderName = ProviderKind

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help, like kubectl/gh: flags without a <bool> metavar
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Diagnose Degraded Argo CD applications and propose GitOps fixes.",
)


def _version(value: bool) -> None:
    if value:
        from remediator import __version__

        typer.echo(f"remediator {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit"),
    ] = False,
) -> None:
    """Diagnose Degraded Argo CD applications and propose GitOps fixes."""


def fail(message: str, code: Exit) -> typer.Exit:
    typer.echo(f"remediator: error: {message}", err=True)
    return typer.Exit(int(code))


def error_code(e: RemediatorError) -> Exit:
    if isinstance(e, UsageError):
        return Exit.USAGE
    if isinstance(e, TemporaryError):
        return Exit.CLUSTER
    if isinstance(e, InputError | NotFoundError):
        return Exit.INPUT
    if isinstance(e, PermanentError):
        return Exit.CLUSTER
    return Exit.INTERNAL


@contextmanager
def errors_as_exit_codes() -> Iterator[None]:
    """Our errors end the command with their one-line message and exit code (no traceback)."""
    try:
        yield
    except RemediatorError as e:
        raise fail(str(e), error_code(e)) from None


# --- shared options ---------------------------------------------------------------------------

NoRedact = Annotated[
    bool,
    typer.Option(
        "--no-redact",
        help="print (or write) evidence with its secrets: for local debugging only; Secret data is never read",
    ),
]

ProbeModels = Annotated[
    bool,
    typer.Option(
        "--probe-models/--no-probe-models",
        help="live mode: ask the model servers in the pods' env which models they serve (GET /api/tags, /v1/models)",
    ),
]

ProbeRegistries = Annotated[
    bool,
    typer.Option(
        "--probe-registries",
        help="live mode: ask the images' registries for their tag lists (Registry HTTP API v2, anonymous; "
        "pull secrets are never read); used by cpu-arch and image fixes, written by snapshot as probes",
    ),
]

Concurrency = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        min=1,
        max=256,
        help="live mode: Kubernetes API requests in flight per collection wave (default: the policy's "
        "collection.concurrency, 16)",
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

PrometheusURL = Annotated[
    str | None,
    typer.Option(
        "--prometheus-url",
        envvar="PROMETHEUS_URL",
        help="live mode: query this Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir) about the "
        "app's pods (overrides the policy's metrics.url; auth and labels from the policy); snapshot writes the "
        "answers as probes",
    ),
]


# --- the packaged examples --------------------------------------------------------------------


def examples_root() -> Path:
    return Path(str(resources.files("remediator") / "examples"))


def scenario_dirs(root: Path) -> list[Path]:
    from remediator.eval import find_scenarios

    return find_scenarios([root])


def example_names() -> list[str]:
    root = examples_root()
    return sorted(p.relative_to(root).as_posix() for p in scenario_dirs(root))


def no_example(example: str) -> typer.Exit:
    return fail(f"no example {example!r}; examples: {', '.join(example_names())}", Exit.INPUT)


def example_app(scenario: Path, app_name: str | None) -> str | None:
    """``--app``, else the app the example's truth.yaml names."""
    import yaml

    truth = yaml.safe_load((scenario / "truth.yaml").read_text()) if (scenario / "truth.yaml").is_file() else {}
    return app_name or (truth or {}).get("app")


# --- evidence ---------------------------------------------------------------------------------


def load_snapshot(snapshot: Path, app_name: str | None, repo: Path | None) -> Evidence:
    ev = SnapshotSource(snapshot).load(app_name)
    if repo is not None:
        ev.desired = SourceIndex(repo).desired(ev.app, ev.errors)
    return ev


def live(
    app_name: str,
    kubeconfig: Path | None,
    context: str | None,
    ns: str,
    probe_models: bool,
    tail: int | None = None,
    argocd_url: str | None = None,
    repo: Path | None = None,
    probe_registries: bool = False,
    prometheus_url: str | None = None,
    policy_file: Path | None = None,
    concurrency: int | None = None,
) -> Evidence:
    """The app's evidence from the cluster (or the Argo CD API); with ``repo``, what Git declares;
    with a metrics URL (``prometheus_url``, else the policy's ``metrics.url``), its query answers."""
    from remediator.evidence.sources.collect import Live, collect
    from remediator.policy import load_policy

    found = policy_path(policy_file)
    policy = load_policy(found)  # read once: metrics and collection settings
    metrics = policy.metrics if found is not None or prometheus_url else None
    if metrics is not None and prometheus_url:
        metrics = metrics.model_copy(update={"url": prometheus_url})
    collection = policy.collection
    where = Live(
        kubeconfig, context, ns, argocd_url, tail or 500, probe_models, probe_registries, metrics,
        concurrency=concurrency or collection.concurrency, timeout=collection.timeout_seconds,
    )  # fmt: skip
    ev = collect(app_name, where)
    if repo is not None:
        ev.desired = SourceIndex(repo).desired(ev.app, ev.errors)
    return ev


def policy_path(path: Path | None) -> Path | None:
    """The policy file a command uses: --policy, $REMEDIATOR_POLICY, the user's config, else the packaged default (None)."""
    from remediator.policy import discover_policy

    return discover_policy(path)


Kubeconfig = Annotated[
    Path | None,
    typer.Option("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"),
]
KubeContext = Annotated[str | None, typer.Option("--context", help="kubeconfig context")]
ArgoNamespace = Annotated[str, typer.Option("--argocd-namespace", help="namespace of the Application objects")]

GitHubAppId = Annotated[
    str | None,
    typer.Option(
        "--github-app-id",
        envvar="REMEDIATOR_GITHUB_APP_ID",
        help="authenticate as this GitHub App (its key: $REMEDIATOR_GITHUB_APP_PRIVATE_KEY or the file below)",
    ),
]
GitHubAppKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--github-app-private-key-file",
        envvar="REMEDIATOR_GITHUB_APP_PRIVATE_KEY_FILE",
        help="the GitHub App's private key (PEM file)",
    ),
]
GitHubAppInstallation = Annotated[
    int | None,
    typer.Option(
        "--github-app-installation-id",
        envvar="REMEDIATOR_GITHUB_APP_INSTALLATION_ID",
        help="the App's installation (default: the one installed on each repository)",
    ),
]

PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="policy file (default: $REMEDIATOR_POLICY, then ~/.config/remediator/policy.yaml, then the packaged one)",
    ),
]


def join_reports(reports: dict[str, str], fmt: Format, several: bool) -> str:
    """Reports of several examples or apps as ONE document: a JSON object keyed by name, Markdown
    sections, or text blocks under ``== name`` lines. A single report is printed as it is."""
    import json

    if not several:
        return "".join(reports.values())
    if fmt is Format.json:
        return json.dumps({k: json.loads(v) for k, v in reports.items()}, indent=2) + "\n"
    if fmt is Format.markdown:
        return "".join(f"# {k}\n\n{v.rstrip()}\n\n" for k, v in reports.items())
    return "".join(f"== {k}\n{v}" for k, v in reports.items())


def render_diagnosis(d: Diagnosis, fmt: Format, redacted: bool = True) -> str:
    from remediator.views import diagnosis as report

    if fmt is Format.json:
        return report.to_json(d, redacted) + "\n"
    if fmt is Format.markdown:
        return report.to_markdown(d, redacted)
    return report.to_text(d, redacted)


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
