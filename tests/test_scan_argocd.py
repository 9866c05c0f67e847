"""``remediator scan --argocd-url``: the whole cluster through the Argo CD API (no cluster
credentials). The FAKE Argo CD serves one app per server, so two fakes (shop: Degraded, docs:
Healthy, from the same snapshot) sit behind a loopback router that lists both Applications and
sends each app's paths to its own fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from remediator.cli import app
from remediator.cli.common import Exit
from tests.fakes.argocd_api import FakeArgoCD
from tests.fakes.loopback import LoopbackServer
from tests.test_scan import NOW, write_cluster

APPS = ("shop", "docs")


class Router(LoopbackServer):
    """``/api/v1/applications``: every fake's Application; ``/api/v1/applications/<name>...``: that
    app's fake; anything else (session, version): the first fake."""

    def __init__(self, fakes: dict[str, FakeArgoCD]) -> None:
        self.fakes = fakes
        self._serve(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        router = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self, method: str) -> None:
                path = self.path.split("?")[0]
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if method == "GET" and path == "/api/v1/applications":
                    items = []
                    for fake in router.fakes.values():
                        r = httpx.get(fake.url + self.path, headers=headers)
                        if r.status_code != 200:
                            self._answer(r.status_code, r.content)
                            return
                        items += r.json()["items"]
                    self._answer(200, json.dumps({"items": items}).encode())
                    return
                parts = path.split("/")
                fake = next(iter(router.fakes.values()))
                if path.startswith("/api/v1/applications/") and parts[4] in router.fakes:
                    fake = router.fakes[parts[4]]
                r = httpx.request(method, fake.url + self.path, headers=headers, content=body or None)
                self._answer(r.status_code, r.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        return Handler


@pytest.fixture
def argocd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, FakeArgoCD]]]:
    snap = write_cluster(tmp_path / "cluster")
    fakes = {name: FakeArgoCD(snap, name) for name in APPS}
    for f in fakes.values():
        f.__enter__()
    monkeypatch.setenv("ARGOCD_TOKEN", fakes["shop"].token)
    try:
        with Router(fakes) as router:
            yield router.url, fakes
    finally:
        for f in fakes.values():
            f.__exit__(None, None, None)


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["scan", *args])
    return res.exit_code, res.output


def test_scan_through_the_argocd_api(argocd: tuple[str, dict[str, FakeArgoCD]]) -> None:
    url, fakes = argocd
    code, out = run("--argocd-url", url, "--format", "json", "--now", NOW)
    assert code == int(Exit.FINDINGS), out  # shop is critical; --fail-on critical by default
    apps = {a["name"]: a for a in json.loads(out)["apps"]}
    assert sorted(apps) == ["docs", "shop"]
    shop, docs = apps["shop"], apps["docs"]
    assert shop["severity"] == "critical" and shop["health"] == "Degraded", shop
    assert docs["severity"] == "ok" and docs["health"] == "Healthy" and not docs["risks"], docs
    for name, fake in fakes.items():
        trees = [r for r in fake.requests if r.split("?")[0] == f"GET /api/v1/applications/{name}/resource-tree"]
        assert len(trees) == 1, (name, fake.requests)  # each app's tree read once
        other = next(n for n in APPS if n != name)
        assert not any(f"/applications/{other}" in r for r in fake.requests)
        assert not fake.unexpected


def test_exit_codes_through_the_argocd_api(argocd: tuple[str, dict[str, FakeArgoCD]]) -> None:
    url, _ = argocd
    assert run("--argocd-url", url, "--now", NOW, "--fail-on", "never")[0] == 0
    code, out = run("--argocd-url", url, "--now", NOW, "--app", "docs")
    assert code == 0 and "docs" in out and "shop" not in out, out
