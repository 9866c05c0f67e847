"""Attacks on this session's new surfaces: PR commands (``POST /v1/hooks/github``), notifications,
the incidents page and API views, MCP tools, doctor's output, PromQL parsing and the Prometheus
adapter. Every string from the cluster, PRs, webhooks and Prometheus is hostile."""

# ruff: noqa: F811  (the PR-command fixtures gh and service are imported, then named as parameters)
from __future__ import annotations

import json
import math
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediator.evidence.metrics import selectors, series_of
from remediator.evidence.sources.prometheus import PrometheusClient
from remediator.evidence.store import Probe
from remediator.notify.message import (
    discord_payload,
    email_message,
    make_event,
    slack_payload,
    teams_payload,
    webhook_payload,
)
from remediator.policy import Metrics
from remediator.service.journal import Journal
from remediator.views import doctor as doctor_view
from remediator.views.incidents import incident_json, incidents_page, incidents_text
from tests.fakes.github_api import FakeGitHub
from tests.test_github_commands import GH_SECRET, REPO, bot_comments, comment, gh, send, service  # noqa: F401

GH_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
BEARER = "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAsecretsecretsecret\n-----END RSA PRIVATE KEY-----"
SECRET_BITS = (GH_TOKEN, AWS_KEY, "c2lnbmF0dXJlLXNlY3JldA", "MIIEpAIBAAKCAQEAsecret")
LEAKY = f"pull failed: token={GH_TOKEN} aws {AWS_KEY}\n{BEARER}\n{PEM}"


def assert_no_secret(text: str) -> None:
    for s in SECRET_BITS:
        assert s not in text, s


# --- PR commands ------------------------------------------------------------------------------------

Service = tuple[httpx.Client, Journal]


def test_case_variant_and_confusable_bot_logins_cannot_act(service: Service, gh: FakeGitHub) -> None:
    c, _ = service
    before = len(bot_comments(gh, 1))
    # the bot's own login in other case is the bot (GitHub logins are case-insensitive)
    r = send(c, "issue_comment", comment(1, "/remediator close", login="Remediator-BOT"))
    assert r.json()["result"] == "ignored-bot", r.text
    # a confusable (Cyrillic e, U+2010 hyphen) is another user: it needs write access, which it lacks
    for login in ("r\u0435mediator-bot", "remediator\u2010bot", "remediator-bot\u200b"):
        r = send(c, "issue_comment", comment(1, "/remediator close", login=login))
        assert r.json()["result"] == "ignored-no-permission", (login, r.text)
    assert gh.repo.pulls[0]["state"] == "open" and len(bot_comments(gh, 1)) == before


def test_edited_comment_adding_a_command_is_ignored(service: Service, gh: FakeGitHub) -> None:
    c, _ = service
    payload = {**comment(1, "/remediator close"), "action": "edited"}
    r = send(c, "issue_comment", payload)
    assert r.json()["result"] == "ignored-not-a-command" and gh.repo.pulls[0]["state"] == "open"


def test_signature_over_another_body_and_huge_or_deep_bodies(service: Service) -> None:
    c, _ = service
    good = json.dumps(comment(1, "/remediator explain")).encode()
    bad = json.dumps(comment(1, "/remediator close")).encode()
    from remediator.service.commands import sign

    h = {"X-GitHub-Event": "issue_comment", "X-Hub-Signature-256": sign(GH_SECRET, good)}
    assert c.post("/v1/hooks/github", content=bad, headers=h).status_code == 401
    # deep nesting, signed correctly: refused as bad input, not a crash
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    r = c.post("/v1/hooks/github", content=deep, headers={**h, "X-Hub-Signature-256": sign(GH_SECRET, deep)})
    assert r.status_code == 400 and "nested" in r.text
    # a huge body is refused before its signature is even computed over all of it
    huge = b'{"a": "' + b"x" * 30_000_000 + b'"}'
    r = c.post("/v1/hooks/github", content=huge, headers={**h, "X-Hub-Signature-256": sign(GH_SECRET, huge)})
    assert r.status_code == 413


