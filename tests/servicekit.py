"""The service as ``remediator serve`` runs it, on 127.0.0.1: offline evidence (snapshots), bare git
remotes on disk and PyGithub against the FAKE GitHub; shared by the tests that drive it from the
outside (Alertmanager, Prometheus scrapes, GitHub webhooks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from remediator.policy import Policy
from remediator.publish.github import GitHubProvider
from remediator.service.app import Settings, create_app
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader
from tests.fakes.github_api import FakeGitHub
from tests.test_service import SECRET, Server, make_apps


@contextmanager
def running_bot(
    tmp_path: Path, gh: FakeGitHub, token: str, policy: Policy | None = None, apps: tuple[str, ...] = ("shop-a",),
    **settings: Any,
) -> Iterator[tuple[str, Journal]]:  # fmt: skip
    """(base URL, journal) of a running service whose apps' pull requests go to ``gh``."""
    policy = policy or Policy()
    snaps, remotes = make_apps(tmp_path, list(apps))
    journal = Journal(tmp_path / "journal.sqlite")
    provider = GitHubProvider(
        "acme/deploy", token, gh.url, retries=2, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0
    )
    runner = FlowRunner(
        snapshot_loader(snaps), snapshot_applications(snaps), policy, lambda url: provider, tmp_path / "cache",
        journal, repo_url_override=lambda app: str(remotes / f"{app}.git"),
    )  # fmt: skip
    config = Settings(**{"secret": SECRET, "settle_seconds": 0.2, "poll_seconds": 0.02, **settings})
    with Server(create_app(config, journal, runner, policy)) as url:
        yield url, journal
