"""The CLI behaves like the tools it sits next to: --version, -h, completion, flags, help on every
option, one JSON document per run, policy discovery and commands, and serve's report-only mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from remediator import __version__
from remediator.cli import app
from remediator.policy import Policy, json_schema
from remediator.publish.local import LocalProvider
from remediator.service.app import Settings, create_app
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader

from .test_service import SECRET, Server, hook, make_apps, wait_done

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def command(*path: str) -> Any:
    """The click command (typer's own click-compatible classes) at ``path``."""
    cmd: Any = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def all_commands() -> list[list[str]]:
    out: list[list[str]] = []
    for name, cmd in command().commands.items():
        out += [[name, sub] for sub in getattr(cmd, "commands", {})]
        out.append([name])
    return out


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output == f"remediator {__version__}\n"


@pytest.mark.parametrize("args", all_commands(), ids=lambda a: " ".join(a))
def test_dash_h_is_help_everywhere(args: list[str]) -> None:
    r = runner.invoke(app, [*args, "-h"])
    assert r.exit_code == 0, r.output
    assert "Usage:" in r.output and "-h, --help" in r.output


def test_completion_is_offered() -> None:
    r = runner.invoke(app, ["-h"])
    assert "--install-completion" in r.output and "--show-completion" in r.output


def test_flags_are_shown_as_flags() -> None:
    r = runner.invoke(app, ["fix", "-h"], terminal_width=200)
    assert "<bool>" not in r.output
    line = next(ln for ln in r.output.splitlines() if ln.split()[:1] == ["--dry-run"] and "change nothing" in ln)
    assert line.split()[1] == "print"  # no metavar between the flag and its help


@pytest.mark.parametrize("name", ["serve", "watch"])
def test_every_service_option_has_help(name: str) -> None:
    opts = [p for p in command(name).params if p.param_type_name == "option"]
    names = {o for p in opts for o in p.opts}
    assert {"--host", "--log-level", "--report-only", "--argocd-url", "--policy"} <= names
    missing = [p.opts[0] for p in opts if not p.help]
    assert not missing, missing


def test_log_level_is_checked() -> None:
    r = runner.invoke(app, ["watch", "--log-level", "loud"])
    assert r.exit_code == 2 and "loud" in r.output


def test_examples_in_json_form_one_document() -> None:
    r = runner.invoke(app, ["diagnose", "--example", "tmcp-marketing", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert "tmcp-marketing/vault-secrets" in d and d["tmcp-marketing/vault-secrets"]["app"] == "tmcp-marketing"
    r = runner.invoke(app, ["fix", "--example", "tmcp-marketing", "--dry-run", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert len(d) == 4 and all("findings" in v for v in d.values())
    assert "== " not in r.output


def test_markdown_is_honoured() -> None:
    r = runner.invoke(app, ["fix", "--example", "tmcp-marketing/fluentd-rbac", "--dry-run", "--format", "markdown"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("## ") and "```diff" in r.output
    r = runner.invoke(app, ["diagnose", "--example", "tmcp-marketing", "--format", "markdown"])
    assert "# tmcp-marketing/ollama-dns" in r.output and "== example" not in r.output
    r = runner.invoke(app, ["eval", "--format", "markdown", str(ROOT / "remediator" / "examples")])
    assert r.exit_code == 2  # eval offers no Markdown: refused, not silently text


def _show(env: dict[str, str], *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["policy", "show", *args], env=env)
    return r.exit_code, r.output


def test_policy_discovery_order(tmp_path: Path) -> None:
    flag, envp, xdg = tmp_path / "flag.yaml", tmp_path / "env.yaml", tmp_path / "xdg"
    flag.write_text("kubernetes_version: '1.30.0'\n")
    envp.write_text("kubernetes_version: '1.31.0'\n")
    (xdg / "remediator").mkdir(parents=True)
    (xdg / "remediator" / "policy.yaml").write_text("kubernetes_version: '1.32.0'\n")
    home = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(xdg)}

    def version(env: dict[str, str], *args: str) -> str:
        code, out = _show(env, *args)
        assert code == 0, out
        return str(yaml.safe_load(out)["kubernetes_version"])

    assert version({**home, "REMEDIATOR_POLICY": str(envp)}, "--policy", str(flag)) == "1.30.0"
    assert version({**home, "REMEDIATOR_POLICY": str(envp)}) == "1.31.0"
    assert version({**home, "REMEDIATOR_POLICY": ""}) == "1.32.0"
    code, out = _show({"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": "", "REMEDIATOR_POLICY": ""})
    assert code == 0 and "policies/default.yaml" in out.splitlines()[0]
    assert Policy.model_validate(yaml.safe_load(out)) == Policy()
    (tmp_path / "home" / ".config" / "remediator").mkdir(parents=True)
    (tmp_path / "home" / ".config" / "remediator" / "policy.yaml").write_text("kubernetes_version: '1.29.0'\n")
    assert version({"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": "", "REMEDIATOR_POLICY": ""}) == "1.29.0"


def test_bad_policy_is_a_one_line_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("memory:\n  max: lots\n")
    r = runner.invoke(app, ["policy", "show", "--policy", str(bad)])
    assert r.exit_code == 3
    assert r.output.count("\n") == 1 and r.output.startswith("remediator: error: ") and "memory.max" in r.output


def test_policy_schema_is_the_packaged_one() -> None:
    r = runner.invoke(app, ["policy", "schema"])
    assert r.exit_code == 0 and json.loads(r.output) == json_schema()
    data = (ROOT / "pyproject.toml").read_text()
    assert '"policies/schema.json"' in data


def test_report_only_opens_no_pr_and_pushes_nothing(tmp_path: Path) -> None:
    snaps, remotes = make_apps(tmp_path, ["shop-a"])
    remote = remotes / "shop-a.git"
    refs_before = git.Git(str(remote)).show_ref()
    journal = Journal(tmp_path / "journal.sqlite")
    policy = Policy()
    prs = tmp_path / "prs"
    provider = LocalProvider(prs)
    flow = FlowRunner(
        snapshot_loader(snaps), snapshot_applications(snaps), policy, lambda url: provider, tmp_path / "cache",
        journal, repo_url_override=lambda app: str(remote), report_only=True,
    )  # fmt: skip
    settings = Settings(secret=SECRET, settle_seconds=0.1, poll_seconds=0.02, report_only=True)
    with Server(create_app(settings, journal, flow, policy)) as url:
        r = httpx.post(f"{url}/v1/hooks/argocd", json=hook("shop-a"), headers={"X-Remediator-Token": SECRET})
        assert r.status_code == 202, r.text
        wait_done(journal, 1)
    [inc] = journal.all()
    assert (inc.state, inc.outcome) == ("done", "report-only"), inc
    assert "[oom-killed]" in inc.message or "memory" in inc.message.lower(), inc.message
    assert not inc.pr_url
    assert not prs.exists() or not any(prs.iterdir())
    assert git.Git(str(remote)).show_ref() == refs_before


def test_text_output_shows_the_next_steps_a_refusal_refers_to() -> None:
    d = runner.invoke(app, ["diagnose", "--example", "tmcp-marketing"])
    assert d.exit_code == 0, d.output
    assert "next steps:" in d.output and "kubectl -n tmcp-marketing describe" in d.output
    assert "`" not in d.output.split("next steps:")[1]  # commands printed to copy, not Markdown
    f = runner.invoke(app, ["fix", "--example", "tmcp-marketing", "--dry-run"])
    assert "No edit (out-of-band)" in f.output
    assert "Next steps:" in f.output.split("No edit (out-of-band)")[1]


@pytest.mark.parametrize("args", all_commands(), ids=lambda a: " ".join(a))
def test_every_option_of_every_command_has_help(args: list[str]) -> None:
    cmd = command(*args)
    missing = [p.opts[0] for p in getattr(cmd, "params", []) if p.param_type_name == "option" and not p.help]
    assert not missing, missing


def test_open_pr_without_an_edit_prints_the_next_steps(tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        [
            "fix",
            "--example",
            "tmcp-marketing/vault-secrets",
            "--open-pr",
            "--provider",
            "local",
            "--workdir",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "no-edit: no pull request" in r.output
    assert "next steps:" in r.output and "kubectl -n tmcp-marketing" in r.output.split("next steps:")[1]
