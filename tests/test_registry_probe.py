"""Registry tag lists as evidence: the real httpx client against a FAKE registry on 127.0.0.1
(anonymous bearer-token flow, paging, errors), and tag lists read back from probes."""

from __future__ import annotations

from pathlib import Path

from remediator.evidence.images import parse_image, tag_arch
from remediator.evidence.sources.registry import RegistryClient, challenge, probe_registries
from remediator.evidence.sources.snapshot import load_snapshot
from remediator.evidence.sources.writer import write_snapshot
from remediator.evidence.store import Evidence, Probe
from tests.fakes.registry_api import FakeRegistry

TAGS = ["3.1.4-amd64", "3.1.4-arm64", "3.2.0-amd64", "3.2.0-arm64", "latest"]


def pod(image: str, name: str = "web-1") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {"containers": [{"name": "web", "image": image}], "imagePullSecrets": [{"name": "regcred"}]},
    }


def test_anonymous_token_flow_and_paging() -> None:
    with FakeRegistry({"acme/renderer": TAGS}, page=2) as reg, RegistryClient(scheme="http") as client:
        p = client.tags(reg.host, "acme/renderer")
    assert p.error is None and p.status == 200
    assert p.url == f"http://{reg.host}/v2/acme/renderer/tags/list"
    assert p.body == {"name": "acme/renderer", "tags": sorted(TAGS)}
    token_calls = [(path, h) for path, h in reg.requests if path.startswith("/token")]
    assert len(token_calls) == 1  # the token is reused for every page
    assert "scope=repository%3Aacme%2Frenderer%3Apull" in token_calls[0][0]
    assert "authorization" not in token_calls[0][1]  # anonymous: no credentials, ever
    assert sum(1 for path, h in reg.requests if "tags/list" in path and "authorization" in h) == 3


def test_unknown_repository_and_unreachable_registry() -> None:
    with FakeRegistry({}) as reg, RegistryClient(scheme="http") as client:
        p = client.tags(reg.host, "acme/nope")
    assert p.status == 404 and p.error is None and "NAME_UNKNOWN" in str(p.body)
    with RegistryClient(timeout=1.0, scheme="http") as client:
        gone = client.tags("127.0.0.1:9", "acme/nope")
    assert gone.error and gone.status is None


def test_challenge_parsing() -> None:
    assert challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="x:y:pull"') == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "x:y:pull",
    }
    assert challenge('Basic realm="registry"') is None


def test_probe_registries_asks_each_repository_once_and_snapshot_keeps_it(tmp_path: Path) -> None:
    with FakeRegistry({"acme/renderer": TAGS}) as reg:
        ev = Evidence()
        ev.add(pod(f"{reg.host}/acme/renderer:3.2.0-amd64"))
        ev.add(pod(f"{reg.host}/acme/renderer:3.2.0-amd64", "web-2"))
        probe_registries(ev, scheme="http")
    assert len(ev.probes) == 1
    assert ev.registry_tags(f"{reg.host}/acme/renderer:3.2.0-amd64") == sorted(TAGS)
    write_snapshot(ev, tmp_path / "snap", redacted=False)
    back = load_snapshot(tmp_path / "snap")
    assert back.registry_tags(f"{reg.host}/acme/renderer:1.0") == sorted(TAGS)


def test_registry_tags_from_probes() -> None:
    ev = Evidence()
    ev.probes += [
        Probe("https://registry-1.docker.io/v2/library/httpd/tags/list", 200, {"tags": ["2.4", "2.4.62"]}, None, "p1"),
        Probe(
            "https://registry-1.docker.io/v2/library/httpd/tags/list?n=2&last=2.4.62",
            200,
            {"tags": ["2.4.63"]},
            None,
            "p2",
        ),
        Probe("https://ghcr.io/v2/library/httpd/tags/list", 200, {"tags": ["other"]}, None, "p3"),
        Probe("https://registry-1.docker.io/v2/library/nginx/tags/list", None, None, "Name or service not known", "p4"),
    ]
    assert ev.registry_tags("httpd:2.4") == ["2.4", "2.4.62", "2.4.63"]
    assert ev.registry_tags("docker.io/library/httpd") == ["2.4", "2.4.62", "2.4.63"]
    assert ev.registry_tags("ghcr.io/library/httpd:1") == ["other"]
    assert ev.registry_tags("nginx:1.27") is None  # asked, but no answer
    assert ev.registry_tags("quay.io/x/y:1") is None


def test_image_references_and_arch_words() -> None:
    ref = parse_image("httpd:2.4")
    assert ref is not None and (ref.registry, ref.repository, ref.tag) == (
        "registry-1.docker.io",
        "library/httpd",
        "2.4",
    )
    assert ref.with_tag("2.4-arm64") == "httpd:2.4-arm64"
    ref = parse_image("localhost:5000/team/app@sha256:abc")
    assert ref is not None and (ref.registry, ref.repository, ref.digest) == (
        "localhost:5000",
        "team/app",
        "sha256:abc",
    )
    assert parse_image("") is None and parse_image("Bad/Name:1") is None
    assert tag_arch("3.2.0-arm64") == ("arm64", "3.2.0")
    assert tag_arch("arm64v8-3.2.0") == ("arm64", "3.2.0")
    assert tag_arch("1.0-linux-amd64") == ("amd64", "1.0")
    assert tag_arch("2.4.62") is None and tag_arch("arm64-amd64") is None
