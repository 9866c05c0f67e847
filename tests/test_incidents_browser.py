"""The incidents page at ``/`` in a real browser: headless Debian Chromium loads it from the service
on 127.0.0.1, and the test asserts on the DOM it built and on the pixels of its screenshot.

Chromium is driven from its command line (``--dump-dom``, ``--screenshot``) rather than through
Playwright: nothing to download, and the browser is the distribution's. Without ``/usr/bin/chromium``
the test skips with the reason, except in CI (``CI`` set) where it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.policy import Policy
from remediator.service.app import Settings, create_app
from remediator.service.journal import Journal
from remediator.views.incidents import BADGE_COLOURS
from tests.test_incidents import SECRET, IdleRunner, populate
from tests.test_service import Server

PIL_Image = pytest.importorskip("PIL.Image", reason="Pillow is a test dependency: pip install -e '.[test]'")


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path:
        return path
    reason = "chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def browse(binary: str, profile: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        *extra,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def page_url(tmp_path: Path) -> Iterator[str]:
    j = Journal(tmp_path / "journal.sqlite")
    populate(j)  # done, failed, refused, queued incidents through the journal's own API
    policy = Policy.model_validate({})
    settings = Settings(secret=SECRET, settle_seconds=3600, poll_seconds=0.02)
    with Server(create_app(settings, j, IdleRunner(), policy), settings) as url:
        yield url + "/"


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_the_page_renders_the_incidents_with_coloured_badges(tmp_path: Path, page_url: str) -> None:
    binary = chromium()
    dom = browse(binary, tmp_path / "profile-dom", page_url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.count('<td class="app">') == 5
    assert "&lt;b&gt;evil&lt;/b&gt;" in html  # shown as text, not parsed as markup
    assert '<a href="https://github.com/acme/deploy/pull/7"' in html
    assert 'href="javascript' not in html
    for state in ("done", "failed", "refused", "queued"):
        assert f'class="badge state-{state}">{state}</span>' in html

    shot = tmp_path / "page.png"
    run = browse(binary, tmp_path / "profile-shot", page_url, f"--screenshot={shot}", "--window-size=1280,720")
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    with PIL_Image.open(shot) as img:
        rgb = img.convert("RGB")
        colours = {c for _, c in rgb.getcolors(maxcolors=1 << 20) or []}
        assert rgb.size == (1280, 720)
    # The badges drew in their colours: the stylesheet (allowed by its CSP hash) was applied.
    for state in ("done", "failed", "refused", "queued"):
        assert hex_rgb(BADGE_COLOURS[state]) in colours, state
    assert hex_rgb(BADGE_COLOURS["running"]) not in colours  # no incident is running


def test_the_empty_page_says_so(tmp_path: Path) -> None:
    binary = chromium()
    j = Journal(tmp_path / "journal.sqlite")
    settings = Settings(secret=SECRET, poll_seconds=0.02)
    with Server(create_app(settings, j, IdleRunner(), Policy.model_validate({})), settings) as url:
        dom = browse(binary, tmp_path / "profile", url + "/", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "No incidents yet" in dom.stdout and "<table" not in dom.stdout
