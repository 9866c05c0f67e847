"""A FAKE classic Helm chart repository on 127.0.0.1: ``GET /index.yaml`` and ``GET /<name>-<version>.tgz``.

Charts are given as folders; each is packaged with tarfile into ``<name>/...`` inside the archive,
the layout ``helm package`` writes."""

from __future__ import annotations

import hashlib
import io
import tarfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.loopback import LoopbackServer


def package(folder: Path) -> tuple[str, str, bytes]:
    """(name, version, .tgz bytes) of a chart folder."""
    meta = yaml.safe_load((folder / "Chart.yaml").read_text())
    name, version = str(meta["name"]), str(meta["version"])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                tar.add(p, arcname=f"{name}/{p.relative_to(folder).as_posix()}")
    return name, version, buf.getvalue()


class FakeChartRepo(LoopbackServer):
    def __init__(self, *charts: Path) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        entries: dict[str, list[dict[str, Any]]] = {}
        for c in charts:
            name, version, data = package(c)
            fn = f"{name}-{version}.tgz"
            self.files[fn] = data
            entries.setdefault(name, []).append(
                {
                    "apiVersion": "v2",
                    "name": name,
                    "version": version,
                    "digest": hashlib.sha256(data).hexdigest(),
                    "urls": [fn],
                    "created": "2026-01-01T00:00:00Z",
                }
            )
        index = {"apiVersion": "v1", "entries": entries, "generated": "2026-01-01T00:00:00Z"}
        self.files["index.yaml"] = yaml.safe_dump(index).encode()
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0].lstrip("/")
                repo.requests.append(path)
                body = repo.files.get(path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self._serve(Handler)
