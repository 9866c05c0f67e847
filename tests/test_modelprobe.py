"""Asking model servers for their models: the real httpx client against FAKE servers on 127.0.0.1,
and the live fix path end to end (fake Kubernetes API + fake Ollama)."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.evidence.sources.modelprobe import probe_model_servers, server_urls
from remediator.evidence.store import Evidence
from tests.fakes.kube_api import FakeKubeAPI
from tests.fakes.model_server import FakeModelServer

from .conftest import EXAMPLES

runner = CliRunner()


def pod_with_env(url: str, var: str = "OLLAMA_URL") -> Evidence:
    ev = Evidence()
    ev.add(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "agent-1", "namespace": "ai"},
            "spec": {
                "containers": [{"name": "a", "env": [{"name": var, "value": url}, {"name": "MODEL", "value": "x"}]}]
            },
        }
    )
    return ev


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("flavour", "var", "suffix"), [("ollama", "OLLAMA_URL", ""), ("openai", "OPENAI_BASE_URL", "/v1")]
)
def test_models_are_read_from_ollama_and_openai_servers(flavour: str, var: str, suffix: str) -> None:
    with FakeModelServer(["qwen3:4b", "llama3.1:8b"], flavour) as srv:
        ev = pod_with_env(srv.url + suffix, var)
        assert server_urls(ev) == [srv.url + suffix]
        probe_model_servers(ev)
    [p] = ev.probes
    assert p.status == 200 and p.error is None
    names = [m["name"] for m in p.body["models"]] if flavour == "ollama" else [m["id"] for m in p.body["data"]]
    assert names == ["qwen3:4b", "llama3.1:8b"]


def test_unreachable_server_is_recorded_not_raised() -> None:
    ev = pod_with_env(f"http://127.0.0.1:{free_port()}")
    probe_model_servers(ev, timeout=1.0)
    [p] = ev.probes
    assert p.status is None and p.error and "Connect" in p.error


def _live_case(tmp_path: Path, url: str) -> Path:
    sc = tmp_path / "sc"
    shutil.copytree(EXAMPLES / "tmcp-marketing" / "ollama-model", sc)
    shutil.rmtree(sc / "cluster" / "probes")
    for f in (sc / "cluster").rglob("*.yaml"):
        f.write_text(f.read_text().replace("http://ollama-service:11434", url))
    for f in (sc / "repo").rglob("*.yaml"):
        f.write_text(f.read_text().replace("http://ollama-service:11434", url))
    return sc


def live_fix(kubeconfig: Path, sc: Path) -> Any:
    args = ["fix", "--app", "tmcp-aiops", "--kubeconfig", str(kubeconfig), "--repo", str(sc / "repo"), "--dry-run"]
    return runner.invoke(cli, [*args, "--format", "json"])


def test_live_fix_asks_the_model_server(tmp_path: Path) -> None:
    with FakeModelServer(["qwen3:4b-instruct-2507-q4_K_M", "nomic-embed-text:latest"]) as srv:
        sc = _live_case(tmp_path, srv.url)
        with FakeKubeAPI(sc / "cluster") as api:
            kc = api.kubeconfig(tmp_path / "kubeconfig")
            r = live_fix(kc, sc)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    [e] = out["edits"]
    assert '+              value: "qwen3:4b-instruct-2507-q4_K_M"' in e["diff"]
    assert "/api/tags" in srv.requests


def test_live_fix_with_the_server_down_proposes_nothing(tmp_path: Path) -> None:
    sc = _live_case(tmp_path, f"http://127.0.0.1:{free_port()}")
    with FakeKubeAPI(sc / "cluster") as api:
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        r = live_fix(kc, sc)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["edits"] == [] and yaml.safe_load(json.dumps(out["refused"]))
