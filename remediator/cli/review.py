"""``remediator review``: static checks of the manifests a pull request changes."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from remediator.cli.common import (
    Exit,
    Format,
    GitHubAppId,
    GitHubAppInstallation,
    GitHubAppKeyFile,
    PolicyOption,
    app,
    errors_as_exit_codes,
    fail,
    policy_path,
)


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
    policy_file: PolicyOption = None,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="write a SARIF 2.1.0 file")] = None,
    summary: Annotated[
        Path | None, typer.Option("--summary", envvar="GITHUB_STEP_SUMMARY", help="append a Markdown summary here")
    ] = None,
    comment: Annotated[
        bool,
        typer.Option(
            "--comment/--no-comment", help="post review comments on the pull request ($GITHUB_TOKEN, or the GitHub App)"
        ),
    ] = False,
    github_app_id: GitHubAppId = None,
    github_app_private_key_file: GitHubAppKeyFile = None,
    github_app_installation_id: GitHubAppInstallation = None,
    github_url: Annotated[
        str,
        typer.Option(
            "--github-url", envvar="GITHUB_API_URL", help="GitHub API URL (GitHub Enterprise: https://HOST/api/v3)"
        ),
    ] = "https://api.github.com",
    github_repo: Annotated[
        str | None,
        typer.Option("--github-repo", envvar="GITHUB_REPOSITORY", help="OWNER/NAME of the pull request's repository"),
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="exit 6 when an issue reaches this severity")
    ] = FailOn.error,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.text,
) -> None:
    """Review the manifests a pull request changes: static checks for the failures the detectors find
    after a deploy (wrong binding namespace, missing memory limits, unserved models, hosts without a
    Service, PVCs below their class minimum, probes on unexposed ports, missing Secrets/ConfigMaps,
    unpinned images)."""
    import json

    from remediator.policy import load_policy
    from remediator.review import run as rv
    from remediator.review.model import Severity

    with errors_as_exit_codes():
        policy = load_policy(policy_path(policy_file))
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
            from remediator.flow import github_app, github_token
            from remediator.publish.github import GitHubProvider

            gh_app = github_app(github_app_id, github_app_private_key_file, github_app_installation_id, github_url)
            gh = GitHubProvider(github_repo, github_token(), github_url, app=gh_app)
            new, updated, same = rv.post_review(gh, int(number), head, res)
            posted = f"review comments: {new} new, {updated} updated, {same} unchanged"
        if fmt is Format.json:
            typer.echo(
                json.dumps(
                    {"issues": [i.__dict__ | {"severity": i.severity.name} for i in res.issues], "errors": res.errors},
                    indent=2,
                )
            )
        elif fmt is Format.markdown:
            typer.echo(rv.to_markdown(res), nl=False)
        else:
            for i in res.issues:
                typer.echo(f"{i.file}:{i.line}: {i.severity.name} {i.rule}: {i.message} (fix: {i.hint})")
            typer.echo(f"{len(res.issues)} issue(s)" + (f"; {posted}" if posted else ""))
        worst = res.worst()
        if fail_on is not FailOn.never and worst is not None and worst >= Severity[fail_on.value]:
            raise typer.Exit(int(Exit.FINDINGS))
