"""``remediator serve``: a real uvicorn server on 127.0.0.1, real git remotes on disk, PyGithub
against the FAKE GitHub server; and a crash test with ``kill -9`` on a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
import uvicorn
import yaml

from remediator.policy import Policy
from remediator.publish.examples import example_remote
from remediator.publish.github import GitHubProvider
from remediator.service.app import Settings, create_app
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader
from remediator.service.server import server_config
from tests.fakes.github_api import FakeGitHub

from .conftest import SCENARIOS

SECRET = "s3cret-hook-token"
TOKEN = "ghp_servicetoken00000000000000000000000000"


def make_apps(root: Path, names: list[str]) -> tuple[Path, Path]:
    """Snapshot folders root/snapshots/<app>/ and bare remotes root/remotes/<app>.git; every app is the
    memory-demo OOM under its own Application name."""
    snaps, remotes = root / "snapshots", root / "remotes"
    for name in names:
        dst = snaps / name
        shutil.copytree(SCENARIOS / "seed001-memory-demo-oom" / "cluster", dst)
        app_file = dst / "argocd" / "application.yaml"
        docs = list(yaml.safe_load_all(app_file.read_text()))
        docs[0]["metadata"]["name"] = name
        app_file.write_text(yaml.safe_dump_all(docs))
        example_remote(SCENARIOS / "seed001-memory-demo-oom" / "repo", remotes / f"{name}.git")
    return snaps, remotes


def make_monorepo(root: Path, names: list[str]) -> tuple[Path, Path]:
    """The usual GitOps monorepo: ONE bare remote root/mono.git holding deploy/<app>/ for every app, and
    snapshot folders root/snapshots/<app>/ whose Application points at that remote and its own path."""
    snaps, work = root / "snapshots", root / "mono-src"
    src = SCENARIOS / "seed001-memory-demo-oom"
    remote = root / "mono.git"
    for name in names:
        shutil.copytree(src / "repo" / "deploy" / "memory-demo", work / "deploy" / name)
        dst = snaps / name
        shutil.copytree(src / "cluster", dst)
        app_file = dst / "argocd" / "application.yaml"
        docs = list(yaml.safe_load_all(app_file.read_text()))
        docs[0]["metadata"]["name"] = name
        docs[0]["spec"]["source"].update(repoURL=str(remote), path=f"deploy/{name}")
        app_file.write_text(yaml.safe_dump_all(docs))
    example_remote(work, remote)
    return snaps, remote


def branch_changes(remote: Path, branch: str) -> tuple[int, list[str]]:
    """(commits on ``branch`` not on main, files they change) in a bare remote."""
    g = git.Git(str(remote))
    commits = int(g.rev_list("--count", f"main..{branch}"))
    files = [f for f in g.diff("--name-only", f"main...{branch}").splitlines() if f]
    return commits, files


list_apps = snapshot_applications


class Server:
    """The app on a real uvicorn server on 127.0.0.1, configured as ``remediator serve`` does."""

    def __init__(self, app: Any, settings: Settings | None = None) -> None:
        self.config = server_config(app, "127.0.0.1", 0, settings or Settings(secret=None), lifespan="on")
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                break
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as api:
        yield api


@pytest.fixture
def service(tmp_path: Path, gh: FakeGitHub) -> Iterator[tuple[str, Journal]]:
    snaps, remotes = make_apps(tmp_path, ["shop-a", "shop-b"])
    journal = Journal(tmp_path / "journal.sqlite")
    policy = Policy.model_validate({"apps": {"deny": ["forbidden-*"]}})
    provider = GitHubProvider(
        "acme/deploy", TOKEN, gh.url, retries=2, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0
    )
    runner = FlowRunner(
        snapshot_loader(snaps), list_apps(snaps), policy, lambda url: provider, tmp_path / "cache", journal,
        repo_url_override=lambda app: str(remotes / f"{app}.git"),
    )  # fmt: skip
    app = create_app(Settings(secret=SECRET, settle_seconds=0.2, poll_seconds=0.02), journal, runner, policy)
    with Server(app) as url:
        yield url, journal


def hook(app: str, health: str = "Degraded", **extra: Any) -> dict[str, Any]:
    return {
        "app": app,
        "namespace": "argocd",
        "project": "default",
        "health": health,
        "sync": "Synced",
        "source": {
            "repoURL": "https://github.com/acme/deploy.git",
            "path": "deploy/memory-demo",
            "targetRevision": "main",
        },
        "revision": "a1b2c3d",
        **extra,
    }


def wait_done(journal: Journal, n: int, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        rows = journal.all()
        if len(rows) >= n and all(r.state not in ("queued", "running") for r in rows):
            return
        time.sleep(0.05)
    raise AssertionError([(r.app, r.state, r.stage) for r in journal.all()])


H = {"X-Remediator-Token": SECRET}


def test_notifications_debounced_into_one_pr_per_app(service: tuple[str, Journal], gh: FakeGitHub) -> None:
    url, journal = service
    with httpx.Client(base_url=url) as c:
        for i in range(10):
            r = c.post(
                "/v1/hooks/argocd",
                json=hook("shop-a" if i % 2 else "shop-b", health="Progressing" if i == 3 else "Degraded"),
                headers=H,
            )
            assert r.status_code == 202, r.text
        wait_done(journal, 2)
        rows = journal.all()
        assert sorted(r.app for r in rows) == ["shop-a", "shop-b"]
        assert all(r.state == "done" and r.outcome == "opened" for r in rows)
        assert sum(r.deduplicated for r in rows) == 8
        assert len(gh.repo.pulls) == 2 and not gh.unexpected
        m = c.get("/metrics").text
        assert 'remediator_incidents_received_total{source="argocd"} 10.0' in m
        assert "remediator_incidents_deduplicated_total 8.0" in m
        assert 'remediator_pull_requests_total{action="opened"} 2.0' in m
        assert "remediator_stage_seconds_bucket" in m and "remediator_queue_depth 0.0" in m
        # the same app notifies again later: the open PR is found, no second PR
        c.post("/v1/hooks/argocd", json=hook("shop-a"), headers=H)
        wait_done(journal, 3)
        assert len(gh.repo.pulls) == 2 and journal.all()[-1].outcome == "unchanged"


def test_auth_is_required_and_counted(service: tuple[str, Journal]) -> None:
    url, _ = service
    with httpx.Client(base_url=url) as c:
        assert c.post("/v1/hooks/argocd", json=hook("shop-a")).status_code == 401
        assert (
            c.post("/v1/hooks/argocd", json=hook("shop-a"), headers={"X-Remediator-Token": "nope"}).status_code == 401
        )
        assert (
            c.post("/v1/hooks/argocd", json=hook("shop-a"), headers={"Authorization": f"Bearer {SECRET}"}).status_code
            == 202
        )
        assert 'remediator_requests_rejected_total{reason="unauthorized"} 2.0' in c.get("/metrics").text


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"this is not json", 400, "not valid JSON"),
        (b'{"app": "shop-a", "health": "Degr', 400, "not valid JSON"),
        (json.dumps({"app": "../../etc", "health": "Degraded"}).encode(), 422, "app:"),
        (json.dumps({**hook("shop-a"), "source": {"repoURL": "file:///etc/passwd"}}).encode(), 422, "source.repoURL"),
        (
            json.dumps({**hook("shop-a"), "source": {"repoURL": "https://x/y.git", "path": "../../other"}}).encode(),
            422,
            "source.path",
        ),
        (json.dumps({"health": "Degraded"}).encode(), 422, "app: Field required"),
        (b'{"app": "shop-a", "x": "' + b"a" * (10 * 1024 * 1024) + b'"}', 413, "larger than"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_the_service_keeps_serving(
    service: tuple[str, Journal], body: bytes, status: int, needle: str
) -> None:
    url, _ = service
    with httpx.Client(base_url=url) as c:
        r = c.post("/v1/hooks/argocd", content=body, headers={**H, "Content-Type": "application/json"})
        assert r.status_code == status and needle in r.json()["error"], r.text
        assert c.get("/healthz").status_code == 200


def test_unknown_fields_are_ignored_and_a_disallowed_app_is_journaled(service: tuple[str, Journal]) -> None:
    url, journal = service
    with httpx.Client(base_url=url) as c:
        r = c.post("/v1/hooks/argocd", json={**hook("forbidden-app"), "surprise": {"x": 1}}, headers=H)
        assert r.status_code == 202 and "not allowed by the policy" in r.json()["refused"]
    [row] = journal.all()
    assert row.state == "refused" and "apps" in row.message


def test_alertmanager_alert_maps_to_the_owning_app(service: tuple[str, Journal], gh: FakeGitHub) -> None:
    url, journal = service
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "remediator",
        "groupKey": '{}:{alertname="KubePodCrashLooping"}',
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "KubePodCrashLooping",
                    "namespace": "demo",
                    "pod": "memory-demo-6d4cf56db6-x7b2c",
                },
            },
            {
                "status": "firing",
                "labels": {"alertname": "KubePodCrashLooping", "namespace": "elsewhere", "pod": "nobody-5c9f7-abcde"},
            },
            {"status": "resolved", "labels": {"alertname": "X", "namespace": "demo", "deployment": "memory-demo"}},
        ],
    }
    with httpx.Client(base_url=url) as c:
        r = c.post("/v1/hooks/alertmanager", json=payload, headers=H)
        assert r.status_code == 202, r.text
        results = r.json()["results"]
        assert results[0]["app"] in ("shop-a", "shop-b") and "refused" in results[1]
        assert c.post("/v1/hooks/alertmanager", json={"version": "3", "alerts": [{}]}, headers=H).status_code == 422
    wait_done(journal, 2)
    assert len(gh.repo.pulls) == 1


def test_health_and_readiness(service: tuple[str, Journal]) -> None:
    url, journal = service
    with httpx.Client(base_url=url) as c:
        assert c.get("/healthz").text == "ok\n"
        assert c.get("/readyz").status_code == 200
    journal.close()
    with httpx.Client(base_url=url) as c:
        assert c.get("/readyz").status_code == 503


def test_no_secret_refuses_to_start(tmp_path: Path) -> None:
    from remediator.errors import RemediatorError

    with pytest.raises(RemediatorError, match="REMEDIATOR_WEBHOOK_SECRET"):
        create_app(Settings(secret=None), Journal(tmp_path / "j.sqlite"), None, Policy())  # type: ignore[arg-type]


# --- crash test: kill -9 mid-run, restart, every incident finished exactly once -------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp: Path, gh: FakeGitHub, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REMEDIATOR_WEBHOOK_SECRET": SECRET, "GITHUB_TOKEN": TOKEN}
    cmd = [
        sys.executable, "-m", "remediator", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--journal", str(tmp / "journal.sqlite"), "--snapshots", str(tmp / "snapshots"), "--remotes", str(tmp / "remotes"),
        "--github-url", gh.url, "--github-repo", "acme/deploy", "--cache-dir", str(tmp / "cache"), "--settle", "0.1",
        "--workers", "3",
    ]  # fmt: skip
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "ab"))  # noqa: SIM115
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError((tmp / "serve.log").read_text())


def test_kill_9_mid_run_then_restart_finishes_every_incident_once(tmp_path: Path, gh: FakeGitHub) -> None:
    names = [f"shop-{i}" for i in range(8)]
    make_apps(tmp_path, names)
    port = free_port()
    p = start(tmp_path, gh, port)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        for n in names:
            assert c.post("/v1/hooks/argocd", json=hook(n), headers=H).status_code == 202
    for _ in range(400):  # kill while runs are in flight: after the first PR, before the last
        if gh.repo.pulls:
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    journal = Journal(tmp_path / "journal.sqlite")
    states_at_kill = [r.state for r in journal.all()]
    journal.close()
    p = start(tmp_path, gh, port)
    try:
        journal = Journal(tmp_path / "journal.sqlite")
        wait_done(journal, len(names), timeout=60)
        rows = journal.all()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(20)
    assert len(rows) == len(names) and all(r.state == "done" for r in rows), [(r.app, r.state, r.message) for r in rows]
    assert sorted(pr["head"].split("/")[1] for pr in gh.repo.pulls) == sorted(names)  # one PR per app, no duplicate
    assert any(s != "done" for s in states_at_kill)  # the kill really interrupted work
    log = (tmp_path / "serve.log").read_text().splitlines()
    lines = [json.loads(x) for x in log if x.startswith("{")]
    assert any(x.get("incident") and x.get("app") for x in lines)


# --- one repository, many apps: runs must not share a working tree ---------------------------


def test_many_apps_of_one_repository_each_get_exactly_their_own_pr(tmp_path: Path, gh: FakeGitHub) -> None:
    """12 apps deployed from ONE repository, 200 notifications spread over them, 4 workers: each app gets
    exactly one PR whose branch holds one commit changing only that app's file; no run fails."""
    names = [f"shop-{i:02d}" for i in range(12)]
    snaps, remote = make_monorepo(tmp_path, names)
    journal = Journal(tmp_path / "journal.sqlite")
    policy = Policy()
    provider = GitHubProvider(
        "acme/deploy", TOKEN, gh.url, retries=2, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0
    )
    runner = FlowRunner(
        snapshot_loader(snaps), list_apps(snaps), policy, lambda url: provider, tmp_path / "cache", journal
    )
    app = create_app(Settings(secret=SECRET, settle_seconds=0, poll_seconds=0.005, workers=4), journal, runner, policy)
    with Server(app) as url, httpx.Client(base_url=url, headers=H) as c:
        for i in range(200):
            assert c.post("/v1/hooks/argocd", json=hook(names[(i * 7) % len(names)])).status_code == 202
        wait_done(journal, len(names), timeout=120)
    rows = journal.all()
    assert all(r.state == "done" and r.outcome in ("opened", "unchanged") for r in rows), [
        (r.app, r.state, r.outcome, r.message) for r in rows if r.outcome not in ("opened", "unchanged")
    ]
    heads = sorted(pr["head"] for pr in gh.repo.pulls)
    assert sorted(h.split("/")[1] for h in heads) == names, heads  # one PR per app, none missing, none twice
    for head in heads:
        app_name = head.split("/")[1]
        commits, files = branch_changes(remote, head)
        assert (commits, files) == (1, [f"deploy/{app_name}/deployment.yaml"]), (head, commits, files)


