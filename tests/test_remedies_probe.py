"""The probe remedy: port and path aligned with the container's working probe, the timeout from the
app's answer times, a startupProbe from the logged start-up time; and the refusals that name the rule."""

from __future__ import annotations

import copy
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from remediator.diagnose import diagnose
from remediator.eval import load_scenario
from remediator.evidence.relations import dig
from remediator.model import Category, Finding
from remediator.policy import Policy
from remediator.remedies import REMEDIES
from remediator.remedies.base import Context, Proposal, Refusal, SetField, container_of
from remediator.remedies.gate import gate
from remediator.remedies.probe import REMEDY, plan, slowest_answer, startup_seconds

from .conftest import SCENARIOS


def setup(name: str, root: Path = SCENARIOS, policy: Policy | None = None) -> tuple[Finding, Context]:
    ev, truth = load_scenario(root / name)
    d = diagnose(ev, truth.get("app"))
    assert d.top is not None and d.top.category is Category.PROBE_FAILURE
    ref = d.top.culprit
    desired = [o for o in [ev.get_ref(ref)] if o is not None]
    return d.top, Context(ev, policy or Policy(), [copy.deepcopy(o) for o in desired])


def proposal(out: Proposal | Refusal) -> Proposal:
    assert isinstance(out, Proposal), out
    return out


def refusal(out: Proposal | Refusal) -> Refusal:
    assert isinstance(out, Refusal), out
    return out


def values(p: Proposal) -> dict[str, Any]:
    return {"/".join(str(x) for x in c.path[-3:]): c.value for c in p.changes if isinstance(c, SetField)}


def container(ctx: Context, f: Finding) -> dict[str, Any]:
    return container_of(ctx.desired[0], str(f.details["container"]))


def test_one_probe_remedy_is_registered_and_keeps_the_probe_timing_name() -> None:
    assert [r.name for r in REMEDIES[Category.PROBE_FAILURE.value]] == ["probe-timing"]
    assert REMEDY.switches == ()  # probe-port and probe-timing are checked per case


def test_wrong_port_takes_the_port_of_the_probe_that_passes() -> None:
    f, ctx = setup("probe-port-sibling-plain")
    p = proposal(plan(f, ctx))
    assert p.remedy == "probe-port"
    assert values(p) == {"readinessProbe/httpGet/port": "http"}
    assert "liveness probe" in p.reason and "passes" in p.reason


def test_a_misspelt_port_name_becomes_the_declared_name() -> None:
    f, ctx = setup("probe-port-named-kustomize")
    c = container(ctx, f)
    del c["livenessProbe"]  # no working sibling: the near name decides (two ports, so not "the only port")
    p = proposal(plan(f, ctx))
    assert values(p) == {"readinessProbe/httpGet/port": "http"}
    assert "1 edit" in p.reason


def test_wrong_port_with_several_ports_and_no_working_probe_is_a_persons_choice() -> None:
    f, ctx = setup("probe-port-sibling-plain")
    del container(ctx, f)["livenessProbe"]
    r = refusal(plan(f, ctx))
    assert r.rule == "probe-port" and "2 ports" in r.reason


def test_404_takes_the_path_of_the_passing_probe_on_the_same_port() -> None:
    f, ctx = setup("probe-path-plain")
    p = proposal(plan(f, ctx))
    assert p.remedy == "probe-port"
    assert values(p) == {"livenessProbe/httpGet/path": "/api/health"}


def test_404_without_a_working_sibling_is_reported() -> None:
    f, ctx = setup("probe-path-plain")
    container(ctx, f)["readinessProbe"]["httpGet"]["port"] = 9090  # another port: says nothing about 3000
    r = refusal(plan(f, ctx))
    assert r.rule == "probe-port" and "health endpoint" in r.reason


def test_port_and_path_cases_obey_the_probe_port_switch() -> None:
    pol = Policy(remedies={"probe-port": False})
    for name in ("probe-path-plain", "probe-port-sibling-plain"):
        f, ctx = setup(name, policy=pol)
        r = refusal(plan(f, ctx))
        assert r.rule == "remedies.probe-port"
        assert not isinstance(gate(f, "x", pol), Refusal)  # the gate leaves the per-case switch to the plan


