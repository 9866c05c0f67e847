"""Notifications: each channel against a loopback receiver that checks the service's documented
payload shape; threads, filters, dedupe, rate limit, hostile strings; a service run that notifies;
a failing or hanging channel that never fails or blocks a run."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from remediator.errors import InputError
from remediator.notify import Notifier, make_event, scan_summary, send
from remediator.notify.message import Event
from remediator.policy import Notifications, Policy, load_policy
from remediator.publish.github import GitHubProvider
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader
from tests.fakes.chat_receivers import ChatReceiver
from tests.fakes.github_api import FakeGitHub
from tests.test_service import TOKEN, make_apps

HOSTILE = "<!channel> @everyone <@U123> **bold** [x](https://evil.example) token ghp_" + "A" * 36


def ev(
    type: Any = "incident.diagnosed", incident: str = "inc1", summary: str = "the pod is OOM-killed", **kw: Any
) -> Event:
    return make_event(
        type, kw.pop("app", "shop"), kw.pop("title", "shop: oom-killed"), summary, incident=incident, **kw
    )


def notifier(*channels: dict[str, Any], **settings: Any) -> tuple[Notifier, list[tuple[str, str]]]:
    counted: list[tuple[str, str]] = []
    n = Notifier(Notifications.model_validate({"channels": list(channels), **settings}))
    n.count = lambda ch, out: counted.append((ch, out))
    return n, counted


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatReceiver]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    with ChatReceiver("slack") as r:
        yield r


def slack_channel(r: ChatReceiver, **kw: Any) -> dict[str, Any]:
    return {
        "name": "ops",
        "type": "slack",
        "token_env": "SLACK_BOT_TOKEN",
        "channel": "C0123",
        "api_url": r.api_url,
        **kw,
    }


def test_slack_web_api_one_thread_per_incident(slack: ChatReceiver) -> None:
    n, counted = notifier(slack_channel(slack))
    n.notify(ev(fields={"Root cause": "oom-killed", "Confidence": "95%"}, links={"Argo CD": "https://argo.example/x"}))
    n.notify(ev("pr.opened", summary="PR opened", links={"Pull request": "https://github.com/a/b/pull/1"}))
    n.notify(ev(incident="inc2", summary="another incident"))
    assert n.flush(5)
    assert not slack.errors and len(slack.received) == 3
    first, reply, other = slack.received
    assert "thread_ts" not in first and "thread_ts" not in other
    assert reply["thread_ts"] == "1700000000.000001"  # the ts the first message of the incident got
    assert first["channel"] == "C0123" and first["blocks"][0]["text"]["type"] == "mrkdwn"
    assert "<https://argo.example/x|Argo CD>" in json.dumps(first["blocks"])
    assert counted == [("ops", "sent")] * 3


def test_slack_incoming_webhook_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatReceiver("slack-webhook") as r:
        monkeypatch.setenv("SLACK_URL", r.webhook_url)
        n, counted = notifier({"name": "s", "type": "slack", "url_env": "SLACK_URL"})
        n.notify(ev(summary=HOSTILE))
        n.notify(ev("pr.opened"))
        assert n.flush(5)
    assert not r.errors and counted == [("s", "sent")] * 2
    text = json.dumps(r.received[0])
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text
    assert "A" * 36 not in text


def test_discord_embeds_and_no_mentions(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatReceiver("discord") as r:
        monkeypatch.setenv("DISCORD_WEBHOOK_URL", r.webhook_url)
        n, counted = notifier({"name": "dc", "type": "discord", "url_env": "DISCORD_WEBHOOK_URL"})
        n.notify(ev(summary=HOSTILE, fields={"Root cause": "oom-killed"}, steps=["kubectl describe pod x"]))
        assert n.flush(5)
    assert not r.errors and counted == [("dc", "sent")]
    body = r.received[0]
    assert body["allowed_mentions"] == {"parse": []}
    e = body["embeds"][0]
    assert e["fields"][0]["name"] == "Root cause" and "Next steps" in e["description"]
    text = json.dumps(body, ensure_ascii=False)
    assert "@everyone" not in text and "@\u200beveryone" in text
    assert "ghp_" + "A" * 36 not in text and "\\*\\*bold\\*\\*" in e["description"]


def test_teams_adaptive_card(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatReceiver("teams") as r:
        monkeypatch.setenv("TEAMS_URL", r.webhook_url)
        n, _ = notifier({"name": "teams", "type": "teams", "url_env": "TEAMS_URL"})
        n.notify(ev("fix.refused", summary=HOSTILE, steps=["step one"], links={"Argo CD": "https://argo.example/a"}))
        assert n.flush(5)
    assert not r.errors
    att = r.received[0]["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["type"] == "TextBlock"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Argo CD", "url": "https://argo.example/a"}]
    text = json.dumps(card, ensure_ascii=False)
    assert "@everyone" not in text and "ghp_" + "A" * 36 not in text


def test_generic_webhook_payload_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatReceiver("webhook") as r:
        monkeypatch.setenv("HOOK_URL", r.webhook_url)
        n, _ = notifier({"name": "n8n", "type": "webhook", "url_env": "HOOK_URL"})
        n.notify(ev(summary=HOSTILE, namespace="shop", fields={"Confidence": "95%"}, links={"bad": "javascript:x"}))
        assert n.flush(5)
    assert not r.errors
    body = r.received[0]
    assert body["schema"] == "remediator.notification/v1" and body["event"] == "incident.diagnosed"
    assert body["severity"] == "warning" and body["namespace"] == "shop" and body["fields"] == {"Confidence": "95%"}
    assert body["links"] == []  # only http(s) links survive
    assert "A" * 36 not in body["summary"] and "&lt;" not in body["summary"]  # plain text, redacted


class _Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def test_email_via_local_smtp_server() -> None:
    sink = _Sink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        n, counted = notifier(
            {
                "name": "mail",
                "type": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "starttls": False,
                "sender": "bot@example.org",
                "to": ["ops@example.org"],
            }
        )
        n.notify(ev("fix.out_of_band", title="shop: line\r\nBcc: evil@example.org", summary=HOSTILE, steps=["a"]))
        assert n.flush(5)
    finally:
        ctl.stop()
    assert counted == [("mail", "sent")]
    msg = message_from_bytes(sink.messages[0])
    assert msg["To"] == "ops@example.org" and msg["Bcc"] is None and "[critical]" in msg["Subject"]
    raw = msg.get_payload(decode=True)
    assert isinstance(raw, bytes)
    body = raw.decode()
    assert "Next steps:" in body and "A" * 36 not in body


def test_filters_dedupe_and_rate_limit(slack: ChatReceiver) -> None:
    n, counted = notifier(
        slack_channel(
            slack,
            min_severity="warning",
            apps={"deny": ["test-*"]},
            namespaces={"allow": ["prod-*"]},
            events=["incident.diagnosed", "fix.refused"],
        ),
        rate_limit_per_minute=3,
    )
    n.notify(ev("app.recovered"))  # info < warning, and not in events
    n.notify(ev("pr.opened"))  # not in events
    n.notify(ev(app="test-x", namespace="prod-a"))  # app denied
    n.notify(ev(namespace="dev"))  # namespace not allowed
    n.notify(ev(namespace="prod-a"))
    n.notify(ev(namespace="prod-a"))  # the same incident, event and content: once
    for i in range(3):
        n.notify(ev(namespace="prod-a", incident=f"i{i}"))
    assert n.flush(5)
    assert len(slack.received) == 3
    assert sorted(set(counted)) == [("ops", "deduplicated"), ("ops", "rate-limited"), ("ops", "sent")]


def test_failing_or_hanging_channel_never_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatReceiver("fail") as bad, ChatReceiver("hang") as slow, ChatReceiver("webhook") as good:
        for name, r in (("BAD", bad), ("SLOW", slow), ("GOOD", good)):
            monkeypatch.setenv(f"{name}_URL", r.webhook_url)
        n, counted = notifier(
            {"name": "bad", "type": "webhook", "url_env": "BAD_URL"},
            {"name": "slow", "type": "discord", "url_env": "SLOW_URL", "timeout_seconds": 0.5},
            {"name": "good", "type": "webhook", "url_env": "GOOD_URL"},
            {"name": "unset", "type": "webhook", "url_env": "NOT_SET_ANYWHERE"},
        )
        t = time.monotonic()
        n.notify(ev())
        assert time.monotonic() - t < 0.45  # queued, not sent inline (the slow channel alone takes 0.5 s)
        assert n.flush(5)
    assert len(good.received) == 1
    assert sorted(counted) == [("bad", "failed"), ("good", "sent"), ("slow", "failed"), ("unset", "failed")]


def test_send_for_the_scan_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatReceiver("webhook") as r:
        monkeypatch.setenv("HOOK_URL", r.webhook_url)
        policy = Policy.model_validate(
            {"notifications": {"channels": [{"name": "h", "type": "webhook", "url_env": "HOOK_URL"}]}}
        )
        send(policy, scan_summary("Daily scan: 2 of 40 apps degraded", "…", "critical", {"critical": 2, "ok": 38}))
    assert r.received[0]["event"] == "scan.summary" and r.received[0]["fields"] == {"critical": "2", "ok": "38"}


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ({"name": "x", "type": "discord"}, "discord needs url_env"),
        ({"name": "x", "type": "slack", "token_env": "T"}, "slack needs token_env"),
        ({"name": "x", "type": "webhook", "url_env": "https://hooks.example/abc"}, "must name an environment variable"),
        ({"name": "x", "type": "webhook", "url_env": "U", "events": ["pr.merged"]}, "unknown event 'pr.merged'"),
    ],
)
def test_policy_errors_are_one_line(tmp_path: Path, channel: dict[str, Any], message: str) -> None:
    p = tmp_path / "policy.yaml"
    p.write_text(json.dumps({"notifications": {"channels": [channel]}}))
    with pytest.raises(InputError, match=message) as e:
        load_policy(p)
    assert "\n" not in str(e.value)


def test_service_run_notifies_diagnosis_and_pr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snaps, remotes = make_apps(tmp_path, ["shop-a"])
    with (
        FakeGitHub(token=TOKEN) as gh,
        ChatReceiver("webhook") as hook,
        ChatReceiver("fail") as bad,
        ChatReceiver("hang") as slow,
    ):
        for name, r in (("HOOK", hook), ("BAD", bad), ("SLOW", slow)):
            monkeypatch.setenv(f"{name}_URL", r.webhook_url)
        policy = Policy.model_validate(
            {
                "pull_requests": {"argocd_url": "https://argocd.example.org"},
                "notifications": {
                    "channels": [
                        {"name": "hook", "type": "webhook", "url_env": "HOOK_URL"},
                        {"name": "bad", "type": "webhook", "url_env": "BAD_URL"},
                        {"name": "slow", "type": "webhook", "url_env": "SLOW_URL", "timeout_seconds": 0.5},
                    ]
                },
            }
        )
        provider = GitHubProvider(
            "acme/deploy", TOKEN, gh.url, retries=2, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0
        )
        runner = FlowRunner(
            snapshot_loader(snaps),
            snapshot_applications(snaps),
            policy,
            lambda url: provider,
            tmp_path / "cache",
            Journal(tmp_path / "journal.sqlite"),
            repo_url_override=lambda app: str(remotes / f"{app}.git"),
        )
        assert runner.notifier is not None
        res = runner.run("shop-a", {}, lambda stage: None)
        assert res.state == "done" and res.outcome == "opened"  # the failing and hanging channels changed nothing
        assert runner.notifier.flush(10)
    events = {b["event"]: b for b in hook.received}
    assert sorted(events) == ["incident.diagnosed", "pr.opened"]
    d = events["incident.diagnosed"]
    assert d["app"] == "shop-a" and d["fields"]["Root cause"] == "oom-killed" and d["incident"] == res.cause
    assert d["links"] == [{"label": "Argo CD", "url": "https://argocd.example.org/applications/argocd/shop-a"}]
    assert events["pr.opened"]["links"][0]["url"] == res.pr_url and events["pr.opened"]["incident"] == res.cause


def _unused(*args: Any) -> Any:
    raise AssertionError("not called")


def test_service_counts_notifications_in_its_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from remediator.service.app import Settings, create_app

    with ChatReceiver("fail") as bad:
        monkeypatch.setenv("BAD_URL", bad.webhook_url)
        policy = Policy.model_validate(
            {"notifications": {"channels": [{"name": "bad", "type": "webhook", "url_env": "BAD_URL"}]}}
        )
        journal = Journal(tmp_path / "journal.sqlite")
        runner = FlowRunner(
            _unused,
            lambda: [],
            policy,
            _unused,
            tmp_path / "cache",
            journal,
        )
        app = create_app(Settings(secret="s"), journal, runner, policy)
        assert runner.notifier is not None
        runner.notifier.notify(ev())
        assert runner.notifier.flush(5)
        text = TestClient(app).get("/metrics").text
    assert 'remediator_notifications_total{channel="bad",outcome="failed"} 1.0' in text
