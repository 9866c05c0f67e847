"""Safety of ``remediator serve`` against hostile input and hostile conditions: deeply nested JSON,
names with a trailing newline, credentials in URLs and alert annotations, a code host asking to come
back in an hour, an incident that keeps killing the process, slow-loris connections, and a journal
path that cannot be used. A real uvicorn server on 127.0.0.1; the runner is a test double of the
``Runner`` protocol (the service's boundary)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from remediator.cli import Exit
from remediator.cli import app as cli_app
from remediator.errors import InputError, TemporaryError
from remediator.policy import Policy
from remediator.service.app import Settings, create_app
from remediator.service.journal import SCHEMA, Journal
from remediator.service.payloads import DNS1123, REPO_URL, ArgoCDNotification
from remediator.service.runner import RunResult
from remediator.service.server import JsonFormatter
from tests.test_service import Server, hook

SECRET = "hook-secret-for-safety"
H = {"X-Remediator-Token": SECRET}
PASSWORD = "hunter2-s3cret-pw"
CRED_URL = f"https://deployer:{PASSWORD}@git.example.org/platform/deploy.git"


class StubRunner:
    """The Runner protocol: ``behave(app)`` decides each run (return a result or raise)."""

    def __init__(self, behave: Callable[[str], RunResult] | None = None) -> None:
        self.behave = behave or (lambda app: RunResult("done", "opened", f"opened a PR for {app}"))
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def applications(self) -> list[dict[str, Any]]:
        return [
            {
                "metadata": {"name": "shop-a"},
                "spec": {"destination": {"namespace": "demo"}},
                "status": {"resources": [{"kind": "Deployment", "name": "memory-demo", "namespace": "demo"}]},
            }
        ]

    def run(self, app: str, payload: dict[str, Any], stage: Callable[[str], None]) -> RunResult:
        with self.lock:
            self.calls.append(app)
        stage("propose")
        return self.behave(app)

    def ready(self) -> str | None:
        return None


def settings(**kw: Any) -> Settings:
    return Settings(**{"secret": SECRET, "settle_seconds": 0, "poll_seconds": 0.01, **kw})


@pytest.fixture
def stub_service(tmp_path: Path) -> Iterator[tuple[str, Journal, StubRunner]]:
    journal = Journal(tmp_path / "journal.sqlite")
    runner = StubRunner()
    s = settings()
    with Server(create_app(s, journal, runner, Policy()), s) as url:
        yield url, journal, runner


def wait_for(pred: Callable[[], bool], timeout: float = 10) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


# --- 4. webhook input ------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [40, 1_000, 100_000])
def test_deeply_nested_json_is_a_clear_400(stub_service: tuple[str, Journal, StubRunner], levels: int) -> None:
    url, journal, _ = stub_service
    body = b'{"app": "shop-a", "x": ' + b"[" * levels + b"]" * levels + b"}"
    with httpx.Client(base_url=url, headers=H) as c:
        r = c.post("/v1/hooks/argocd", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.json() == {"error": "body: JSON nested deeper than 32 levels"}
        r = c.post("/v1/hooks/alertmanager", content=b"[" * levels, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "error" in r.json()
        assert c.post("/v1/hooks/argocd", json=hook("shop-a")).status_code == 202  # still serving
    assert [r.app for r in journal.all()] == ["shop-a"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"app": "shop-a\n"}, "app"),
        ({"namespace": "argocd\n"}, "namespace"),
        ({"health": "Degraded\nInjected: yes"}, "health"),
        ({"source": {"repoURL": "https://github.com/acme/deploy.git\n"}}, "source.repoURL"),
        ({"source": {"repoURL": "https://x/y.git", "path": "deploy/shop-a\n"}}, "source.path"),
        ({"sources": [{"repoURL": "https://x/y.git", "targetRevision": "main\r\n"}]}, "sources.0.targetRevision"),
    ],
)
def test_a_trailing_newline_or_control_character_is_refused(
    stub_service: tuple[str, Journal, StubRunner], change: dict[str, Any], field: str
) -> None:
    url, journal, _ = stub_service
    with httpx.Client(base_url=url, headers=H) as c:
        r = c.post("/v1/hooks/argocd", json={**hook("shop-a"), **change})
    assert r.status_code == 422 and r.json()["error"].startswith(f"{field}: "), r.text
    assert journal.all() == []  # "shop-a\n" never becomes another app


def test_patterns_match_the_whole_string() -> None:
    assert DNS1123.fullmatch("shop-a") and not DNS1123.fullmatch("shop-a\n")
    assert REPO_URL.fullmatch("https://x/y.git") and not REPO_URL.fullmatch("https://x/y.git\n")
    with pytest.raises(ValueError, match="app"):
        ArgoCDNotification.model_validate({"app": "shop-a\n"})
    with pytest.raises(ValueError, match="branch_prefix"):
        Policy.model_validate({"git": {"branch_prefix": "remediator/\n"}})


def test_alert_labels_with_control_characters_are_dropped_not_refused(
    stub_service: tuple[str, Journal, StubRunner],
) -> None:
    url, journal, _ = stub_service
    alert = {"labels": {"namespace": "demo", "deployment": "memory-demo", "note": "two\nlines", "pod": "x\n"}}
    with httpx.Client(base_url=url, headers=H) as c:
        r = c.post("/v1/hooks/alertmanager", json={"version": "4", "alerts": [alert]})
    assert r.status_code == 202 and r.json()["results"][0]["app"] == "shop-a", r.text
    [row] = journal.all()
    assert row.payload["alert"]["labels"] == {"namespace": "demo", "deployment": "memory-demo"}


# --- 5. secrets in the journal and the logs --------------------------------------------------


def test_credentials_never_reach_the_journal_or_the_log(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")

    def behave(app: str) -> RunResult:
        raise TemporaryError(f"git clone {CRED_URL}: fatal: repository not found")

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("remediator")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    alert = {
        "status": "firing",
        "labels": {"alertname": "KubePodCrashLooping", "namespace": "demo", "deployment": "memory-demo"},
        "annotations": {"description": f"pulling from {CRED_URL}", "runbook": "token=abcdefghijklmnop"},
        "generatorURL": f"http://admin:{PASSWORD}@prometheus:9090/graph",
        "startsAt": "2024-05-01T10:00:00Z",
        "fingerprint": "0123456789abcdef",
    }
    try:
        s = settings()
        with Server(create_app(s, journal, StubRunner(behave), Policy()), s) as url, httpx.Client(base_url=url) as c:
            body = {**hook("shop-b"), "source": {"repoURL": CRED_URL, "path": "deploy/b"}, "argocdUrl": CRED_URL}
            assert c.post("/v1/hooks/argocd", json=body, headers=H).status_code == 202
            assert (
                c.post("/v1/hooks/alertmanager", json={"version": "4", "alerts": [alert]}, headers=H).status_code == 202
            )
            wait_for(lambda: all(r.state == "failed" for r in journal.all()) and len(journal.all()) == 2)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    journal.close()
    dump = "\n".join(
        str(row) for row in sqlite3.connect(tmp_path / "journal.sqlite").execute("SELECT * FROM incidents")
    )
    assert "deployer:***@git.example.org" in dump and "repository not found" in dump
    assert PASSWORD not in dump and "abcdefghijklmnop" not in dump
    assert "annotations" not in dump and "generatorURL" not in dump and "prometheus:9090" not in dump
    rows = {r.app: r for r in Journal(tmp_path / "journal.sqlite").all()}
    assert rows["shop-b"].payload["source"]["repoURL"] == "https://deployer:***@git.example.org/platform/deploy.git"
    assert rows["shop-a"].payload["alert"] == {
        "status": "firing",
        "labels": {"alertname": "KubePodCrashLooping", "namespace": "demo", "deployment": "memory-demo"},
        "startsAt": "2024-05-01T10:00:00Z",
        "fingerprint": "0123456789abcdef",
    }
    log = stream.getvalue()
    assert "run failed" in log and "deployer:***@" in log and PASSWORD not in log, log


def test_the_log_formatter_redacts_every_record() -> None:
    rec = logging.LogRecord(
        "remediator.service.watch", logging.WARNING, __file__, 1, "fetch %s failed", (CRED_URL,), None
    )
    line = json.loads(JsonFormatter().format(rec))
    assert PASSWORD not in line["message"] and "deployer:***@" in line["message"]


# --- 2. Retry-After: the incident waits in the journal, not in a worker ----------------------


def test_retry_after_requeues_the_incident_and_nobody_waits_for_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")

    def behave(app: str) -> RunResult:
        if app == "slow":
            raise TemporaryError("GitHub: secondary rate limit", retry_after=3600)
        return RunResult("done", "opened", f"opened a PR for {app}")

    runner = StubRunner(behave)
    s = settings(workers=2, shutdown_grace=30)
    server = Server(create_app(s, journal, runner, Policy()), s)
    url = server.__enter__()
    try:
        with httpx.Client(base_url=url, headers=H) as c:
            assert c.post("/v1/hooks/argocd", json=hook("slow")).status_code == 202
            wait_for(lambda: "slow" in runner.calls)
            for name in ("shop-a", "shop-b", "shop-c"):
                assert c.post("/v1/hooks/argocd", json=hook(name)).status_code == 202
            wait_for(
                lambda: (
                    sum(r.state == "done" for r in journal.all()) == 3
                    and any(r.outcome == "retry" for r in journal.all())
                )
            )
            t0 = time.time()
            [slow] = [r for r in journal.all() if r.app == "slow"]
            assert (slow.state, slow.stage, slow.outcome) == ("queued", "waiting", "retry")
            assert 3590 < slow.due - t0 < 3610 and "retry after 3600s" in slow.message, slow
            # a new notification for the app folds into the waiting incident without advancing it
            r = c.post("/v1/hooks/argocd", json=hook("slow"))
            assert r.json() == {"incident": slow.id, "app": "slow", "deduplicated": True}
            assert journal.get(slow.id).due == pytest.approx(slow.due)  # type: ignore[union-attr]
            assert "remediator_runs_deferred_total 1.0" in c.get("/metrics").text
    finally:
        t = time.perf_counter()
        server.__exit__(None, None, None)
        stop_s = time.perf_counter() - t
    assert stop_s < 5, stop_s  # the graceful stop does not wait for the deferred incident
    assert runner.calls.count("slow") == 1
    assert journal.get(slow.id).state == "queued"  # type: ignore[union-attr]


def test_retry_after_is_capped_at_a_day(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    iid, _ = journal.submit("shop-a", "argocd", {"app": "shop-a"}, 0)
    journal.claim(set(), 1)
    due = journal.requeue(iid, 10**9, "asked to retry after a very long time")
    assert due - time.time() <= 24 * 3600 + 1


# --- 3. an incident that kills the process is parked --------------------------------------------


def test_an_incident_that_keeps_killing_the_process_is_parked(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    iid, _ = journal.submit("shop-a", "argocd", {"app": "shop-a"}, 0)
    other, _ = journal.submit("shop-b", "argocd", {"app": "shop-b"}, 0)
    for death in (1, 2):
        assert [i.id for i in journal.claim(set(), 1) if i.app == "shop-a"] == [iid]
        assert journal.recover(3) == (1, 0)  # the process died during the run: resumed
        assert journal.get(iid).crashes == death  # type: ignore[union-attr]
    assert [i.id for i in journal.claim({"shop-b"}, 1)] == [iid]
    assert journal.recover(3) == (0, 1)
    row = journal.get(iid)
    assert row is not None and (row.state, row.outcome, row.runs, row.crashes) == ("failed", "parked", 3, 3)
    assert row.message.startswith("the process died during 3 runs of this incident; parked")
    assert journal.get(other).state == "queued"  # type: ignore[union-attr]
    assert journal.claim(set(), 5)[0].id == other  # the parked incident is never claimed again


def test_a_run_cut_by_a_graceful_stop_is_not_counted_as_a_crash(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    iid, _ = journal.submit("shop-a", "argocd", {"app": "shop-a"}, 0)
    for _ in range(5):  # stopped gracefully five times while this run was in flight
        assert [i.id for i in journal.claim(set(), 1)] == [iid]
        assert journal.interrupted({iid}) == 1
        assert journal.recover(3) == (0, 0)
    row = journal.get(iid)
    assert row is not None and (row.state, row.stage, row.crashes) == ("queued", "interrupted", 0)


def test_the_service_parks_at_start_and_never_runs_the_killer(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    iid, _ = journal.submit("shop-a", "argocd", {"app": "shop-a"}, 0)
    for _ in range(2):  # two deaths already
        journal.claim(set(), 1)
        journal.recover(3)
    journal.claim(set(), 1)  # the third run was in flight when the process died again
    runner = StubRunner()
    policy = Policy.model_validate({"service": {"max_attempts": 3}})
    s = settings()
    with Server(create_app(s, journal, runner, policy), s):
        time.sleep(0.2)
    row = journal.get(iid)
    assert row is not None and row.state == "failed" and "died during 3 runs" in row.message
    assert runner.calls == []


def test_a_journal_from_before_the_crash_count_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        SCHEMA.replace(",\n    crashes INTEGER NOT NULL DEFAULT 0  -- runs during which the process died", "")
    )
    db.execute(
        "INSERT INTO incidents (id, app, source, payload, state, received, due, updated, runs) "
        "VALUES ('i1', 'shop-a', 'argocd', '{}', 'running', 0, 0, 0, 1)"
    )
    db.commit()
    db.close()
    journal = Journal(path)
    assert journal.recover() == (1, 0) and journal.get("i1").crashes == 1  # type: ignore[union-attr]


# --- 6. slow-loris ------------------------------------------------------------------------------


def test_connections_that_never_finish_their_request_are_closed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    s = settings(request_timeout=1.5)
    with Server(create_app(s, journal, StubRunner(), Policy()), s) as url:
        port = int(url.rsplit(":", 1)[1])
        socks: list[socket.socket] = []
        t0 = time.monotonic()
        for i in range(200):
            sk = socket.create_connection(("127.0.0.1", port))
            if i % 4 == 0:
                pass  # says nothing at all
            elif i % 4 == 1:
                sk.sendall(b"POST /v1/hooks/argocd HTT")  # an unfinished request line
            elif i % 4 == 2:
                sk.sendall(b"POST /v1/hooks/argocd HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # unfinished headers
            else:  # a complete head, a body that never comes (authorized: it reaches the app)
                sk.sendall(
                    b"POST /v1/hooks/argocd HTTP/1.1\r\nHost: x\r\nX-Remediator-Token: " + SECRET.encode()
                    + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"app\": "
                )  # fmt: skip
            socks.append(sk)
        # held connections do not stop a normal client
        with httpx.Client(base_url=url, headers=H) as c:
            assert c.post("/v1/hooks/argocd", json=hook("shop-a")).status_code == 202
        closed_after = []
        for sk in socks:
            sk.settimeout(6)
            data = b""
            try:
                while chunk := sk.recv(4096):
                    data += chunk
            except TimeoutError:
                raise AssertionError("a slow connection was still open after 6 s") from None
            except ConnectionResetError:
                pass
            closed_after.append(time.monotonic() - t0)
            assert data == b"" or data.startswith((b"HTTP/1.1 408", b"HTTP/1.1 400")), data
            sk.close()
        assert max(closed_after) < 1.5 + 2.5, max(closed_after)
        with httpx.Client(base_url=url, headers=H) as c:  # and the server still serves
            assert c.get("/healthz").status_code == 200
            assert c.post("/v1/hooks/argocd", json=hook("shop-b")).status_code == 202
    assert {r.app for r in journal.all()} == {"shop-a", "shop-b"}


def test_past_the_connection_cap_the_oldest_slow_connection_makes_room(tmp_path: Path) -> None:
    s = settings(request_timeout=30, max_connections=20)
    with Server(create_app(s, Journal(tmp_path / "j.sqlite"), StubRunner(), Policy()), s) as url:
        port = int(url.rsplit(":", 1)[1])
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        for sk in socks:
            sk.sendall(b"GET /healthz HT")
        with httpx.Client(base_url=url) as c:  # a prompt client still gets in
            assert c.get("/healthz").status_code == 200
        time.sleep(0.2)
        closed = 0
        for sk in socks:
            sk.settimeout(0.01)
            with contextlib.suppress(TimeoutError):
                closed += sk.recv(100).startswith(b"HTTP/1.1 408")
            sk.close()
        assert 20 <= closed < 40, closed  # the oldest were closed, the newest kept


def test_a_kept_alive_client_is_not_cut_by_the_request_deadline(tmp_path: Path) -> None:
    s = settings(request_timeout=0.5)
    app = create_app(s, Journal(tmp_path / "j.sqlite"), StubRunner(), Policy())
    with Server(app, s) as url, httpx.Client(base_url=url) as c:
        for _ in range(4):  # one connection, requests spread over longer than the deadline
            assert c.get("/healthz").status_code == 200
            time.sleep(0.3)


# --- 7. a journal path that cannot be used ------------------------------------------------------


@pytest.mark.parametrize("kind", ["proc", "directory", "not-a-database", "under-a-file"])
def test_an_unusable_journal_path_is_a_one_line_input_error(tmp_path: Path, kind: str) -> None:
    if kind == "proc":
        path = Path("/proc/x/j.db")
    elif kind == "directory":
        path = tmp_path
    elif kind == "not-a-database":
        path = tmp_path / "garbage.sqlite"
        path.write_bytes(b"this is not an SQLite file at all, just some text " * 100)
    else:
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "j.db"
    (tmp_path / "snaps").mkdir(exist_ok=True)
    res = CliRunner().invoke(
        cli_app,
        ["serve", "--journal", str(path), "--snapshots", str(tmp_path / "snaps"), "--port", "1"],
        env={"REMEDIATOR_WEBHOOK_SECRET": SECRET},
    )
    out = res.output.strip()
    assert res.exit_code == Exit.INPUT, out
    assert len(out.splitlines()) == 1 and out.startswith(f"remediator: error: journal {path}: cannot open"), out
    assert "Traceback" not in out and "internal error" not in out
    with pytest.raises(InputError, match="journal"):
        Journal(path)
