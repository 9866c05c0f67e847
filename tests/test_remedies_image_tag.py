"""image-tag remedy: the nearest listed tag of the same variant and major version, after image-rollback;
refusals for credentials, a missing tag list, ties, other majors and floating tags."""

from __future__ import annotations

from dataclasses import replace

from remediator.diagnose import diagnose
from remediator.eval import load_scenario
from remediator.evidence.store import Evidence
from remediator.model import Finding
from remediator.policy import load_policy
from remediator.remedies import REMEDIES
from remediator.remedies.base import Context, Proposal, Refusal, SetField
from remediator.remedies.image_tag import candidates, plan, variant
from tests.conftest import SCENARIOS

PLAIN = SCENARIOS / "image-tag-plain"
URL = "https://harbor.example.net/v2/intranet/portal/tags/list"


def _case() -> tuple[Evidence, Finding]:
    ev, _ = load_scenario(PLAIN)
    top = diagnose(ev, "intranet-portal").top
    assert top is not None
    return ev, top


def _ctx(ev: Evidence) -> Context:
    return Context(ev, load_policy(None), ev.desired)


def _tags(ev: Evidence, tags: list[str]) -> None:
    for p in ev.probes:
        if p.url == URL and isinstance(p.body, dict):
            p.body["tags"] = tags


def test_the_only_near_tag_of_the_same_variant() -> None:
    ev, f = _case()
    out = plan(f, _ctx(ev))
    assert isinstance(out, Proposal) and out.remedy == "image-tag"
    assert [c.value for c in out.changes if isinstance(c, SetField)] == [
        "harbor.example.net/intranet/portal:2.8.13-alpine"
    ]


def test_rollback_is_tried_first() -> None:
    assert [r.name for r in REMEDIES["image-pull"]][:2] == ["image-rollback", "image-tag"]


def test_variant_family_and_major() -> None:
    assert variant("2.4.62-alpine3.20") == variant("2.4.99-alpine3.19") == ("2", "-alpine.")
    assert variant("latest") is None and variant("sha256-abc.sig") is None
    tags = ["2.4.62", "2.4.62-alpine", "3.4.99", "latest", "2.4.9-arm64", "2.4-latest"]
    assert candidates("2.4.99", tags) == ["2.4.62"]


def test_ties_refuse() -> None:
    ev, f = _case()
    _tags(ev, ["2.8.13-alpine", "2.8.11-alpine"])
    out = plan(f, _ctx(ev))
    assert isinstance(out, Refusal) and out.rule == "image-tag" and "equally near" in out.reason


def test_never_latest_nor_another_major_nor_another_variant() -> None:
    ev, f = _case()
    _tags(ev, ["latest", "3.8.31-alpine", "2.8.31", "2.8.31-arm64", "alpine"])
    out = plan(f, _ctx(ev))
    assert isinstance(out, Refusal) and out.rule == "image-tag" and "no tag" in out.reason


def test_no_tag_list_says_what_decides() -> None:
    ev, f = _case()
    ev.probes.clear()
    out = plan(f, _ctx(ev))
    assert isinstance(out, Refusal) and out.rule == "image-tag"
    assert "--probe-registries" in out.reason and "probes/" in out.reason


def test_a_listed_tag_is_not_a_tag_problem() -> None:
    ev, f = _case()
    _tags(ev, ["2.8.31-alpine", "2.8.13-alpine"])
    out = plan(f, _ctx(ev))
    assert isinstance(out, Refusal) and "tag exists" in out.reason


def test_authentication_failures_are_out_of_band() -> None:
    ev, f = _case()
    for msg in (
        'Failed to pull image "x": failed to authorize: failed to fetch anonymous token: 401 Unauthorized',
        'Failed to pull image "noimage": pull access denied, repository does not exist or may require '
        "authorization: server message: insufficient_scope: authorization failed",
    ):
        out = plan(replace(f, details={**f.details, "message": msg}), _ctx(ev))
        assert isinstance(out, Refusal) and out.rule == "out-of-band"


def test_seed_pull_access_denied_makes_no_edit() -> None:
    ev, _ = load_scenario(SCENARIOS / "seed004-unpullable-image")
    f = diagnose(ev, "aiops-test").top
    assert f is not None and "denies access" in str(f.details["cause"])
    out = plan(f, _ctx(ev))
    assert isinstance(out, Refusal) and out.rule == "out-of-band"
