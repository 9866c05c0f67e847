"""``remediator policy show`` and ``remediator policy schema``."""

from __future__ import annotations

import json

import typer

from remediator.cli.common import PolicyOption, app, errors_as_exit_codes, policy_path

policy_app = typer.Typer(no_args_is_help=True, help="Show the effective policy or its JSON Schema.")
app.add_typer(policy_app, name="policy")


@policy_app.command("show")
def show_cmd(policy_file: PolicyOption = None) -> None:
    """Print the effective policy as YAML: the discovered file with every default filled in."""
    import yaml

    from remediator.policy import default_policy_path, load_policy

    with errors_as_exit_codes():
        path = policy_path(policy_file)
        policy = load_policy(path)
    typer.echo(f"# policy: {path or default_policy_path()}")
    typer.echo(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False), nl=False)


@policy_app.command("schema")
def schema_cmd() -> None:
    """Print the policy's JSON Schema (the same as the packaged policies/schema.json)."""
    from remediator.policy import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))
