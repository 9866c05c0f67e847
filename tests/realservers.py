"""REAL servers for tests (not fakes): Prometheus (optionally backfilled from OpenMetrics text with
promtool) and Alertmanager, each on 127.0.0.1 at a free port, stopped when the test ends.

On a developer machine without the binaries the tests SKIP with the reason; in CI (`CI` set) they
FAIL instead, so a missing package never hides a broken integration."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRED = bool(os.environ.get("CI"))

PROMETHEUS = "prometheus"
PROMTOOL = "promtool"
ALERTMANAGER = "prometheus-alertmanager"

_STARTED: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binary(name: str) -> str:
    """The binary's path; skip (developer machine) or fail (CI) when it is not installed."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path:
        return path
    reason = f"{name} is not installed (Debian: apt-get install prometheus prometheus-alertmanager)"
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: server exited ({process.returncode}):\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"{url}: not ready after {timeout}s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return ""


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _STARTED.append(process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop one server this module started (by its own handle, never by name)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process in _STARTED:
        _STARTED.remove(process)


def backfill(openmetrics: str, data_dir: Path, work: Path) -> None:
    """Write OpenMetrics text (must end with `# EOF`) into TSDB blocks under `data_dir`."""
    promtool = require_binary(PROMTOOL)
    text = openmetrics if openmetrics.rstrip().endswith("# EOF") else openmetrics.rstrip() + "\n# EOF\n"
    source = work / "backfill.om"
    source.write_text(text if text.endswith("\n") else text + "\n")
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool backfill failed:\n{done.stdout}\n{done.stderr}")


def start_prometheus(
    tmp_path: Path, config_yaml: str = "", openmetrics: str | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start a real Prometheus (backfilled from `openmetrics` when given); return (url, process).
    Stop it with `stop(process)` or use the `prometheus_server` context manager."""
    binary = require_binary(PROMETHEUS)
    work = tmp_path / f"prometheus-{free_port()}"
    data = work / "data"
    data.mkdir(parents=True)
    if openmetrics is not None:
        backfill(openmetrics, data, work)
    config = work / "prometheus.yml"
    config.write_text(config_yaml or "global:\n  scrape_interval: 1h\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "prometheus.log"
    process = _spawn(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
            "--web.enable-lifecycle",
        ],
        log,
    )
    _wait_ready(url, process, log)
    return url, process


def start_alertmanager(tmp_path: Path, config_yaml: str) -> tuple[str, subprocess.Popen[bytes]]:
    """Start a real Alertmanager (no cluster gossip); return (url, process)."""
    binary = require_binary(ALERTMANAGER)
    work = tmp_path / f"alertmanager-{free_port()}"
    (work / "data").mkdir(parents=True)
    config = work / "alertmanager.yml"
    config.write_text(config_yaml)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "alertmanager.log"
    process = _spawn(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        log,
    )
    _wait_ready(url, process, log)
    return url, process


@contextlib.contextmanager
def prometheus_server(tmp_path: Path, config_yaml: str = "", openmetrics: str | None = None) -> Iterator[str]:
    url, process = start_prometheus(tmp_path, config_yaml, openmetrics)
    try:
        yield url
    finally:
        stop(process)


@contextlib.contextmanager
def alertmanager_server(tmp_path: Path, config_yaml: str) -> Iterator[str]:
    url, process = start_alertmanager(tmp_path, config_yaml)
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture
def stop_servers() -> Iterator[None]:
    """Fixture: stops every server this module started during the test."""
    yield
    for process in list(_STARTED):
        stop(process)
