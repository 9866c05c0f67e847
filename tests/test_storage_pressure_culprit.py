"""Culprit rule: a node under disk pressure whose top consumer of ephemeral storage is the app's own pod
(named in the kubelet's eviction message) is the app's problem (storage-full on the workload), not the
node's; when another workload's pod used more, the node stays the culprit."""

from __future__ import annotations

from remediator.diagnose import diagnose
from remediator.eval import load_scenario
from remediator.policy import load_policy
from remediator.remedies.base import Context, Refusal
from remediator.remedies.ephemeral_storage import plan
from tests.conftest import SCENARIOS

PLAIN = SCENARIOS / "storage-full-node-pressure-plain"


def test_the_apps_own_pod_as_top_consumer_names_the_workload() -> None:
    ev, _ = load_scenario(PLAIN)
    d = diagnose(ev, "reports")
    top = d.top
    assert top is not None and top.category.value == "storage-full"
    assert str(top.culprit) == "Deployment reports/report-builder"
    assert (top.details["container"], top.details["usage"], top.details["request"]) == ("builder", "9Gi", "0")
    node = next(f for f in d.findings if f.category.value == "node-not-ready")
    assert node.confidence < 0.5 and "top consumers" in node.summary


def test_a_bigger_consumer_of_another_workload_keeps_the_node_as_culprit() -> None:
    ev, _ = load_scenario(PLAIN)
    fb = ev.get("Pod", "logging", "fluent-bit-x7k2p")
    assert fb is not None
    fb["status"]["message"] = fb["status"]["message"].replace("using 212Mi", "using 30Gi")
    top = diagnose(ev, "reports").top
    assert top is not None and top.category.value == "node-not-ready" and str(top.culprit) == "Node worker-2"


def test_node_pressure_is_not_a_limit_of_the_pod_so_no_limit_is_invented() -> None:
    ev, _ = load_scenario(PLAIN)
    top = diagnose(ev, "reports").top
    assert top is not None
    out = plan(top, Context(ev, load_policy(None), ev.desired))
    assert isinstance(out, Refusal) and out.rule == "ephemeral-storage" and "node pressure" in out.reason