def test_close_on_a_pr_with_a_forged_or_buried_marker_does_nothing(service: Service, gh: FakeGitHub) -> None:
    c, journal = service
    bot = gh.repo.pulls[0]
    # a human copies the bot's body (marker last) on the bot's branch name in the same repo
    gh.add_pull(bot["head"] + "-copy", bot["body"], user="mallory")
    # the bot's own body with text after the marker (marker not last)
    gh.add_pull(bot["head"] + "-late", bot["body"] + "\n\nmore text", user="remediator-bot")
    for number in (2, 3):
        r = send(c, "issue_comment", comment(number, "/remediator close"))
        assert r.json()["result"] == "ignored-not-owned", r.text
        r = send(c, "pull_request", {"action": "closed", "number": number, "pull_request": gh._pull_json(
            gh.repo.pulls[number - 1]), "repository": REPO})  # fmt: skip
        assert r.json()["result"] == "ignored-not-owned", r.text
    assert all(p["state"] == "open" for p in gh.repo.pulls)
    assert not [i for i in journal.all() if i.outcome == "rejected"]


def test_pr_from_a_fork_with_the_bots_branch_name(service: Service, gh: FakeGitHub) -> None:
    c, _ = service
    bot = gh.repo.pulls[0]
    payload = {**comment(1, "/remediator close"), "repository": {**REPO, "fork": True}}
    assert send(c, "issue_comment", payload).json()["result"] == "ignored-fork"
    # the payload's repository claims another name than the one the bot publishes to
    other = {**comment(1, "/remediator close"), "repository": {**REPO, "full_name": "evil/deploy",
             "html_url": "https://github.com/evil/deploy"}}  # fmt: skip
    assert send(c, "issue_comment", other).json()["result"] == "ignored-not-owned"
    assert bot["state"] == "open"


# --- notifications ----------------------------------------------------------------------------------


