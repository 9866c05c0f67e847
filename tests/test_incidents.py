"""Looking up what the service did: journal queries, /v1/incidents, the page at /, `remediator incidents`."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.errors import InputError
from remediator.evidence.store import Obj
from remediator.policy import Policy
from remediator.service.app import Settings, create_app
from remediator.service.journal import Journal
from remediator.service.runner import RunResult
from remediator.views.incidents import PAGE_CSP, STYLE, incidents_page, incidents_text
from tests.test_service import Server

SECRET = "s3cret-token-for-tests"
H = {"X-Remediator-Token": SECRET}


class IdleRunner:
    """A Runner that is never asked to run: the incidents here are queued far in the future or finished."""

    def applications(self) -> list[Obj]:
        return []

    def run(self, app: str, payload: dict[str, Any], stage: Callable[[str], None]) -> RunResult:
        raise AssertionError(f"unexpected run of {app}")

    def ready(self) -> str | None:
        return None


def finished(j: Journal, app: str, state: str, outcome: str, pr: str = "", category: str = "") -> str:
    iid, _ = j.submit(app, "argocd", {"app": app, "health": "Degraded"}, 0)
    claimed = j.claim(set(), 8)
    assert [c.id for c in claimed] == [iid]
    j.finish(iid, state, outcome, f"{app}: {outcome}", pr, "c0ffee", category, f"Deployment/{app}/web")
    return iid


def populate(j: Journal) -> dict[str, str]:
    ids = {
        "shop": finished(j, "shop", "done", "opened", "https://github.com/acme/deploy/pull/7", "oom-killed"),
        "cart": finished(j, "cart", "failed", "error", "", "image-pull"),
        "evil": finished(j, "<b>evil</b>", "done", "opened", "javascript:alert(1)", "probe"),
        "denied": j.refuse("forbidden-x", "argocd", {"app": "forbidden-x"}, "not allowed by the policy (apps)"),
    }
    ids["queued"], _ = j.submit("shop", "argocd", {"app": "shop", "health": "Degraded"}, 3600)
    return ids


# --- journal -------------------------------------------------------------------------------------


def test_recent_is_newest_first_filtered_and_bounded(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    ids = populate(j)
    got = j.recent()
    assert [i.id for i in got] == [ids["queued"], ids["denied"], ids["evil"], ids["cart"], ids["shop"]]
    assert [i.id for i in j.recent(app="shop")] == [ids["queued"], ids["shop"]]
    assert [i.id for i in j.recent(app="shop", state="done")] == [ids["shop"]]
    assert [i.id for i in j.recent(limit=2)] == [ids["queued"], ids["denied"]]
    assert j.recent(app="x' OR 1=1 --") == []
    shop = j.get(ids["shop"])
    assert shop is not None
    assert (shop.category, shop.culprit, shop.runs, shop.cause) == ("oom-killed", "Deployment/shop/web", 1, "c0ffee")
    assert shop.updated >= shop.received
    for bad in (0, 501):
        with pytest.raises(InputError, match="limit"):
            j.recent(limit=bad)
    with pytest.raises(InputError, match="state"):
        j.recent(state="bogus")


def test_an_old_journal_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE incidents (id TEXT PRIMARY KEY, app TEXT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL,"
        " state TEXT NOT NULL, stage TEXT NOT NULL DEFAULT '', received REAL NOT NULL, due REAL NOT NULL,"
        " updated REAL NOT NULL, runs INTEGER NOT NULL DEFAULT 0, deduplicated INTEGER NOT NULL DEFAULT 0,"
        " outcome TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '', pr_url TEXT NOT NULL DEFAULT '',"
        " cause TEXT NOT NULL DEFAULT '')"
    )
    db.execute("INSERT INTO incidents (id, app, source, payload, state, received, due, updated) "
               "VALUES ('a1', 'shop', 'argocd', '{}', 'done', 1, 1, 1)")  # fmt: skip
    db.commit()
    db.close()
    [old] = Journal(path).recent()
    assert (old.id, old.category, old.culprit, old.crashes) == ("a1", "", "", 0)


def test_read_only_open_never_creates_or_writes(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        Journal.open_readonly(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(InputError, match="directory"):
        Journal.open_readonly(tmp_path)
    (tmp_path / "junk").write_text("not sqlite")
    with pytest.raises(InputError, match="not a readable remediator journal"):
        Journal.open_readonly(tmp_path / "junk")
    writer = Journal(tmp_path / "j.sqlite")
    populate(writer)
    reader = Journal.open_readonly(tmp_path / "j.sqlite")  # while the service still has it open
    assert len(reader.recent()) == 5
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.refuse("x", "argocd", {}, "no")


# --- views ---------------------------------------------------------------------------------------


def test_page_escapes_links_only_http_and_says_when_empty(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    populate(j)
    page = incidents_page(j.recent())
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    assert 'href="https://github.com/acme/deploy/pull/7"' in page
    assert "javascript:alert(1)" in page and 'href="javascript' not in page
    assert "<script" not in page.lower() and " style=" not in page
    for state in ("done", "failed", "refused", "queued"):
        assert f'class="badge state-{state}"' in page
    assert "No incidents yet" in incidents_page([])
    assert "no incidents" in incidents_text([])
    text = incidents_text(j.recent())
    assert text.splitlines()[0].split()[:4] == ["ID", "APP", "STATE", "CATEGORY"]
    assert "https://github.com/acme/deploy/pull/7" in text


def test_the_csp_allows_exactly_the_page_stylesheet() -> None:
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in PAGE_CSP
    assert "default-src 'none'" in PAGE_CSP and "script-src" not in PAGE_CSP


# --- service -------------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Journal, dict[str, str]]]:
    j = Journal(tmp_path / "journal.sqlite")
    ids = populate(j)
    policy = Policy.model_validate({"apps": {"deny": ["forbidden-*"]}})
    settings = Settings(secret=SECRET, settle_seconds=3600, poll_seconds=0.02)
    with Server(create_app(settings, j, IdleRunner(), policy), settings) as url:
        yield url, j, ids


def test_incidents_api_needs_the_token_and_filters(served: tuple[str, Journal, dict[str, str]]) -> None:
    url, _, ids = served
    with httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/v1/incidents").status_code == 401
        assert c.get(f"/v1/incidents/{ids['shop']}", headers={"X-Remediator-Token": "wrong"}).status_code == 401
        r = c.get("/v1/incidents", headers=H)
        assert r.status_code == 200
        assert [i["id"] for i in r.json()["incidents"]][:2] == [ids["queued"], ids["denied"]]
        r = c.get("/v1/incidents", params={"app": "shop", "state": "done"}, headers=H)
        [shop] = r.json()["incidents"]
        assert shop["pr_url"] == "https://github.com/acme/deploy/pull/7" and shop["attempts"] == 1
        assert shop["category"] == "oom-killed"
        assert len(c.get("/v1/incidents", params={"limit": "1"}, headers=H).json()["incidents"]) == 1
        for params in ({"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"limit": "-1"}, {"state": "bogus"}):
            r = c.get("/v1/incidents", params=params, headers=H)
            assert r.status_code == 400, params
            assert list(r.json()) == ["error"]
        r = c.get(f"/v1/incidents/{ids['shop']}", headers={"Authorization": f"Bearer {SECRET}"})
        assert r.status_code == 200
        d = r.json()
        assert d["culprit"] == "Deployment/shop/web" and d["outcome"] == "opened" and d["stage"] == "finished"
        assert d["payload"] == {"app": "shop", "health": "Degraded"} and d["message"] == "shop: opened"
        r = c.get("/v1/incidents/nope'--", headers=H)
        assert r.status_code == 404 and "no incident" in r.json()["error"]


def test_a_hook_shows_up_as_a_queued_incident(served: tuple[str, Journal, dict[str, str]]) -> None:
    url, _, _ = served
    with httpx.Client(base_url=url, timeout=10) as c:
        hook = {"app": "pay", "namespace": "argocd", "health": "Degraded", "sync": "Synced"}
        r = c.post("/v1/hooks/argocd", json=hook, headers=H)
        assert r.status_code == 202, r.text
        iid = r.json()["incident"]
        [pay] = c.get("/v1/incidents", params={"app": "pay"}, headers=H).json()["incidents"]
        assert (pay["id"], pay["state"], pay["attempts"], pay["source"]) == (iid, "queued", 0, "argocd")


def test_page_is_open_minimal_escaped_and_strict(served: tuple[str, Journal, dict[str, str]]) -> None:
    url, _, _ = served
    r = httpx.get(url + "/", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "&lt;b&gt;evil&lt;/b&gt;" in r.text and "<b>evil" not in r.text
    assert "Deployment/shop/web" not in r.text and "shop: opened" not in r.text  # no culprit, no message
    assert len(re.findall(r'<td class="app">', r.text)) == 5


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_lists_filters_and_speaks_json(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    ids = populate(Journal(path))
    runner = CliRunner()
    r = runner.invoke(cli, ["incidents", "--journal", str(path)])
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 6 and "https://github.com/acme/deploy/pull/7" in r.stdout
    r = runner.invoke(
        cli, ["incidents", "--journal", str(path), "--app", "shop", "--state", "done", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    assert [i["id"] for i in json.loads(r.stdout)["incidents"]] == [ids["shop"]]
    r = runner.invoke(cli, ["incidents", "--journal", str(path), "--limit", "2", "--format", "json"])
    assert len(json.loads(r.stdout)["incidents"]) == 2


@pytest.mark.parametrize("args", [["--limit", "0"], ["--limit", "501"], ["--state", "bogus"], ["--format", "xml"]])
def test_cli_bad_options_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    r = CliRunner().invoke(cli, ["incidents", "--journal", str(path), *args])
    assert r.exit_code == 2


def test_cli_missing_or_foreign_journal_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk").write_text("junk")
    for target, why in ((tmp_path / "nope.sqlite", "no such file"), (tmp_path / "junk", "not a readable")):
        r = CliRunner().invoke(cli, ["incidents", "--journal", str(target)])
        assert r.exit_code == 3
        assert r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1 and why in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "nope.sqlite").exists()
