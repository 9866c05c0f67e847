"""One reader of the app's Git source: the detectors (``Evidence.desired``) and the remedies (their
Context) see the same objects, as our own resolution renders them; the Application's sources are
parsed in one place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from remediator.diagnose import diagnose
from remediator.edits.index import SourceIndex
from remediator.edits.plan import remedy_context
from remediator.eval import load_scenario, run_scenario
from remediator.evidence.appsource import app_source
from remediator.evidence.relations import dig
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy, load_policy
from remediator.remedies import REMEDIES
from remediator.remedies.base import Refusal
from remediator.remedies.gate import disabled, gate

SCENARIOS = Path(__file__).parent / "scenarios"


def _kind_of_source(repo: Path) -> str | None:
    if any(repo.rglob("Chart.yaml")):
        return "helm"
    if any(repo.rglob("kustomization.yaml")):
        return "kustomize"
    return None


RENDERED = sorted(p for p in SCENARIOS.iterdir() if (p / "repo").is_dir() and _kind_of_source(p / "repo"))
KUSTOMIZE = [p for p in RENDERED if _kind_of_source(p / "repo") == "kustomize"]


def _keyed(objs: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    out = {}
    for o in objs:
        key = (str(o.get("kind")), str(dig(o, "metadata", "namespace") or ""), str(dig(o, "metadata", "name")))
        assert key not in out, f"{key} declared twice"
        out[key] = json.dumps(o, sort_keys=True, default=str)
    return out


def test_the_scenarios_cover_kustomize_and_helm() -> None:
    assert len(KUSTOMIZE) >= 6 and len(RENDERED) > len(KUSTOMIZE)


@pytest.mark.parametrize("sc", RENDERED, ids=lambda p: p.name)
def test_detectors_and_remedies_see_the_same_desired_objects(sc: Path) -> None:
    ev, truth = load_scenario(sc)  # what `diagnose --repo`, `fix` and `eval` give the detectors
    d = diagnose(ev, str(truth.get("app")))
    assert d.top is not None
    _, _, ctx = remedy_context(ev, sc / "repo", load_policy(None), d.top.culprit.namespace)
    assert _keyed(ev.desired) == _keyed(ctx.desired)
    if sc in KUSTOMIZE:
        assert ev.desired, "a Kustomize app declares objects"
        assert all(o.get("_source") or o.get("kind") in ("ConfigMap", "Secret") for o in ev.desired)


@pytest.mark.parametrize(
    "name", ["oom-kustomize-shared-base", "rbac-kustomize-shared-base", "probe-timing-kustomize-base"]
)
def test_an_overlay_over_a_shared_base_declares_the_culprit(name: str) -> None:
    ev, truth = load_scenario(SCENARIOS / name)
    culprit = truth["culprit"]
    found = [
        o for o in ev.desired if o.get("kind") == culprit["kind"] and dig(o, "metadata", "name") == culprit["name"]
    ]
    assert len(found) == 1
    assert str(dig(found[0], "metadata", "namespace") or "") == str(culprit.get("namespace") or "")


def test_an_overlay_patch_is_merged_into_the_base_object() -> None:
    ev, _ = load_scenario(SCENARIOS / "oom-kustomize-overlay-patch")
    deps = [o for o in ev.desired if o.get("kind") == "Deployment"]
    assert len(deps) == 1
    dep = deps[0]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "polinux/stress:1.0.4"  # from the base
    assert c["resources"]["requests"]["memory"] == "50Mi"  # from the base
    assert c["resources"]["limits"]["memory"] == "100Mi"  # from the prod patch, not the base's 64Mi
    assert dep["metadata"]["namespace"] == "demo"  # the overlay's namespace
    assert dep["_source"] == "apps/memory-demo/base/deployment.yaml"  # the declaring document


@pytest.mark.parametrize(
    "sc", sorted(p for p in SCENARIOS.iterdir() if (p / "truth.yaml").is_file()), ids=lambda p: p.name
)
def test_not_deployed_reads_desired_without_false_positives(sc: Path) -> None:
    d, truth = run_scenario(sc)
    assert d.top is not None and d.top.category.value == truth["category"]


def test_desired_names_what_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text("resources: [https://example.com/remote.yaml]\n")
    errors: list[str] = []
    assert SourceIndex(tmp_path).desired({"spec": {"source": {"path": "app"}}}, errors) == []
    assert errors and "remote" in errors[0]
    errors2: list[str] = []
    assert SourceIndex(tmp_path).desired({"spec": {"source": {"path": "missing"}}}, errors2) == []
    assert "not a folder" in errors2[0]


def test_app_source_single_multi_and_primary() -> None:
    one = app_source(
        {
            "metadata": {"name": "shop"},
            "spec": {
                "destination": {"namespace": "prod"},
                "source": {"repoURL": "https://git/x.git", "targetRevision": "main", "path": "/apps/shop/"},
            },
        }
    )
    assert (one.name, one.namespace, one.multi) == ("shop", "prod", False)
    assert one.primary is not None and one.primary.path == "apps/shop"
    assert (one.repo_url, one.target_revision) == ("https://git/x.git", "main")

    many = app_source(
        {
            "spec": {
                "sources": [
                    {
                        "chart": "redis",
                        "repoURL": "https://charts",
                        "targetRevision": "1.0",
                        "helm": {"valueFiles": []},
                    },
                    {"repoURL": "https://git/values.git", "ref": "values"},
                    {"repoURL": "https://git/app.git", "path": "deploy", "targetRevision": "v2"},
                ]
            }
        }
    )
    assert many.multi and [s.in_git for s in many.sources] == [False, False, True]  # a bare ref is no folder
    assert (many.repo_url, many.target_revision) == ("https://git/app.git", "v2")  # the first with a path
    assert many.sources[1].ref == "values" and many.sources[0].helm == {"valueFiles": []}

    chart_only = app_source({"spec": {"sources": [{"chart": "redis", "repoURL": "https://charts"}]}})
    assert chart_only.primary is not None and chart_only.repo_url == "https://charts" and chart_only.git == []
    assert app_source(None).primary is None and app_source({"spec": {"source": "garbage"}}).sources == ()


def _finding(category: Category, ns: str = "demo") -> Finding:
    return Finding(category, ObjectRef("Deployment", ns, "web"), "summary", 0.9, (), ())


def test_the_gate_reads_switches_from_the_remedy_not_its_name() -> None:
    policy = Policy.model_validate({"remedies": {"memory-limit": False}})
    out = gate(_finding(Category.OOM_KILLED), "app", policy)
    assert [r.name for r in out] == ["oom-rollback"]  # type: ignore[union-attr]
    assert [r.rule for r in disabled(_finding(Category.OOM_KILLED), policy)] == ["remedies.memory-limit"]
    both = Policy.model_validate({"remedies": {"memory-limit": False, "oom-rollback": False}})
    out = gate(_finding(Category.OOM_KILLED), "app", both)
    assert isinstance(out, Refusal) and out.rule == "remedies.oom-rollback"
    rbac, rule = REMEDIES[Category.RBAC_FORBIDDEN.value]
    assert rbac.switches == ()  # its plan checks rbac-subject-namespace / rbac-create per edit
    off = Policy.model_validate({"remedies": {"rbac-subject-namespace": False}})
    assert gate(_finding(Category.RBAC_FORBIDDEN), "app", off) == [rbac, rule]
    assert all(r.switches is None or r.switches == () for rs in REMEDIES.values() for r in rs)


def test_the_gate_refuses_by_policy_and_out_of_band() -> None:
    policy = Policy.model_validate({"namespaces": {"deny": ["kube-system"]}})
    out = gate(_finding(Category.OOM_KILLED, "kube-system"), "app", policy)
    assert isinstance(out, Refusal) and out.rule == "namespaces"
    out = gate(_finding(Category.NODE_NOT_READY), "app", load_policy(None))
    assert isinstance(out, Refusal) and out.rule == "out-of-band"