def strings(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [s for k, v in data.items() if k not in ("$schema", "url", "contentType") for s in strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return [data] if isinstance(data, str) else []


def hostile_event() -> Any:
    return make_event(
        "fix.refused",
        "shop\r\nBcc: victim@example.com <!channel>",
        "<!channel> <@U123> @everyone <https://evil.example|click> [click](https://evil.example)\r\nX-Evil: 1",
        LEAKY + " <!here> @here",
        incident="inc-1",
        namespace="ns<script>",
        fields={"Culprit": "<@U999> [x](javascript:alert(1)) @everyone " + GH_TOKEN},
        steps=[f"run `kubectl` with {BEARER}", "<!everyone>"],
        links={"Pull request": "javascript:alert(1)", "Argo CD": "https://argo.example/a|<!channel>"},
    )


def test_notification_payloads_are_inert_and_redacted() -> None:
    ev = hostile_event()
    slack = json.dumps(slack_payload(ev))
    for bad in ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@U999>", "<https://evil"):
        assert bad not in slack, bad
    assert "<javascript:" not in slack and "|<!channel>" not in slack  # mrkdwn has no [text](url) links
    d = discord_payload(ev)
    assert d["allowed_mentions"] == {"parse": []}
    dtext = json.dumps(d, ensure_ascii=False)
    assert not re.search(r"@(everyone|here)", dtext) and "](https://evil" not in dtext
    teams = teams_payload(ev)
    ttext = json.dumps(teams, ensure_ascii=False)
    for s in strings(teams):  # TextBlocks are markdown: no unescaped link, angle bracket or mention
        assert not re.search(r"(?<!\\)\]\(|(?<!\\)<|@(?!\u200b)", s), s
    assert not re.search(r'"url": "(?!https?://)', ttext)
    subject, body = email_message(ev)
    assert len(subject.splitlines()) == 1 and body.startswith(ev.title)
    hook = json.dumps(webhook_payload(ev))
    assert all(link["url"].startswith("https://") for link in webhook_payload(ev)["links"])
    for text in (slack, dtext, ttext, subject + body, hook):
        assert_no_secret(text)


def test_email_header_injection_through_the_message_object() -> None:
    from email.message import EmailMessage

    for sep in ("\r\n", "\n", "\r", "\u2028", "\u0085"):
        ev = make_event("pr.opened", f"shop{sep}Bcc: x@evil.example", f"t{sep}Bcc: x@evil.example", "s")
        subject, _ = email_message(ev)
        msg = EmailMessage()
        msg["Subject"] = subject
        msg.set_content("x")
        head = msg.as_string().split("\n\n", 1)[0]
        assert not re.search(r"^Bcc:", head, re.M), repr(head)


# --- incidents page and JSON ------------------------------------------------------------------------


@dataclass
class Inc:
    id: str = "inc-1"
    app: str = "<script>alert(1)</script>"
    source: str = "argocd"
    payload: dict[str, Any] = field(default_factory=dict)
    state: str = 'done" onmouseover="alert(1)'
    stage: str = ""
    received: float = 1.0
    runs: int = 1
    deduplicated: int = 0
    outcome: str = "<img src=x onerror=alert(1)>"
    message: str = ""
    pr_url: str = "javascript:alert(document.cookie)"
    crashes: int = 0
    updated: float = 2.0
    cause: str = ""
    category: str = "<svg onload=alert(1)>"
    culprit: str = "</td><script>x()</script>"


def test_incidents_page_escapes_everything_and_links_only_http() -> None:
    page = incidents_page([Inc(), Inc(pr_url='https://x.example/"><script>y()</script>')])
    assert "<script" not in page and "<svg" not in page and "<img" not in page
    assert 'href="javascript' not in page and 'onmouseover="' not in page
    assert len(re.findall(r"<a ", page)) == 1  # only the https URL is a link
    for tag in re.findall(r"<(\w+)", page):
        assert tag in {"html", "head", "meta", "title", "style", "body", "h1", "table", "thead", "tr", "th",
                       "tbody", "td", "span", "a"}, tag  # fmt: skip
    # JSON is data: exact values (a JSON client must escape), served as application/json
    data = incident_json(Inc())
    assert data["app"] == Inc().app and json.loads(json.dumps(data)) == data


def test_incidents_text_has_no_terminal_escapes() -> None:
    out = incidents_text([Inc(app="shop\x1b]52;c;ZXZpbA==\x07\x1b[2J", pr_url="x\rEVIL")])
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out


# --- doctor -----------------------------------------------------------------------------------------


def test_doctor_output_is_redacted() -> None:
    checks = [doctor_view.Check("github", "fail", f"GET https://x-access-token:{GH_TOKEN}@github.com: 401", LEAKY)]
    assert_no_secret(doctor_view.to_text(checks))
    assert_no_secret(doctor_view.to_json(checks))


# --- MCP --------------------------------------------------------------------------------------------


def test_mcp_propose_fix_cannot_write_or_traverse(tmp_path: Path) -> None:
    from remediator.cli.common import examples_root
    from remediator.mcp_server import Config, Core

    shutil.copytree(examples_root() / "tmcp-marketing/fluentd-rbac", tmp_path / "ex")
    ex = tmp_path / "ex"
    core = Core(Config(snapshot=ex / "cluster", repo=ex / "repo"))
    from remediator.mcp_server import ToolInputError as ToolError

    for app in ("../../etc/passwd", "..", "a/../../b", "tmcp-gitops/../x", "TMCP", "a\x00b", " " * 3):
        with pytest.raises(ToolError):
            core.propose_fix(app, open_pr=False)
    with pytest.raises(ToolError, match="read-only"):
        core.propose_fix("tmcp-gitops", open_pr=True)


# --- PromQL and Prometheus --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["{" * 100_000, "[" * 100_000, "by(" * 33_000, "a{" * 50_000, "{" + "a" * 100_000 + "}", "a " * 50_000,
     "f( " * 33_000, 'x{a="b"} + ' * 9_000, '"' + "\\" * 100_000],
)  # fmt: skip
def test_promql_parsing_is_linear(query: str) -> None:
    t = time.perf_counter()
    selectors(query)
    assert time.perf_counter() - t < 2.0


def test_metric_names_inside_label_values_are_not_selectors() -> None:
    sels = selectors('up{job="container_memory_rss{x=\\"1\\"}", a=~`container_cpu_usage_seconds_total`}')
    assert [s.metric for s in sels] == ["up"]


