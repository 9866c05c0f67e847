"""Watch mode: the real kubernetes client watching Applications on the FAKE API server (list, watch
from resourceVersion, 410 Gone -> re-list, errors -> back off), feeding the same journal and flow."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import Any

from remediator.evidence.sources.live import LiveSource
from remediator.service.watch import ApplicationWatcher
from tests.fakes.kube_api import FakeKubeAPI

from .conftest import SCENARIOS

SNAP = SCENARIOS / "seed001-memory-demo-oom" / "cluster"


def app_obj(api: FakeKubeAPI, health: str, rv: str) -> dict[str, Any]:
    app = copy.deepcopy(api.objects[("Application", "argocd")][0])
    app["status"]["health"]["status"] = health
    app["metadata"]["resourceVersion"] = rv
    return app


def wait(pred: Any, timeout: float = 10) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_watch_lists_then_follows_health_changes_and_relists_on_410(tmp_path: Path) -> None:
    calls: list[tuple[str, str | None, str]] = []
    with FakeKubeAPI(SNAP) as api:
        src = LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kc"))
        w = ApplicationWatcher(src, lambda a, o, n: calls.append((a, o, n)), timeout_seconds=2)
        stop = threading.Event()
        t = threading.Thread(target=w.run, args=(stop,), daemon=True)
        t.start()
        wait(lambda: calls == [("memory-demo", None, "Degraded")])
        api.watch_events.put(("MODIFIED", app_obj(api, "Progressing", "1001")))
        api.watch_events.put(("MODIFIED", app_obj(api, "Healthy", "1002")))
        api.watch_events.put(("MODIFIED", app_obj(api, "Healthy", "1003")))
        wait(lambda: len(calls) == 2)
        assert calls[1] == ("memory-demo", "Progressing", "Healthy") or calls[1][2] == "Healthy"
        wait(lambda: w.resource_version == "1003")
        # the stored version expires: the next watch gets 410 and the watcher lists again
        api.expired.add("1003")
        api.list_version = "2000"
        api.watch_events.put(None)
        wait(lambda: w.relists >= 2 and w.resource_version == "2000")
        api.watch_events.put(("MODIFIED", app_obj(api, "Degraded", "2001")))
        wait(lambda: calls[-1] == ("memory-demo", "Healthy", "Degraded"))
        stop.set()
        api.watch_events.put(None)
        t.join(5)
    assert any("watch=true" in r and "resourceVersion=1000" in r for r in api.requests)
    assert not api.unexpected


def test_watch_backs_off_on_errors_and_recovers(tmp_path: Path) -> None:
    calls: list[tuple[str, str | None, str]] = []
    with FakeKubeAPI(SNAP, forbid=("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications",)) as api:
        src = LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kc"))
        w = ApplicationWatcher(src, lambda a, o, n: calls.append((a, o, n)), timeout_seconds=1, max_backoff=0.2)
        stop = threading.Event()
        t = threading.Thread(target=w.run, args=(stop,), daemon=True)
        t.start()
        wait(lambda: w.errors >= 2)
        assert calls == []
        api.forbid = ()
        wait(lambda: calls == [("memory-demo", None, "Degraded")])
        stop.set()
        api.watch_events.put(None)
        t.join(5)


def test_watch_feeds_the_service_journal_and_opens_the_pr(tmp_path: Path) -> None:
    from remediator.policy import Policy
    from remediator.publish.local import LocalProvider
    from remediator.service.app import Settings, create_app
    from remediator.service.journal import Journal
    from remediator.service.runner import FlowRunner, snapshot_loader
    from tests.test_service import Server, list_apps, make_apps, wait_done

    snaps, remotes = make_apps(tmp_path, ["memory-demo"])
    journal = Journal(tmp_path / "j.sqlite")
    prs = LocalProvider(tmp_path / "prs")
    runner = FlowRunner(
        snapshot_loader(snaps), list_apps(snaps), Policy(), lambda url: prs, tmp_path / "cache", journal,
        repo_url_override=lambda app: str(remotes / f"{app}.git"),
    )  # fmt: skip
    with FakeKubeAPI(SNAP) as api:
        src = LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kc"))
        app = create_app(
            Settings(secret="x", settle_seconds=0.05, poll_seconds=0.02), journal, runner, Policy(),
            lambda on_change: ApplicationWatcher(src, on_change, timeout_seconds=1),
        )  # fmt: skip
        with Server(app):
            wait_done(journal, 1)
            api.watch_events.put(None)
    [row] = journal.all()
    assert (row.source, row.state, row.outcome) == ("watch", "done", "opened")
    assert (tmp_path / "prs" / "pr-1.md").is_file()
