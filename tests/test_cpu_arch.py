"""cpu-arch remedy: the same release for the nodes' architecture, else an arch nodeSelector, else a refusal
that says what would decide it."""

from __future__ import annotations

from dataclasses import replace

from remediator.diagnose import diagnose
from remediator.eval import load_scenario
from remediator.evidence.store import Evidence
from remediator.model import EvidenceLine, Finding
from remediator.policy import load_policy
from remediator.remedies.base import Context, Proposal, Refusal, SetField
from remediator.remedies.cpu_arch import plan
from tests.conftest import SCENARIOS

PLAIN = SCENARIOS / "container-start-exec-format-plain"
SEL = ("spec", "template", "spec", "nodeSelector", "kubernetes.io/arch")


def _case() -> tuple[Evidence, Finding]:
    ev, _ = load_scenario(PLAIN)
    top = diagnose(ev, "reports").top
    assert top is not None
    return ev, top


def _ctx(ev: Evidence) -> Context:
    return Context(ev, load_policy(None), ev.desired)


def test_registry_build_for_the_nodes() -> None:
    ev, f = _case()
    out = plan(f, _ctx(ev))
    assert isinstance(out, Proposal)
    assert [c.value for c in out.changes if isinstance(c, SetField)] == ["acmecorp/report-renderer:3.2.0-arm64"]


def test_no_tag_list_refuses_and_names_what_decides() -> None:
    ev, f = _case()
    ev.probes.clear()
    out = plan(f, _ctx(ev))
    assert isinstance(out, Refusal) and out.rule == "cpu-arch"
    assert "tag list" in out.reason


def test_mixed_nodes_pin_to_the_image_architecture() -> None:
    ev, f = _case()
    ev.probes.clear()
    ev.add(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "ip-10-0-14-9", "labels": {"kubernetes.io/arch": "amd64"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    out = plan(f, _ctx(ev))
    assert isinstance(out, Proposal)
    assert [(c.path[-1], c.value) for c in out.changes if isinstance(c, SetField)] == [(SEL[-1], "amd64")]


def test_not_an_exec_format_error() -> None:
    ev, f = _case()
    other = replace(
        f, summary="container renderer cannot start", evidence=(EvidenceLine("log", 'exec: "rendr": not found'),)
    )
    out = plan(other, _ctx(ev))
    assert isinstance(out, Refusal) and "not an exec format error" in out.reason


def test_an_image_that_claims_the_nodes_architecture_is_a_release_problem() -> None:
    ev, f = _case()
    deployments = [d for d in ev.desired if d.get("kind") == "Deployment"]
    for spec in [*(p["spec"] for p in ev.all("Pod")), *(d["spec"]["template"]["spec"] for d in deployments)]:
        for c in spec["containers"]:
            if c["name"] == "renderer":
                c["image"] = "acmecorp/report-renderer:3.2.0-arm64"
    f = replace(f, details={**f.details, "image": "acmecorp/report-renderer:3.2.0-arm64"})
    out = plan(f, _ctx(ev))
    assert isinstance(out, Refusal) and "built wrong" in out.reason