def test_prometheus_answer_of_50_mb_is_a_probe_error() -> None:
    big = b'{"status":"success","data":{"resultType":"vector","result":[' + b" " * 50_000_000 + b"]}}"
    transport = httpx.MockTransport(lambda req: httpx.Response(200, content=big))
    with PrometheusClient(Metrics(url="http://127.0.0.1:9"), transport) as client:
        p = client.instant("up")
    assert p.body is None and p.error and "larger than" in p.error


def test_nan_inf_and_huge_numbers_are_dropped() -> None:
    result = [
        {"metric": {"pod": "a"}, "values": [[1, "NaN"], [2, "+Inf"], [3, "-Inf"], [4, "1e400"], [5, "7"]]},
        {"metric": {"pod": "b"}, "value": [1, "nan"]},
        {"metric": {"pod": "c"}, "value": ["x", 10**400]},
    ]
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    p = Probe("http://p/api/v1/query_range?query=container_memory_rss&start=0&end=60", 200, body, None, "prom")
    out = series_of(p)
    assert [s.values for s in out] == [(7.0,)] and all(math.isfinite(v) for s in out for v in s.values)


# --- secrets into the incidents API and the alert-resolved comment ----------------------------------


def test_secrets_in_a_notification_do_not_reach_the_incidents_api(service: Service) -> None:
    from tests.test_github_commands import H
    from tests.test_service import hook

    c, _ = service
    leaky = hook("shop-a", project=f"p token={GH_TOKEN} {AWS_KEY}", argocdUrl=f"https://u:{GH_TOKEN}@argo.x")
    r = c.post("/v1/hooks/argocd", json=leaky, headers=H)
    assert r.status_code == 202, r.text
    iid = r.json()["incident"]
    detail = c.get(f"/v1/incidents/{iid}", headers=H)
    assert detail.status_code == 200 and "project" in detail.json()["payload"], detail.text
    assert_no_secret(detail.text)
    assert_no_secret(c.get("/v1/incidents", headers=H).text)
    assert_no_secret(c.get("/").text)


def test_a_secret_in_the_revision_field_is_redacted_in_the_incidents_api(service: Service) -> None:
    from tests.test_github_commands import H
    from tests.test_service import hook

    c, _ = service
    r = c.post("/v1/hooks/argocd", json=hook("shop-a", revision=f"{GH_TOKEN}"), headers=H)
    assert r.status_code == 202, r.text
    assert_no_secret(c.get(f"/v1/incidents/{r.json()['incident']}", headers=H).text)


def test_secrets_in_a_resolved_alert_do_not_reach_the_pr_comment(service: Service, gh: FakeGitHub) -> None:
    from tests.test_github_commands import H

    c, _ = service
    labels = {"alertname": f"Leak {GH_TOKEN}", "argocd_application": "shop-a", "namespace": "demo"}
    body = {
        "version": "4", "status": "resolved", "receiver": "r", "groupLabels": {}, "commonLabels": labels,
        "commonAnnotations": {}, "externalURL": "http://am", "groupKey": "k", "truncatedAlerts": 0,
        "alerts": [{"status": "resolved", "labels": labels, "annotations": {}, "startsAt": "2026-01-01T00:00:00Z",
                    "endsAt": "2026-01-01T00:05:00Z", "fingerprint": "f1", "generatorURL": ""}],
    }  # fmt: skip
    r = c.post("/v1/hooks/alertmanager", json=body, headers=H)
    assert r.status_code == 202 and r.json()["results"][0].get("commented") is True, r.text
    said = [x["body"] for x in gh.repo.comments.get(1, []) if "resolved" in x["body"]]
    assert said and GH_TOKEN not in said[-1]


def test_mcp_outputs_are_redacted() -> None:
    from remediator.mcp_server import _json, bounded

    assert_no_secret(bounded(LEAKY))
    assert_no_secret(_json({"message": LEAKY, "nested": [{"k": BEARER}], "url": f"https://u:{GH_TOKEN}@h"}))
