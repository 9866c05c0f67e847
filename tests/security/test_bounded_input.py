"""Bounded input: a YAML bomb, a million documents, deep nesting, wrongly typed fields, a missing
review folder or a broken kubeconfig are refused with one line naming the file (or field) - never a
memory blow-up, a wait of minutes, a traceback or ``internal error``. The rest is still read."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from remediator.cli import app
from remediator.diagnose import diagnose
from remediator.edits.index import SourceIndex
from remediator.edits.render import RenderError, _objects
from remediator.edits.yamlfile import EditError, YamlFile
from remediator.evidence.sources.snapshot import load_snapshot
from remediator.yamlload import MAX_ALIAS_NODES, LoadError, load_all
from tests.conftest import SCENARIOS

runner = CliRunner()

# Nine levels of nine aliases: 9**9 (387 million) strings once expanded; a few hundred bytes written.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def copy(name: str, tmp: Path) -> Path:
    dst = tmp / name
    shutil.copytree(SCENARIOS / name, dst)
    return dst


def one_line_error(r: object, code: int = 3) -> str:
    exit_code, stderr = r.exit_code, r.stderr  # type: ignore[attr-defined]
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert exit_code == code, stderr
    assert len(lines) == 1 and lines[0].startswith("remediator: error: "), stderr
    return str(lines[0])


# ----- 1. YAML bombs, documents, nesting: the loader ---------------------------------------------


def test_loader_refuses_a_billion_laughs_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(LoadError, match=r"^bomb\.yaml: YAML aliases expand it by \d+ nodes"):
        load_all(BOMB, "bomb.yaml")
    assert time.perf_counter() - start < 1


def test_loader_refuses_a_node_inside_itself() -> None:
    with pytest.raises(LoadError, match=r"^loop\.yaml: .*recursive"):
        load_all("a: &a [1, *a]\n", "loop.yaml")


def test_loader_keeps_a_few_honest_aliases_and_timestamps_as_text() -> None:
    text = "base: &b {cpu: 1, memory: 1Gi}\nx: *b\ny: [*b, *b]\nwhen: 2025-01-01T00:00:00Z\n"
    [doc] = load_all(text, "ok.yaml")
    assert doc["y"][1] == {"cpu": 1, "memory": "1Gi"} and doc["when"] == "2025-01-01T00:00:00Z"
    wide = "a: &a [" + ",".join(["x"] * 100) + "]\nb: [" + ",".join(["*a"] * (MAX_ALIAS_NODES // 101 - 1)) + "]\n"
    assert load_all(wide, "wide.yaml")  # just under the budget


def test_loader_counts_documents_before_parsing() -> None:
    start = time.perf_counter()
    with pytest.raises(LoadError, match=r"^many\.yaml: more than 10000 YAML documents"):
        load_all("---\n" * 1_000_000, "many.yaml")
    assert time.perf_counter() - start < 3


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", "[" * 1500 + "]" * 1500),
        ("deep2.json", "[" * 300 + "]" * 300),
        ("deep.yaml", "[" * 300 + "]" * 300),
        ("deep2.yaml", "".join(" " * i + f"k{i}:\n" for i in range(300)) + " " * 300 + "v: 1\n"),
    ],
)
def test_loader_refuses_deep_nesting(name: str, text: str) -> None:
    with pytest.raises(LoadError, match=rf"^{name}: "):
        load_all(text, name)


def test_bad_snapshot_files_are_listed_and_the_rest_is_diagnosed(tmp_path: Path) -> None:
    snap = copy("missing-secret-env", tmp_path) / "cluster"
    (snap / "bomb.yaml").write_text(BOMB)
    (snap / "loop.yaml").write_text("kind: Pod\nmetadata: &m {name: p, x: [*m]}\n")
    (snap / "many.yaml").write_text("---\n" * 1_000_000)
    (snap / "deep.json").write_text("[" * 1500 + "]" * 1500)
    (snap / "deep2.json").write_text('{"kind": "Pod", "metadata": {"name": "d"}, "x": ' + "[" * 400 + "]" * 400 + "}")
    (snap / "probes").mkdir()
    (snap / "probes" / "deep.json").write_text('{"url": "http://x", "body": ' + "[" * 5000 + "]" * 5000 + "}")
    start = time.perf_counter()
    ev = load_snapshot(snap)
    assert time.perf_counter() - start < 5
    for name in ("bomb.yaml", "loop.yaml", "many.yaml", "deep.json", "deep2.json", "probes/deep.json"):
        assert any(e.startswith(f"{name}: ") and e.endswith("not read") for e in ev.errors), (name, ev.errors)
    d = diagnose(ev, "billing")
    assert d.top is not None and d.top.category.value == "missing-secret"
    r = runner.invoke(app, ["diagnose", "--snapshot", str(snap), "--app", "billing", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    assert any("bomb.yaml" in e for e in json.loads(r.stdout)["errors"])


def test_a_bomb_in_the_repository_is_skipped_and_the_fix_still_made(tmp_path: Path) -> None:
    sc = copy("image-rollback-plain", tmp_path)
    deploy = sc / "repo" / "storefront" / "web" / "deploy"
    (deploy / "bomb.yaml").write_text(BOMB)
    (deploy / "loop.yaml").write_text("kind: ConfigMap\nmetadata: {name: c}\ndata: &d {a: *d}\n")
    src = SourceIndex(sc / "repo").source("storefront/web/deploy")
    assert any(e.startswith("storefront/web/deploy/bomb.yaml: YAML aliases") for e in src.errors), src.errors
    assert any(e.startswith("storefront/web/deploy/loop.yaml: ") for e in src.errors), src.errors
    assert {o.ref.name for o in src.objects} >= {"web"}
    start = time.perf_counter()
    r = runner.invoke(
        app,
        ["fix", "--dry-run", "--snapshot", str(sc / "cluster"), "--app", "storefront-web", "--repo", str(sc / "repo")],
    )
    assert r.exit_code == 0, r.output
    assert "registry.example.org/storefront/web:2.4.0" in r.stdout
    assert time.perf_counter() - start < 20


def test_editor_and_renderer_refuse_bombs() -> None:
    with pytest.raises(EditError, match=r"^apps/x\.yaml: .*aliases expand"):
        YamlFile.parse(BOMB, "apps/x.yaml")
    with pytest.raises(EditError, match=r"^apps/x\.yaml: more than 10000 YAML documents"):
        YamlFile.parse("a: 1\n---\n" * 10_001, "apps/x.yaml")
    with pytest.raises(EditError, match=r"^apps/x\.yaml"):
        YamlFile.parse("a:" + " [" * 2000 + " ]" * 2000, "apps/x.yaml")
    with pytest.raises(RenderError, match=r"^kubectl kustomize output: YAML aliases expand"):
        _objects(BOMB, "kubectl kustomize output")


def test_eval_reports_a_bomb_in_truth_as_that_case_error(tmp_path: Path) -> None:
    sc = copy("missing-secret-env", tmp_path)
    (sc / "truth.yaml").write_text(BOMB)
    r = runner.invoke(app, ["eval", str(sc), "--format", "json"])
    assert r.exit_code == 0, r.output
    [case] = json.loads(r.stdout)["cases"]
    assert case["error"].startswith("missing-secret-env/truth.yaml: YAML aliases expand")


# ----- 3. wrongly typed fields inside valid objects ---------------------------------------------


def _set(path: Path, doc_kind: str, mutate: object) -> None:
    docs = list(yaml.safe_load_all(path.read_text()))
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == doc_kind:
            mutate(d)  # type: ignore[operator]
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


@pytest.mark.parametrize(
    ("file", "kind", "mutation", "reported"),
    [
        ("billing/events.yaml", "Event", lambda d: d.update(count=1e99), None),
        ("billing/events.yaml", "Event", lambda d: d.update(count="x"), None),
        ("argocd/application.yaml", "Application", lambda d: d["status"]["health"].update(status=[]), "status.health.status is a list"),
        ("billing/workloads.yaml", "Deployment", lambda d: d["spec"].update(replicas="x"), "spec.replicas is a string, not an integer"),
        ("billing/workloads.yaml", "Deployment", lambda d: d["spec"]["template"]["spec"].update(containers="app"), "spec.template.spec.containers is a string, not a list"),
        ("billing/workloads.yaml", "Pod", lambda d: d.update(metadata=[]), None),
        ("billing/workloads.yaml", "Pod", lambda d: d["metadata"].setdefault("labels", {}).update(tier=3), None),
        ("billing/workloads.yaml", "Pod", lambda d: d["status"].update(containerStatuses=[{"name": "app", "restartCount": "many"}]), "status.containerStatuses[0].restartCount is a string"),
    ],
)  # fmt: skip
def test_wrongly_typed_fields_are_absent_and_named(
    tmp_path: Path, file: str, kind: str, mutation: object, reported: str | None
) -> None:
    snap = copy("missing-secret-env", tmp_path) / "cluster"
    _set(snap / file, kind, mutation)
    r = runner.invoke(app, ["diagnose", "--snapshot", str(snap), "--app", "billing", "--format", "json"])
    assert r.exit_code in (0, 3), r.output
    if r.exit_code == 3:
        one_line_error(r)
        return
    out = json.loads(r.stdout)
    if reported:
        assert any(e.startswith(f"{file}: {kind} ") and reported in e for e in out["errors"]), out["errors"]


def test_a_label_value_written_as_a_number_reads_as_its_text(tmp_path: Path) -> None:
    snap = copy("missing-secret-env", tmp_path) / "cluster"
    _set(snap / "billing/workloads.yaml", "Deployment", lambda d: d["metadata"].setdefault("labels", {}).update(v=3))
    ev = load_snapshot(snap)
    dep = next(iter(ev.all("Deployment")))
    assert dep["metadata"]["labels"]["v"] == "3"


@pytest.mark.parametrize("resources", [-1, "aiops-agent.yaml", {"a": "b"}, [1], ["../../../../etc"]])
def test_a_kustomization_with_bad_resources_is_named_not_a_crash(tmp_path: Path, resources: object) -> None:
    sc = copy("dns-external-service-kustomize", tmp_path)
    k = sc / "repo/apps/aiops/kustomization.yaml"
    data = yaml.safe_load(k.read_text())
    data["resources"] = resources
    k.write_text(yaml.safe_dump(data))
    src = SourceIndex(sc / "repo").source("apps/aiops")
    assert any(e.startswith("apps/aiops/kustomization.yaml: resource") for e in src.errors), src.errors
    args = ["fix", "--dry-run", "--snapshot", str(sc / "cluster"), "--app", "tmcp-aiops", "--repo", str(sc / "repo")]
    r = runner.invoke(app, [*args, "--policy", str(sc / "policy.yaml")])
    assert r.exit_code != 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output


# ----- 4. review: nothing to review is an input error -------------------------------------------


def test_review_of_a_missing_or_empty_folder_is_an_input_error(tmp_path: Path) -> None:
    msg = one_line_error(runner.invoke(app, ["review", "--all", "--repo", str(tmp_path / "nope")]))
    assert "nope: no such folder" in msg
    msg = one_line_error(runner.invoke(app, ["review", "--all", "--repo", str(tmp_path)]))
    assert "no manifests" in msg
    (tmp_path / "a.yaml").write_text("kind: ConfigMap\nmetadata: {name: a}\n")
    msg = one_line_error(runner.invoke(app, ["review", "--base", "a", "--head", "b", "--repo", str(tmp_path)]))
    assert "not a Git repository" in msg
    assert runner.invoke(app, ["review", "--all", "--repo", str(tmp_path)]).exit_code == 0


# ----- 5. a malformed kubeconfig -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("garbage: [\n", "malformed YAML"),
        ("just text\n", "not a kubeconfig"),
        ("clusters: 5\n", "clusters must be a list"),
        (BOMB, "aliases expand"),
        ("apiVersion: v1\nclusters: [{name: c, cluster: 5}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
         "current-context: x\nusers: [{name: u, user: []}]\n", "not a valid kubeconfig"),
    ],
)  # fmt: skip
def test_a_malformed_kubeconfig_is_one_input_error(tmp_path: Path, text: str, reason: str) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(text)
    r = runner.invoke(app, ["diagnose", "--app", "x", "--kubeconfig", str(kc), "--no-probe-models"])
    msg = one_line_error(r)
    assert str(kc) in msg and reason in msg


def test_kubeconfig_env_at_a_missing_file_is_one_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    r = runner.invoke(app, ["diagnose", "--app", "x", "--no-probe-models"], env={"KUBECONFIG": str(missing)})
    assert str(missing) in one_line_error(r)
    r = runner.invoke(app, ["diagnose", "--app", "x", "--kubeconfig", str(tmp_path), "--no-probe-models"])
    assert "folder" in one_line_error(r)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("[1, 2]", "give --base and --head"),
        ('{"pull_request": "x", "repository": []}', "give --base and --head"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ('{"pull_request": {"number": "x", "base": {"sha": "--output=/tmp/pwned"}, "head": {"sha": "HEAD"}}}', "not a commit"),
    ],
)  # fmt: skip
def test_a_hostile_pull_request_event_is_one_error(tmp_path: Path, payload: str, reason: str) -> None:
    (tmp_path / "a.yaml").write_text("kind: ConfigMap\nmetadata: {name: a}\n")
    ev = tmp_path / "event.json"
    ev.write_text(payload)
    r = runner.invoke(app, ["review", "--repo", str(tmp_path), "--event", str(ev)])
    assert reason in one_line_error(r, 2 if reason.startswith("give") else 3)
    assert not Path("/tmp/pwned").exists()
