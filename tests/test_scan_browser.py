"""The scan's HTML report in a real browser: headless Debian Chromium loads the file the CLI wrote,
and the test asserts on the DOM it built and on the pixels of the severity badges in its screenshot.

Reuses the Chromium helpers of tests/test_incidents_browser.py (skip without chromium, fail in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from remediator.cli import app
from remediator.views.scan import SEVERITY_COLOURS
from tests.test_incidents_browser import browse, chromium, hex_rgb
from tests.test_scan import write_cluster

PIL_Image = pytest.importorskip("PIL.Image", reason="Pillow is a test dependency: pip install -e '.[test]'")


def test_the_report_renders_every_app_with_its_severity_colour(tmp_path: Path) -> None:
    binary = chromium()
    cluster = write_cluster(tmp_path / "cluster")
    page = tmp_path / "scan.html"
    res = CliRunner().invoke(app, ["scan", str(cluster), "--format", "html", "--output", str(page)])
    assert res.exit_code == 6, res.output  # shop is critical
    url = page.as_uri()

    dom = browse(binary, tmp_path / "profile-dom", url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.count('<td class="app">') == 3
    assert html.count('class="appsec"') == 3
    for sev in ("critical", "warning", "ok"):
        assert f'<span class="sev sev-{sev}">{sev}</span>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, never run
    assert "<script" not in html

    shot = tmp_path / "page.png"
    run = browse(binary, tmp_path / "profile-shot", url, f"--screenshot={shot}", "--window-size=1280,900")
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    with PIL_Image.open(shot) as img:
        rgb = img.convert("RGB")
        colours = {c for _, c in rgb.getcolors(maxcolors=1 << 20) or []}
    for sev in ("critical", "warning", "ok"):
        assert hex_rgb(SEVERITY_COLOURS[sev]) in colours, sev  # the inline stylesheet was applied
    assert hex_rgb(SEVERITY_COLOURS["info"]) not in colours  # no app is at info
