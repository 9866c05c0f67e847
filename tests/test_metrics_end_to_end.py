"""Remedies fed by a REAL Prometheus, end to end: a scenario's cluster snapshot without its `probes/`,
OpenMetrics series that reproduce the situation (timestamps consistent with the snapshot's objects)
backfilled with promtool, `probe_metrics` against the real server with the scenario's pods, the answers
written as the snapshot's `probes/`, then `diagnose` + `plan_fix` must make the scenario's edit
(`evaluate` scores fix_ok) and the proposal's reason must cite the query and the value.

Also: the policy's runbook URL per category is linked from notifications (every channel format)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from remediator.diagnose import diagnose
from remediator.edits.plan import FixResult, plan_fix
from remediator.eval import evaluate, load_scenario
from remediator.evidence.sources.prometheus import probe_metrics
from remediator.evidence.store import Evidence
from remediator.model import Category, Finding, ObjectRef
from remediator.notify import Notifier
from remediator.notify import message as note
from remediator.policy import Metrics, Notifications, Policy, load_policy
from remediator.publish.github import GitHubProvider
from remediator.service.journal import Journal
from remediator.service.runner import FlowRunner, snapshot_applications, snapshot_loader
from tests.fakes.chat_receivers import ChatReceiver
from tests.fakes.github_api import FakeGitHub
from tests.realservers import free_port, prometheus_server
from tests.test_service import TOKEN, make_apps

SCENARIOS = Path(__file__).parent / "scenarios"
MI = 1024 * 1024
GI = 1024 * MI
STEP = 60

Labels = dict[str, str]
Points = list[tuple[int, float]]


def at(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


RELEASE = at("2026-07-08T12:00:00Z")  # the ReplicaSet invoicer-5d8c7b6a94's creationTimestamp
NOW = at("2026-07-08T16:00:00Z")  # after the last OOM kill (finishedAt 15:58) in the snapshots


def family(name: str, kind: str, series: list[tuple[Labels, Points]]) -> str:
    sample = f"{name}_total" if kind == "counter" else name
    out = [f"# TYPE {name} {kind}"]
    for labels, points in series:
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        out += [f"{sample}{{{lab}}} {v} {t}" for t, v in points]
    return "\n".join(out)


def openmetrics(*families: str) -> str:
    return "\n".join(families) + "\n# EOF\n"


def times(start: int, end: int = NOW) -> range:
    return range(start, end + 1, STEP)


def counter(start: int, per_second: float) -> Points:
    return [(t, (t - start) * per_second) for t in times(start)]


def c(ns: str, pod: str, container: str) -> Labels:
    return {"namespace": ns, "pod": pod, "container": container}


def memory_steady() -> str:
    """The working set sits at 501Mi of the 512Mi limit for the last two hours: one release only."""
    pod = c("billing", "invoicer-5d8c7b6a94-q2w3e", "invoicer")
    return openmetrics(
        family("container_memory_working_set_bytes", "gauge", [(pod, [(t, 501 * MI) for t in times(NOW - 7200)])])
    )


def memory_leak() -> str:
    """Flat ~205Mi under 2.0.4 (the previous ReplicaSet's pod) until the release at 12:00, then the
    new pod's working set climbs to the 512Mi limit."""
    old = c("billing", "invoicer-6f7e8d9c01-h7k2m", "invoicer")
    new = c("billing", "invoicer-5d8c7b6a94-q2w3e", "invoicer")
    flat = [(t, 205 * MI + (t // STEP % 3) * MI) for t in times(RELEASE - 3 * 3600, RELEASE - STEP)]
    climb = [(t, 205 * MI + (t - RELEASE) * (305 * MI) // (NOW - RELEASE)) for t in times(RELEASE)]
    return openmetrics(family("container_memory_working_set_bytes", "gauge", [(old, flat), (new, climb)]))


def cpu_throttled() -> str:
    """The api container uses 248m of its 250m limit and 87% of its CFS periods are throttled."""
    start = NOW - 3600
    api = c("catalog", "catalog-api-6b9f8d7c55-tq7lp", "api")
    shipper = c("catalog", "catalog-api-6b9f8d7c55-tq7lp", "log-shipper")
    return openmetrics(
        family("container_cpu_cfs_periods", "counter", [(api, counter(start, 10)), (shipper, counter(start, 10))]),
        family(
            "container_cpu_cfs_throttled_periods",
            "counter",
            [(api, counter(start, 8.7)), (shipper, counter(start, 0.3))],
        ),
        family(
            "container_cpu_usage_seconds",
            "counter",
            [(api, counter(start, 0.248)), (shipper, counter(start, 0.02))],
        ),
    )


def volume_filling() -> str:
    """The spool PVC (20Gi) fills from 12Gi to 99.6% over the last two hours."""
    pvc = {"namespace": "ingest", "persistentvolumeclaim": "collector-spool"}
    start, full = NOW - 7200, 0.996 * 20 * GI
    used = [(t, 12 * GI + (t - start) * (full - 12 * GI) / 7200) for t in times(start)]
    return openmetrics(
        family("kubelet_volume_stats_used_bytes", "gauge", [(pvc, used)]),
        family("kubelet_volume_stats_capacity_bytes", "gauge", [(pvc, [(t, 20.0 * GI) for t in times(start)])]),
    )


# scenario -> (series, metrics policy apart from the url, what the reason must cite)
CASES: dict[str, tuple[Any, dict[str, Any], tuple[str, ...]]] = {
    "memory-steady-near-limit-metrics": (
        memory_steady,
        {"window": "1h"},
        ("max_over_time(container_memory_working_set_bytes{", "501Mi", "1h"),
    ),
    "oom-leak-after-release-metrics": (
        memory_leak,
        {"window": "6h", "step": "15m"},
        ("container_memory_working_set_bytes{", "invoicer-5d8c7b6a94", "510Mi peak"),
    ),
    "cpu-limit-throttled-at-limit": (
        cpu_throttled,
        {},
        ("container_cpu_cfs_throttled_periods_total", "87%"),
    ),
    "volume-expand-filling-pvc": (
        volume_filling,
        {},
        ("kubelet_volume_stats_used_bytes", "99.6%"),
    ),
}


# without metrics, memory-limit falls back to limit x factor and volume-expand to the ENOSPC logs
NEED_METRICS = ("oom-leak-after-release-metrics", "cpu-limit-throttled-at-limit")


def copy_without_probes(name: str, dest: Path) -> Path:
    sc = dest / name
    shutil.copytree(SCENARIOS / name, sc)
    shutil.rmtree(sc / "cluster" / "probes")
    return sc


def write_probes(ev: Evidence, folder: Path) -> None:
    """The probes in the snapshot writer's format (`{"url", "status", "body"}` or `{"url", "error"}`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(ev.probes):
        body = (
            {"url": p.url, "status": p.status, "body": p.body} if p.error is None else {"url": p.url, "error": p.error}
        )
        (folder / f"probe-{i}.json").write_text(json.dumps(body, indent=2), encoding="utf-8")


def fix(sc: Path) -> FixResult:
    ev, truth = load_scenario(sc)
    return plan_fix(diagnose(ev, truth.get("app")), ev, sc / "repo", load_policy(None))


@pytest.mark.parametrize("name", sorted(CASES))
def test_remedy_from_real_prometheus(name: str, tmp_path: Path) -> None:
    series, settings, cited = CASES[name]
    sc = copy_without_probes(name, tmp_path / "scenarios")
    if name in NEED_METRICS:
        without = evaluate([sc]).cases[0]
        assert not without.fix_ok, f"{name}: the fix must need the metrics ({without})"

    with prometheus_server(tmp_path / "prom", openmetrics=series()) as url:
        ev, _ = load_scenario(sc)
        n = probe_metrics(ev, Metrics(url=url, **settings), now=NOW)
    assert n == len(ev.probes) > 0 and ev.errors == []
    assert all(p.status == 200 and p.source == "prometheus" and p.url.startswith(url) for p in ev.probes)
    write_probes(ev, sc / "cluster" / "probes")

    case = evaluate([sc]).cases[0]
    assert case.error is None and case.category_ok and case.culprit_ok and case.fix_ok, case
    res = fix(sc)
    assert res.proposal is not None
    reason = res.proposal.reason
    for text in cited:  # the query (as asked of the real server) and the value it answered
        assert text in reason, f"{name}: {text!r} not in {reason!r}"


# --- runbooks in notifications ----------------------------------------------------------------

RUNBOOK = "https://wiki.example.org/runbooks/oom-killed"


class _Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def oom_finding() -> Finding:
    return Finding(
        Category("oom-killed"),
        ObjectRef("Deployment", "invoicer", "billing"),
        "container invoicer is OOMKilled at its 512Mi limit",
        0.9,
        ("pods restart", "OOMKilled"),
        (),
    )


def test_runbook_linked_from_every_channel_format(monkeypatch: pytest.MonkeyPatch) -> None:
    f = oom_finding()
    events = [
        note.diagnosed("invoicer", f, "inc1", "https://argocd.example.org", runbook=RUNBOOK),
        note.refused("fix.refused", "invoicer", f, "inc1", "no earlier image", ["look"], runbook=RUNBOOK),
        note.refused("fix.out_of_band", "invoicer", f, "inc1", "not in Git", ["edit it"], runbook=RUNBOOK),
    ]
    assert note.make_event("incident.diagnosed", "a", "t", "s", runbook="javascript:alert(1)").runbook == ""
    sink = _Sink()
    port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with (
            ChatReceiver("slack-webhook") as slack,
            ChatReceiver("discord") as discord,
            ChatReceiver("teams") as teams,
            ChatReceiver("webhook") as hook,
        ):
            for name, r in (("SLACK", slack), ("DISCORD", discord), ("TEAMS", teams), ("HOOK", hook)):
                monkeypatch.setenv(f"{name}_URL", r.webhook_url)
            channels = [
                {"name": "slack", "type": "slack", "url_env": "SLACK_URL"},
                {"name": "discord", "type": "discord", "url_env": "DISCORD_URL"},
                {"name": "teams", "type": "teams", "url_env": "TEAMS_URL"},
                {"name": "hook", "type": "webhook", "url_env": "HOOK_URL"},
                {
                    "name": "mail",
                    "type": "email",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "starttls": False,
                    "sender": "bot@example.org",
                    "to": ["ops@example.org"],
                },
            ]
            n = Notifier(Notifications.model_validate({"channels": channels}))
            for e in events:
                n.notify(e)
            assert n.flush(10)
    finally:
        smtp.stop()
    for r in (slack, discord, teams, hook):
        assert not r.errors and len(r.received) == 3, (r.kind, r.errors)
    for body in slack.received:
        assert f"<{RUNBOOK}|Runbook>" in json.dumps(body["blocks"])
    for body in discord.received:
        embed = body["embeds"][0]
        assert any(fl["name"] == "Runbook" and f"({RUNBOOK})" in fl["value"] for fl in embed["fields"])
    assert discord.received[1]["embeds"][0]["url"] == RUNBOOK  # no other link: the title links the runbook
    for body in teams.received:
        actions = body["attachments"][0]["content"]["actions"]
        assert {"type": "Action.OpenUrl", "title": "Runbook", "url": RUNBOOK} in actions
    assert [b["event"] for b in hook.received] == ["incident.diagnosed", "fix.refused", "fix.out_of_band"]
    assert all(b["runbook"] == RUNBOOK for b in hook.received)
    assert len(sink.messages) == 3
    for raw in sink.messages:
        payload = message_from_bytes(raw).get_payload(decode=True)
        assert isinstance(payload, bytes) and f"Runbook: {RUNBOOK}" in payload.decode()
    assert note.webhook_payload(note.make_event("pr.opened", "a", "t", "s"))["runbook"] is None


def test_service_run_links_the_policy_runbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snaps, remotes = make_apps(tmp_path, ["shop-a"])
    with FakeGitHub(token=TOKEN) as gh, ChatReceiver("webhook") as hook:
        monkeypatch.setenv("HOOK_URL", hook.webhook_url)
        policy = Policy.model_validate(
            {
                "runbooks": {"oom-killed": RUNBOOK},
                "notifications": {"channels": [{"name": "hook", "type": "webhook", "url_env": "HOOK_URL"}]},
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
        res = runner.run("shop-a", {}, lambda stage: None)
        assert res.state == "done" and runner.notifier is not None and runner.notifier.flush(10)
    events = {b["event"]: b for b in hook.received}
    assert events["incident.diagnosed"]["runbook"] == RUNBOOK
    assert events["incident.diagnosed"]["fields"]["Root cause"] == "oom-killed"