def test_timeout_raised_from_the_answer_times_in_the_logs() -> None:
    f, ctx = setup("probe-timeout-plain")
    pods = ctx.ev.all("Pod", "search")
    assert slowest_answer(ctx, pods, "indexer", "/healthz") == pytest.approx(2.917044)
    p = proposal(plan(f, ctx))
    assert p.remedy == "probe-timing"
    assert [(c.path[-2:], c.value) for c in p.changes if isinstance(c, SetField)] == [
        (("livenessProbe", "timeoutSeconds"), 5)
    ]
    assert "2.9s" in p.reason


def test_timeout_of_a_throttled_container_is_left_to_cpu_throttling() -> None:
    f, ctx = setup("probe-timeout-plain")
    r = refusal(plan(replace(f, details={**f.details, "throttled": True}), ctx))
    assert r.rule == "cpu-throttling"


def test_timeout_without_evidence_of_a_slow_answer_is_reported(tmp_path: Path) -> None:
    sc = tmp_path / "probe-timeout-plain"
    shutil.copytree(SCENARIOS / "probe-timeout-plain", sc)
    shutil.rmtree(sc / "cluster" / "logs")
    events = sc / "cluster" / "search" / "events.yaml"
    events.write_text(
        events.read_text()
        .replace(" (Client.Timeout exceeded while awaiting headers)", "")
        .replace("count: 14", "count: 2")
    )
    f, ctx = setup(sc.name, root=tmp_path)
    r = refusal(plan(f, ctx))
    assert r.rule == "probe-timing" and "response time" in r.reason


def test_timeout_that_would_exceed_ten_seconds_is_refused(tmp_path: Path) -> None:
    sc = tmp_path / "probe-timeout-plain"
    shutil.copytree(SCENARIOS / "probe-timeout-plain", sc)
    log = next((sc / "cluster" / "logs").rglob("*.log"))
    log.write_text(log.read_text().replace("2.917044s", "8.2s"))
    f, ctx = setup(sc.name, root=tmp_path)
    r = refusal(plan(f, ctx))
    assert r.rule == "probe-timeout-max"
    off = Policy(remedies={"probe-timing": False})
    assert refusal(plan(f, replace(ctx, policy=off))).rule == "remedies.probe-timing"


def test_known_start_up_time_gives_a_startup_probe_with_the_liveness_check() -> None:
    f, ctx = setup("probe-startup-plain")
    pods = ctx.ev.all("Pod", "ledger")
    assert startup_seconds(ctx, pods, "app") == pytest.approx(37.93)  # "process running for", not the Tomcat line
    p = proposal(plan(f, ctx))
    got = {c.path[-1]: c.value for c in p.changes if isinstance(c, SetField)}
    assert all("startupProbe" in c.path for c in p.changes if isinstance(c, SetField))
    assert got == {"path": "/actuator/health/liveness", "port": 8080, "periodSeconds": 10, "failureThreshold": 6}
    assert 6 * 10 >= 1.5 * 37.93


def test_start_up_budget_above_the_policy_maximum_is_refused() -> None:
    f, ctx = setup("probe-startup-plain", policy=Policy.model_validate({"probes": {"max_initial_delay_seconds": 45}}))
    r = refusal(plan(f, ctx))
    assert r.rule == "probes.max_initial_delay_seconds"


def test_unknown_start_up_time_raises_the_initial_delay_as_before() -> None:
    f, ctx = setup("probe-timing-plain")
    p = proposal(plan(f, ctx))
    assert [c.path[-1] for c in p.changes if isinstance(c, SetField)] == ["initialDelaySeconds"]
    assert dig(container(ctx, f), "livenessProbe", "initialDelaySeconds") == 10
    assert next(iter(values(p).values())) >= 30


def test_a_startup_probe_is_not_written_for_an_object_git_does_not_declare() -> None:
    f, ctx = setup("probe-startup-plain")
    p = proposal(plan(f, replace(ctx, desired=[])))  # e.g. a Helm chart: the block is not mappable to values
    assert [c.path[-1] for c in p.changes if isinstance(c, SetField)] == ["initialDelaySeconds"]
    assert next(iter(values(p).values())) >= 57  # covers 1.5 x the logged start-up time
