"""The Argo CD source shapes users have: multi-source ``$values``, remote Kustomize bases, the
Application's own Kustomize/Helm options (app-of-apps), eval's scope rule and refusal wording."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediator.diagnose import diagnose
from remediator.edits.index import SourceIndex
from remediator.edits.plan import FixResult, plan_fix
from remediator.edits.render import RenderError, _run, argo_image, find_tool
from remediator.eval import evaluate, load_scenario
from remediator.policy import load_policy
from tests.fakes.chart_repo import FakeChartRepo

from .conftest import SCENARIOS

GIT = "https://git.example.org/platform/deploy.git"


def fix(sc: Path) -> FixResult:
    ev, truth = load_scenario(sc)
    return plan_fix(diagnose(ev, truth.get("app")), ev, sc / "repo", load_policy(None))


def app_file(sc: Path) -> Path:
    return next(p for p in (sc / "cluster").rglob("*.yaml") if "kind: Application" in p.read_text())


def set_app(sc: Path, **spec: Any) -> dict[str, Any]:
    p = app_file(sc)
    app = yaml.safe_load(p.read_text())
    app["spec"].pop("source", None)
    app["spec"].update(spec)
    p.write_text(yaml.safe_dump(app))
    return dict(app)


def set_truth(sc: Path, expect: list[dict[str, Any]]) -> None:
    truth = yaml.safe_load((sc / "truth.yaml").read_text())
    truth["fix"]["expect"] = expect
    (sc / "truth.yaml").write_text(yaml.safe_dump(truth))


# --- 1. multi-source $values -------------------------------------------------------


def multi_source(tmp: Path, chart_url: str, values_repo: str = GIT) -> Path:
    """oom-helm-values as the common layout: the chart in a Helm repository, values in Git."""
    sc = tmp / "sc"
    shutil.copytree(SCENARIOS / "oom-helm-values", sc)
    chart = tmp / "chart"
    shutil.move(sc / "repo/charts/memory-demo", chart)
    (chart / "values-prod.yaml").rename(sc / "prod-values.yaml")
    (sc / "repo/envs/prod").mkdir(parents=True)
    (sc / "prod-values.yaml").rename(sc / "repo/envs/prod/values.yaml")
    set_app(
        sc,
        sources=[
            {
                "repoURL": chart_url,
                "chart": "memory-demo",
                "targetRevision": "0.1.0",
                "helm": {"releaseName": "memory-demo", "valueFiles": ["$values/envs/prod/values.yaml"]},
            },
            {"repoURL": values_repo, "targetRevision": "main", "ref": "values"},
        ],
    )
    set_truth(sc, [{"file": "envs/prod/values.yaml", "select": {}, "path": "resources.limits.memory", "min": "150Mi"}])
    return sc


def test_values_file_of_a_chart_from_a_helm_repository_is_edited_and_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMEDIATOR_CHART_CACHE", str(tmp_path / "cache"))
    sc = multi_source(tmp_path, "http://placeholder")
    with FakeChartRepo(tmp_path / "chart") as repo:
        app = set_app(sc)
        app["spec"]["sources"][0]["repoURL"] = repo.url
        app_file(sc).write_text(yaml.safe_dump(app))
        res = fix(sc)
        assert [e.file for e in res.edits] == ["envs/prod/values.yaml"], res.refused
        assert "memory: " in res.edits[0].diff and any("Helm SDK" in n or "helm template" in n for n in res.notes)
        assert "index.yaml" in repo.requests and any(r.endswith(".tgz") for r in repo.requests)
        assert any((tmp_path / "cache").rglob("Chart.yaml"))
        report = evaluate([sc])  # eval's scope: the $values file counts as the app's source
        assert report.cases[0].fix_ok, report.cases[0]


def test_unfetchable_chart_still_edits_the_values_file_and_says_it_was_not_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMEDIATOR_CHART_CACHE", str(tmp_path / "cache"))
    sc = multi_source(tmp_path, "http://127.0.0.1:9/charts")  # nothing listens there
    res = fix(sc)
    assert [e.file for e in res.edits] == ["envs/prod/values.yaml"], res.refused
    assert any("not rendered" in n and "could not be fetched" in n for n in res.notes), res.notes


def test_values_in_another_repository_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_CHART_CACHE", str(tmp_path / "cache"))
    sc = multi_source(tmp_path, "http://127.0.0.1:9/charts", values_repo="https://git.example.org/other/values.git")
    # the app's clone is the ref repository when no source has a path: make the chart's repo the clone instead
    app = set_app(sc)
    app["spec"]["sources"].append({"repoURL": GIT, "path": "envs", "targetRevision": "main"})
    app_file(sc).write_text(yaml.safe_dump(app))
    srcs = SourceIndex(sc / "repo").app_sources(load_scenario(sc)[0].app)
    assert any("another repository" in e for s in srcs for e in s.errors)
    assert not fix(sc).edits


# --- 3. the Application's own options -------------------------------------------------


def declare_app(sc: Path, rel: str) -> None:
    """app-of-apps: the repository declares the Application too."""
    app = yaml.safe_load(app_file(sc).read_text())
    app.pop("status", None)
    (sc / "repo" / rel).parent.mkdir(parents=True, exist_ok=True)
    (sc / "repo" / rel).write_text(yaml.safe_dump(app, sort_keys=False))


def test_helm_parameters_override_is_edited_in_the_application_file(tmp_path: Path) -> None:
    sc = tmp_path / "sc"
    shutil.copytree(SCENARIOS / "oom-helm-values", sc)
    app = yaml.safe_load(app_file(sc).read_text())
    app["spec"]["source"]["helm"]["parameters"] = [{"name": "resources.limits.memory", "value": "100Mi"}]
    app_file(sc).write_text(yaml.safe_dump(app))
    refused = fix(sc)
    assert not refused.edits and refused.refused[0].rule == "overridden-by-application"
    assert "helm.parameters resources.limits.memory" in refused.refused[0].reason

    declare_app(sc, "apps/memory-demo.yaml")
    res = fix(sc)
    assert [e.file for e in res.edits] == ["apps/memory-demo.yaml"], res.refused
    new = yaml.safe_load(res.edits[0].new_text)
    assert new["spec"]["source"]["helm"]["parameters"][0]["value"] != "100Mi"
    set_truth(
        sc,
        [
            {
                "file": "apps/memory-demo.yaml",
                "select": {"kind": "Application", "name": "memory-demo"},
                "path": "spec.source.helm.parameters[0].value",
                "min": "150Mi",
            }
        ],
    )
    assert evaluate([sc]).cases[0].fix_ok  # eval's scope: the file that declares the Application


@pytest.mark.skipif(find_tool("kubectl") is None, reason="kubectl not installed")
def test_kustomize_images_of_the_application_are_edited_there(tmp_path: Path) -> None:
    sc = tmp_path / "sc"
    shutil.copytree(SCENARIOS / "image-tag-kustomize-images", sc)
    app = yaml.safe_load(app_file(sc).read_text())
    app["spec"]["source"]["kustomize"] = {"images": ["ghcr.io/acme/billing-api:1.91.0-arm64"]}
    app_file(sc).write_text(yaml.safe_dump(app))
    assert fix(sc).refused[0].rule == "overridden-by-application"
    declare_app(sc, "argocd/billing-prod.yaml")
    res = fix(sc)
    assert [e.file for e in res.edits] == ["argocd/billing-prod.yaml"], res.refused
    new = yaml.safe_load(res.edits[0].new_text)
    assert new["spec"]["source"]["kustomize"]["images"] == ["ghcr.io/acme/billing-api:1.19.0-arm64"]
    assert any("Application's kustomize options" in n for n in res.notes), res.notes


def test_argo_image_forms() -> None:
    assert argo_image("nginx:1.2") == {"name": "nginx", "newTag": "1.2"}
    assert argo_image("nginx=ghcr.io/x/nginx:2") == {"name": "nginx", "newName": "ghcr.io/x/nginx", "newTag": "2"}
    assert argo_image("reg:5000/a@sha256:ab") == {"name": "reg:5000/a", "digest": "sha256:ab"}


# --- 2. remote Kustomize bases ---------------------------------------------------------


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True
    )


@pytest.mark.skipif(find_tool("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("scheme", ["file://", "git::file://"])
@pytest.mark.parametrize("with_patch", [True, False])
def test_remote_base_is_rendered_by_kubectl_and_the_edit_goes_in_the_overlay(
    tmp_path: Path, scheme: str, with_patch: bool
) -> None:
    sc = tmp_path / "sc"
    shutil.copytree(SCENARIOS / "oom-kustomize-overlay-patch", sc)
    app_root = sc / "repo/apps/memory-demo"
    work = tmp_path / "base-src"
    shutil.move(app_root / "base", work / "base")
    shutil.rmtree(app_root / "overlays/dev")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "base", cwd=work)
    git("clone", "-q", "--bare", str(work), str(tmp_path / "base.git"), cwd=tmp_path)
    url = f"{scheme}{tmp_path}/base.git//base?ref=main"
    k = app_root / "overlays/prod/kustomization.yaml"
    k.write_text(k.read_text().replace("../../base", url))
    if not with_patch:
        k.write_text(k.read_text().split("patches:")[0])
        (app_root / "overlays/prod/memory.yaml").unlink()
    res = fix(sc)
    assert res.edits, res.refused
    assert all(e.file.startswith("apps/memory-demo/overlays/prod/") for e in res.edits)
    assert any("kubectl kustomize" in n for n in res.notes), res.notes
    # without kubectl (our own resolution only) the remote base is named, not guessed
    errors: list[str] = []
    SourceIndex(sc / "repo").desired(load_scenario(sc)[0].app, errors)
    assert any("is remote" in e for e in errors)


# --- 5. refusal wording ------------------------------------------------------------------


def test_resources_written_as_a_string_is_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "ov").mkdir()
    (tmp_path / "base/kustomization.yaml").write_text("resources: []\n")
    (tmp_path / "ov/kustomization.yaml").write_text("resources: ../base\n")
    errors = SourceIndex(tmp_path).source("ov").errors
    assert errors == ["ov/kustomization.yaml: resources must be a list, not a string (write resources: [../base])"]


def test_an_unparsable_file_is_reported_unreadable_not_as_a_duplicate(tmp_path: Path) -> None:
    sc = tmp_path / "sc"
    shutil.copytree(SCENARIOS / "oom-helm-values", sc)
    plain = sc / "repo/plain"
    plain.mkdir()
    set_app(sc, source={"repoURL": GIT, "path": "plain", "targetRevision": "main"})
    body = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: memory-demo\n"
    (plain / "a.yaml").write_text(body + "spec: {replicas: 1}\n")
    (plain / "b.yaml").write_text(body + "spec: {replicas: [\n")
    res = fix(sc)
    assert not res.edits
    reason = res.refused[0].reason
    assert "unreadable" in reason and "plain/b.yaml" in reason and "more than once" not in reason


def test_a_tool_error_is_shown_whole_and_redacted(tmp_path: Path) -> None:
    script = "echo 'Error: accumulating resources:' >&2; echo 'token=ghp_abcdefghijklmnopqrstuvwxyz0123456789' >&2; "
    script += "echo 'the last line' >&2; exit 1"
    with pytest.raises(RenderError) as e:
        _run(["sh", "-c", script], tmp_path)
    msg = str(e.value)
    assert "accumulating resources" in msg and "the last line" in msg and "ghp_abcdef" not in msg
    with pytest.raises(RenderError) as big:
        _run(["sh", "-c", "yes 'x' | head -c 10000 >&2; exit 1"], tmp_path)
    assert len(str(big.value)) < 2200


@pytest.mark.parametrize("form", ["smp", "json6902"])
def test_a_field_set_by_the_application_kustomize_patches_is_refused_naming_the_patch(
    tmp_path: Path, form: str
) -> None:
    sc = tmp_path / "sc"
    shutil.copytree(SCENARIOS / "oom-kustomize-overlay-patch", sc)
    app = yaml.safe_load(app_file(sc).read_text())
    if form == "smp":
        patch = (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: memory-demo}\nspec:\n  template:\n    spec:\n"
            "      containers:\n        - name: memory-demo\n          resources: {limits: {memory: 80Mi}}\n"
        )
    else:
        patch = (
            '[{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": "80Mi"}]'
        )
    app["spec"]["source"]["kustomize"] = {
        "patches": [
            {"target": {"kind": "Service"}, "patch": patch},  # another kind: not this object
            {"target": {"kind": "Deployment", "name": "memory-demo"}, "patch": patch},
        ]
    }
    app_file(sc).write_text(yaml.safe_dump(app))
    res = fix(sc)
    assert not res.edits
    assert res.refused[0].rule == "overridden-by-application"
    assert "kustomize.patches[1]" in res.refused[0].reason
    # a patch that sets another field leaves the edit alone
    app["spec"]["source"]["kustomize"]["patches"][1]["patch"] = patch.replace("limits", "requests").replace(
        "/limits/", "/requests/"
    )
    app_file(sc).write_text(yaml.safe_dump(app))
    assert fix(sc).edits


def _prefix_names(obj: Any, old: str, new: str) -> Any:
    """Object names (not container names or labels) renamed as a name prefix renames them."""
    if isinstance(obj, list):
        return [_prefix_names(x, old, new) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _prefix_names(v, old, new) for k, v in obj.items()}
    meta = out.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"].startswith(old):
        meta["name"] = new + meta["name"][len(old) :]
        for ref in meta.get("ownerReferences") or []:
            if str(ref.get("name", "")).startswith(old):
                ref["name"] = new + ref["name"][len(old) :]
    inv = out.get("involvedObject")
    if isinstance(inv, dict) and str(inv.get("name", "")).startswith(old):
        inv["name"] = new + inv["name"][len(old) :]
    return out


def test_the_application_name_prefix_maps_cluster_names_back_to_the_files(tmp_path: Path) -> None:
    import json

    sc = tmp_path / "sc"
    shutil.copytree(SCENARIOS / "oom-kustomize-overlay-patch", sc)
    for p in (sc / "cluster").rglob("*"):
        if p.suffix == ".json":
            p.write_text(json.dumps(_prefix_names(json.loads(p.read_text()), "memory-demo", "prod-memory-demo")))
        elif p.suffix == ".yaml" and "kind: Application" not in p.read_text():
            docs = [_prefix_names(d, "memory-demo", "prod-memory-demo") for d in yaml.safe_load_all(p.read_text())]
            p.write_text(yaml.safe_dump_all(docs))
    app = yaml.safe_load(app_file(sc).read_text())
    app["spec"]["source"]["kustomize"] = {"namePrefix": "prod-"}
    app_file(sc).write_text(yaml.safe_dump(app))
    res = fix(sc)
    assert res.finding is not None and res.finding.culprit.name == "prod-memory-demo"
    assert [e.file for e in res.edits] == ["apps/memory-demo/overlays/prod/memory.yaml"], res.refused


@pytest.mark.parametrize("hostile", ["$values/../../outside.yaml", "$values/envs/prod/link.yaml"])
def test_a_values_file_pointing_outside_the_repository_is_never_edited(tmp_path: Path, hostile: str) -> None:
    """An Application (cluster text, hostile) naming a ``$values`` file outside the checkout, directly or
    through a symbolic link: nothing outside the repository is read for editing or written."""
    sc = multi_source(tmp_path, "http://127.0.0.1:9")  # a closed port: the chart cannot be fetched
    outside = tmp_path / "outside.yaml"
    outside.write_text("resources:\n  limits:\n    memory: 100Mi\n")
    (sc / "repo/envs/prod/link.yaml").symlink_to(outside)
    app = set_app(sc)
    app["spec"]["sources"][0]["helm"]["valueFiles"] = [hostile]
    app_file(sc).write_text(yaml.safe_dump(app))
    before = outside.read_text()
    res = fix(sc)
    assert not any(e.file.endswith(("outside.yaml", "link.yaml")) for e in res.edits), res.edits
    assert all(".." not in e.file for e in res.edits)
    assert outside.read_text() == before
