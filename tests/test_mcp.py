"""``remediator mcp``: the SDK's own client against the server, over stdio and streamable HTTP, on a
copy of the packaged example (tmcp-marketing/fluentd-rbac)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from remediator.cli.common import examples_root
from remediator.mcp_server import MAX_OUTPUT, bounded
from remediator.service.journal import Journal

EXAMPLE = "tmcp-marketing/fluentd-rbac"
APP = "tmcp-gitops"
TOOLS = {"list_apps", "diagnose_app", "scan", "propose_fix", "get_incident"}


@pytest.fixture
def example(tmp_path: Path) -> Path:
    shutil.copytree(examples_root() / EXAMPLE, tmp_path / "ex")
    return tmp_path / "ex"


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(p.relative_to(root).as_posix().encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def journal_with_incident(path: Path) -> str:
    j = Journal(path)
    try:
        iid, _ = j.submit(APP, "alertmanager", {"alertname": "AppDegraded", "app": APP}, 0.0)
    finally:
        j.close()
    return iid


def stdio_params(*args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "remediator", "mcp", *args],
        env={"HOME": os.environ.get("HOME", "/tmp"), "REMEDIATOR_POLICY": ""},
    )


def over_stdio(params: StdioServerParameters, body: Callable[[ClientSession], Awaitable[None]]) -> None:
    async def main() -> None:
        with open(os.devnull, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                await body(session)

    anyio.run(main)


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def test_stdio_tools_and_resources(example: Path, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    iid = journal_with_incident(journal)
    before = tree_digest(example)
    args = ["--snapshot", str(example / "cluster"), "--repo", str(example / "repo"), "--journal", str(journal)]
    seen: dict[str, Any] = {}

    async def body(s: ClientSession) -> None:
        seen["tools"] = {t.name for t in (await s.list_tools()).tools}
        seen["resources"] = {str(r.uri) for r in (await s.list_resources()).resources}
        for name, arguments in [
            ("list_apps", {}),
            ("diagnose_app", {"app": APP}),
            ("scan", {}),
            ("propose_fix", {"app": APP}),
            ("get_incident", {"id": iid}),
            ("diagnose_app", {"app": "no-such-app"}),
            ("diagnose_app", {"app": "Bad Name!"}),
            ("get_incident", {"id": "nope"}),
        ]:
            r = await s.call_tool(name, arguments)
            seen[f"{name}:{json.dumps(arguments)}"] = (r.is_error, text_of(r))
        for uri in ("remediator://findings", "remediator://policy"):
            rr = await s.read_resource(uri)
            seen[uri] = "".join(getattr(c, "text", "") for c in rr.contents)

    over_stdio(stdio_params(*args), body)
    assert seen["tools"] >= TOOLS
    assert {"remediator://findings", "remediator://policy"} <= seen["resources"]

    err, out = seen["list_apps:{}"]
    assert not err and json.loads(out) == [{"name": APP, "namespace": "argocd", "health": "Degraded", "sync": "Synced"}]

    err, out = seen[f'diagnose_app:{{"app": "{APP}"}}']
    diag = json.loads(out)
    assert not err and diag["app"] == APP and diag["findings"][0]["category"] == "rbac-forbidden"

    err, out = seen["scan:{}"]
    scan = json.loads(out)
    assert not err and scan["counts"]["critical"] == 1 and scan["apps"][0]["name"] == APP
    assert scan["apps"][0]["diagnosis"]["findings"][0]["category"] == "rbac-forbidden"

    err, out = seen[f'propose_fix:{{"app": "{APP}"}}']
    fix = json.loads(out)
    assert not err and fix["dry_run"] is True and fix["written"] is False
    diff = fix["fix"]["edits"][0]["diff"]
    assert fix["fix"]["edits"][0]["file"] == "apps/fluentd.yaml" and "+    namespace: argocd" in diff
    assert "## What is broken" in fix["pr_body"] and APP in fix["pr_title"]

    err, out = seen[f'get_incident:{{"id": "{iid}"}}']
    assert not err and json.loads(out)["id"] == iid and json.loads(out)["app"] == APP

    err, out = seen['diagnose_app:{"app": "no-such-app"}']
    assert err and out.endswith(f": unknown app 'no-such-app'; applications: {APP}") and "\n" not in out
    err, out = seen['diagnose_app:{"app": "Bad Name!"}']
    assert err and "not an application name" in out and "Traceback" not in out
    err, out = seen['get_incident:{"id": "nope"}']
    assert err and out.endswith(": no incident 'nope' in the journal")

    vocab = json.loads(seen["remediator://findings"])
    cats = {c["category"]: c["meaning"] for c in vocab["categories"]}
    assert "rbac-forbidden" in cats and all(cats.values())
    assert seen["remediator://policy"].startswith("# policy: ") and "pull_requests:" in seen["remediator://policy"]

    assert tree_digest(example) == before  # the dry run wrote nothing (and the journal was only read)


def test_stdio_read_only_by_default(example: Path) -> None:
    before = tree_digest(example)
    seen: dict[str, Any] = {}

    async def body(s: ClientSession) -> None:
        r = await s.call_tool("propose_fix", {"app": APP, "open_pr": True})
        seen["open"] = (r.is_error, text_of(r))
        r = await s.call_tool("get_incident", {"id": "x1"})
        seen["journal"] = (r.is_error, text_of(r))

    over_stdio(stdio_params("--snapshot", str(example / "cluster"), "--repo", str(example / "repo")), body)
    assert seen["open"][0]
    assert seen["open"][1].endswith(": this server is read-only: start it with --allow-write to open pull requests")
    assert seen["journal"][0] and "--journal" in seen["journal"][1]
    assert tree_digest(example) == before


def test_bad_options_fail_before_serving(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "remediator", "mcp", "--snapshot", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 3
    assert p.stderr.strip() == f"remediator: error: {tmp_path / 'missing'}: snapshot folder does not exist"


def test_output_is_redacted_and_bounded() -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2
    assert token not in bounded(f"GITHUB_TOKEN={token}")
    long = bounded("x" * (MAX_OUTPUT + 10))
    assert len(long) < MAX_OUTPUT + 100 and long.rstrip().endswith("[truncated: 10 more characters]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streamable_http(example: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "remediator", "mcp", "--transport", "streamable-http", "--port", str(port)]
    cmd += ["--snapshot", str(example / "cluster")]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        seen: dict[str, Any] = {}

        async def main() -> None:
            url = f"http://127.0.0.1:{port}/mcp"
            async with streamable_http_client(url) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                seen["tools"] = {t.name for t in (await s.list_tools()).tools}
                r = await s.call_tool("list_apps", {})
                seen["apps"] = (r.is_error, text_of(r))

        anyio.run(main)
        assert seen["tools"] >= TOOLS
        assert not seen["apps"][0] and json.loads(seen["apps"][1])[0]["name"] == APP
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_write_only_with_allow_write(example: Path, tmp_path: Path) -> None:
    """A PR server (local provider, a local remote): without --allow-write nothing reaches the remote or
    the PR folder, even when asked; with it, open_pr opens the pull request."""
    from remediator.publish.examples import example_remote

    remote = example_remote(example / "repo", tmp_path / "remote.git")
    prs, cache = tmp_path / "prs", tmp_path / "cache"
    base = ["--snapshot", str(example / "cluster"), "--provider", "local", "--repo-url", str(remote)]
    base += ["--pr-dir", str(prs), "--cache-dir", str(cache)]
    before = tree_digest(Path(remote))
    seen: dict[str, Any] = {}

    async def read_only(s: ClientSession) -> None:
        for key, args in (("dry", {"app": APP}), ("open", {"app": APP, "open_pr": True})):
            r = await s.call_tool("propose_fix", args)
            seen[key] = (r.is_error, text_of(r))

    over_stdio(stdio_params(*base), read_only)
    err, out = seen["dry"]
    dry = json.loads(out)
    assert not err and dry["dry_run"] is True and dry["pr"] is None
    assert any(w.startswith("push branch remediator/tmcp-gitops/") for w in dry["would"])
    assert "namespace: argocd" in dry["fix"]["edits"][0]["diff"]
    assert seen["open"][0] and "read-only" in seen["open"][1]
    assert tree_digest(Path(remote)) == before and not prs.exists()

    async def writer(s: ClientSession) -> None:
        r = await s.call_tool("propose_fix", {"app": APP, "open_pr": True})
        seen["opened"] = (r.is_error, text_of(r))

    over_stdio(stdio_params(*base, "--allow-write"), writer)
    err, out = seen["opened"]
    opened = json.loads(out)
    assert not err and opened["dry_run"] is False and opened["action"] == "opened" and opened["pr"]["number"] == 1
    assert (prs / "pr-1.md").is_file() and tree_digest(Path(remote)) != before
