"""Git's own messages reach the user whole (every line, one line of text), redacted and bounded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from remediator.errors import TemporaryError
from remediator.publish.checkout import GIT_ERROR_MAX, Checkout


def test_clone_error_keeps_the_reason_and_the_hint(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.git"
    with pytest.raises(TemporaryError) as e:
        Checkout(missing.as_uri(), tmp_path / "cache").sync(None)
    msg = str(e.value)
    assert "\n" not in msg
    assert "does not appear to be a git repository" in msg  # git's first line: the reason
    assert "Could not read from remote repository" in msg  # and the hint that follows it
    assert len(msg) < GIT_ERROR_MAX + 200


def test_fetch_error_is_redacted_and_whole(tmp_path: Path) -> None:
    remote = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    work = tmp_path / "w"
    subprocess.run(["git", "clone", "-q", str(remote), str(work)], check=True, capture_output=True)
    (work / "f").write_text("x")
    env = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", *env, "-C", str(work), "add", "f"], check=True)
    subprocess.run(["git", *env, "-C", str(work), "commit", "-qm", "x"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD"], check=True, capture_output=True)
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    co = Checkout(remote.as_uri(), tmp_path / "cache", token=token)
    co.sync(None)
    # The remote disappears: the next fetch fails with git's whole message, the token nowhere in it.
    remote.rename(tmp_path / "gone.git")
    with pytest.raises(TemporaryError) as e:
        co.sync(None)
    msg = str(e.value)
    assert msg.startswith("git fetch ")
    assert "Could not read from remote repository" in msg or "does not appear" in msg
    assert token not in msg and "\n" not in msg