def test_a_retry_after_of_an_hour_requeues_the_incident_end_to_end(
    service: tuple[str, Journal], gh: FakeGitHub
) -> None:
    """GitHub asks for an hour on creating the PR: the incident goes back to the journal due in an hour,
    with the reason; the other app's run goes on and opens its PR."""
    url, journal = service
    gh.fail(
        "POST /repos/acme/deploy/pulls",
        403,
        {"Retry-After": "3600"},
        {"message": "You have exceeded a secondary rate limit."},
    )
    with httpx.Client(base_url=url, headers=H) as c:
        assert c.post("/v1/hooks/argocd", json=hook("shop-a")).status_code == 202
        end = time.time() + 30
        while not any(r.outcome == "retry" for r in journal.all()) and time.time() < end:
            time.sleep(0.05)
        assert c.post("/v1/hooks/argocd", json=hook("shop-b")).status_code == 202
        end = time.time() + 30
        while not any(r.app == "shop-b" and r.state == "done" for r in journal.all()) and time.time() < end:
            time.sleep(0.05)
    rows = {r.app: r for r in journal.all()}
    a, b = rows["shop-a"], rows["shop-b"]
    assert (a.state, a.stage, a.outcome) == ("queued", "waiting", "retry"), a
    assert 3500 < a.due - time.time() <= 3600 and "3600" in a.message, a
    assert (b.state, b.outcome) == ("done", "opened"), b
    assert [pr["head"].split("/")[1] for pr in gh.repo.pulls] == ["shop-b"]
