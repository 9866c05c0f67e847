"""A REAL Alertmanager (0.25, Debian's prometheus-alertmanager) notifies the bot: alerts posted to
its ``/api/v2/alerts`` are grouped, sent to ``/v1/hooks/alertmanager`` with the bearer token of
``http_config.authorization`` (the receiver of ``manifests/monitoring/alertmanager-receiver.yaml``),
repeated at ``repeat_interval`` and finally sent as resolved. The bot maps them to the app, opens ONE
pull request (fake GitHub) however often Alertmanager repeats, and closes the loop on resolution."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from remediator.policy import Policy
from remediator.service.journal import Incident, Journal
from tests.fakes.github_api import FakeGitHub
from tests.realservers import alertmanager_server
from tests.servicekit import running_bot
from tests.test_service import SECRET, TOKEN

from .conftest import ROOT

T = TypeVar("T")
RUNBOOK = "https://wiki.example.org/runbooks/oom-killed"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[tuple[str, Journal, FakeGitHub]]:
    with (
        FakeGitHub(token=TOKEN) as gh,
        running_bot(tmp_path, gh, TOKEN, Policy.model_validate({"runbooks": {"oom-killed": RUNBOOK}})) as (
            url,
            journal,
        ),
    ):
        yield url, journal, gh


def alertmanager_config(hook_url: str) -> str:
    """The shipped receiver snippet, pointed at the test's bot, with the token inline and short timers."""
    snippet = yaml.safe_load((ROOT / "manifests" / "monitoring" / "alertmanager-receiver.yaml").read_text())
    [receiver] = snippet["receivers"]
    [webhook] = receiver["webhook_configs"]
    webhook["url"] = hook_url
    auth = webhook["http_config"]["authorization"]
    auth.pop("credentials_file")
    auth["credentials"] = SECRET
    route = {
        **snippet["route"]["routes"][0],
        "group_wait": "1s",
        "group_interval": "2s",
        "repeat_interval": "4s",
    }
    route.pop("continue")
    route.pop("matchers")
    return yaml.safe_dump({"route": route, "receivers": [receiver]})


def until(what: str, check: Callable[[], T | None], timeout: float = 40.0) -> T:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sample(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text exposition (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_a_real_alertmanager_notifies_the_bot_one_pr_and_the_resolution_closes_the_loop(
    tmp_path: Path, bot: tuple[str, Journal, FakeGitHub]
) -> None:
    url, journal, gh = bot
    started = datetime.now(UTC) - timedelta(minutes=5)
    alerts = [  # one group (alertname, namespace): the OOMKilled pod and its Deployment
        {"alertname": "KubePodOOMKilled", "namespace": "demo", "pod": "memory-demo-6d4cf56db6-x7b2c"},
        {"alertname": "KubePodOOMKilled", "namespace": "demo", "deployment": "memory-demo"},
    ]

    def post(ends: datetime) -> None:
        body = [
            {"labels": {**labels, "severity": "warning"}, "startsAt": stamp(started), "endsAt": stamp(ends)}
            for labels in alerts
        ]
        r = am.post("/api/v2/alerts", json=body)
        assert r.status_code == 200, r.text

    with (
        alertmanager_server(tmp_path, alertmanager_config(url + "/v1/hooks/alertmanager")) as am_url,
        httpx.Client(base_url=am_url, timeout=10) as am,
        httpx.Client(base_url=url, timeout=10) as c,
    ):

        def received() -> float:
            return sample(c.get("/metrics").text, "remediator_incidents_received_total", source="alertmanager")

        post(datetime.now(UTC) + timedelta(hours=1))
        # Alertmanager sent ONE grouped notification with both alerts, authorized with the bearer token
        until(
            "the grouped notification",
            lambda: received() >= 2 or None,
        )
        first = until("the incident's run", lambda: next((i for i in journal.all() if i.state == "done"), None))
        assert first.app == "shop-a" and first.source == "alertmanager" and first.deduplicated >= 1
        assert first.payload["alert"]["labels"]["alertname"] == "KubePodOOMKilled"
        assert first.outcome == "opened" and first.pr_url, first.message
        [pr] = gh.repo.pulls
        assert RUNBOOK in pr["body"], "the policy's runbook for the category is linked from the PR body"
        am_metrics = am.get("/metrics").text
        assert sample(am_metrics, "alertmanager_notifications_total", integration="webhook") >= 1
        assert sample(am_metrics, "alertmanager_notifications_failed_total", integration="webhook") == 0

        # repeat_interval: Alertmanager sends the still-firing group again; the open PR is found, no second one
        until(
            "a repeated notification",
            lambda: received() >= 4 or None,
            timeout=30,
        )
        until("the repeat's run", lambda: all(i.state in ("done", "refused", "failed") for i in journal.all()) or None)
        runs = [i for i in journal.all() if i.source == "alertmanager"]
        assert len(runs) >= 2 and all(i.state == "done" for i in runs), [(i.state, i.message) for i in runs]
        assert {i.outcome for i in runs[1:]} <= {"unchanged"} and len(gh.repo.pulls) == 1

        # resolved: endsAt in the past; Alertmanager sends the resolution at the next group_interval
        post(datetime.now(UTC) - timedelta(seconds=1))

        def resolved_comment() -> list[dict[str, Any]] | None:
            said = [x for x in gh.repo.comments.get(1, []) if "resolved" in x["body"]]
            return said or None

        said = until("the resolved comment on the PR", resolved_comment, timeout=30)
        assert "KubePodOOMKilled" in said[0]["body"] and "resolved" in said[0]["body"]
        latest: Incident = max(journal.all(), key=lambda i: i.received)
        resolved = latest.payload.get("resolved") or []
        assert {tuple(sorted(a["labels"].items())) for a in resolved} == {
            tuple(sorted({**labels}.items())) for labels in alerts
        }, resolved
        assert all(a["status"] == "resolved" and a["endsAt"] for a in resolved)
        assert len(said) == 1, "one comment for the notification's resolved alerts"
        time.sleep(5)  # past another group_interval and repeat_interval: no new notification, PR, or comment
        assert len(gh.repo.pulls) == 1
        assert sample(c.get("/metrics").text, "remediator_alerts_resolved_total") == 2
    assert not gh.unexpected


@pytest.mark.parametrize(
    ("runbooks", "message"),
    [
        ({"oom-killed": "javascript:alert(1)"}, "runbook for oom-killed: must be an http(s) URL"),
        ({"OOM Killed": RUNBOOK}, "must be a finding category such as oom-killed"),
    ],
)
def test_a_bad_runbook_is_a_one_line_policy_error(tmp_path: Path, runbooks: dict[str, str], message: str) -> None:
    from remediator.errors import InputError
    from remediator.policy import load_policy

    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"runbooks": runbooks}))
    with pytest.raises(InputError) as e:
        load_policy(path)
    assert "runbooks" in str(e.value) and message in str(e.value) and "\n" not in str(e.value)
