"""Writes the YAML style corpus used by tests/test_yamlfile.py (python tests/corpus/make_corpus.py).

Each file is a Kubernetes manifest, kustomization or Helm values file in one of the styles found
in real repositories: 2- and 4-space indents, indented and indentless sequences, flow maps and
lists, every quote style, comments everywhere, block scalars, multi-document files with and
without leading/trailing markers, CRLF line endings, no trailing newline, JSON.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

HERE = Path(__file__).parent / "files"

KINDS = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Service",
    "ConfigMap",
    "PersistentVolumeClaim",
    "ClusterRoleBinding",
    "Ingress",
    "kustomization",
    "values",
]


def deployment(kind: str, name: str, ind: int, seq: int, quote: str, comments: bool, flow: bool) -> str:
    i = " " * ind
    s = " " * seq  # sequence offset under its key
    q = (lambda v: f"{quote}{v}{quote}") if quote else (lambda v: v)
    c = (lambda t: f"  # {t}") if comments else (lambda t: "")
    tmpl_path = (
        ["spec", "template", "spec"] if kind != "CronJob" else ["spec", "jobTemplate", "spec", "template", "spec"]
    )
    out = [
        f"apiVersion: {'batch/v1' if kind in ('Job', 'CronJob') else 'apps/v1'}",
        f"kind: {kind}",
        "metadata:",
        f"{i}name: {q(name)}{c('the app')}",
        f"{i}namespace: team-{name[:3]}",
    ]
    if flow:
        out.append(f"{i}labels: {{app: {name}, tier: backend}}")
    else:
        out += [f"{i}labels:", f"{i}{i}app: {q(name)}", f"{i}{i}app.kubernetes.io/part-of: shop"]
    if comments:
        out.append("# the desired state")
    depth = 0
    lines = []
    for k in tmpl_path:
        lines.append(f"{i * depth}{k}:")
        depth += 1
        if k == "spec" and depth == 1 and kind not in ("Job", "CronJob"):
            if kind != "DaemonSet":
                lines.append(f"{i * depth}replicas: 2")
            lines.append(f"{i * depth}selector:")
            lines.append(f"{i * (depth + 1)}matchLabels:" + (f" {{app: {name}}}" if flow else ""))
            if not flow:
                lines.append(f"{i * (depth + 2)}app: {name}")
        if k == "spec" and depth == 1 and kind == "CronJob":
            sched = q("*/5 * * * *") if quote else '"*/5 * * * *"'
            lines.append(f"{i * depth}schedule: {sched}")
        if k == "template":
            lines.append(f"{i * depth}metadata:")
            lines.append(f"{i * (depth + 1)}labels:" + (f" {{app: {name}}}" if flow else ""))
            if not flow:
                lines.append(f"{i * (depth + 2)}app: {name}")
    d = depth
    lines.append(f"{i * d}containers:")
    dash = i * d + s
    inner = dash + "  "
    lines += [f"{dash}- name: {q(name)}", f"{inner}image: {q('registry.example.org/' + name + ':1.4.2')}{c('pinned')}"]
    if flow:
        lines.append(f"{inner}ports: [{{containerPort: 8080, name: http}}]")
        lines.append(f"{inner}args: [--port, '8080', \"--log-level=info\"]")
    else:
        lines += [f"{inner}ports:", f"{inner}{s}- containerPort: 8080", f"{inner}{s}  name: http"]
        lines += [f"{inner}args:", f"{inner}{s}- --port", f"{inner}{s}- {q('8080') if quote else repr('8080')}"]
    lines += [
        f"{inner}env:",
        f"{inner}{s}- name: LOG_LEVEL",
        f"{inner}{s}  value: {q('info') if quote else 'info'}",
        f"{inner}{s}- name: MODEL",
        f"{inner}{s}  value: {q('llama3.1:8b') if quote else 'llama3.1:8b'}{c('served by ollama')}",
    ]
    lines += [
        f"{inner}resources:",
        f"{inner}{i}requests:",
        f"{inner}{i}{i}cpu: 100m",
        f"{inner}{i}{i}memory: {q('128Mi')}",
        f"{inner}{i}limits:",
        f"{inner}{i}{i}memory: 256Mi{c('raise on OOM')}",
    ]
    lines += [
        f"{inner}livenessProbe:",
        f"{inner}{i}httpGet:",
        f"{inner}{i}{i}path: /healthz",
        f"{inner}{i}{i}port: http",
        f"{inner}{i}initialDelaySeconds: 10",
    ]
    if kind in ("Job", "CronJob"):
        lines.append(f"{i * d}restartPolicy: OnFailure")
    return "\n".join(out + lines) + "\n"


def simple(kind: str, name: str, ind: int, seq: int, quote: str, comments: bool, flow: bool) -> str:
    i, s = " " * ind, " " * seq
    q = (lambda v: f"{quote}{v}{quote}") if quote else (lambda v: v)
    c = (lambda t: f"   # {t}") if comments else (lambda t: "")
    if kind == "Service":
        ports = (
            f"{i}ports: [{{port: 80, targetPort: 8080}}]"
            if flow
            else f"{i}ports:\n{i}{s}- name: http\n{i}{s}  port: 80\n{i}{s}  targetPort: {q('http') if quote else 8080}"
        )
        return f"apiVersion: v1\nkind: Service\nmetadata:\n{i}name: {q(name)}\nspec:\n{i}selector:\n{i}{i}app: {name}{c('must match the pods')}\n{ports}\n"
    if kind == "ConfigMap":
        return (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n{i}name: {name}-config\ndata:\n{i}LOG_LEVEL: {q('debug')}\n"
            f"{i}app.conf: |\n{i}{i}[server]\n{i}{i}port = 8080{c('not a comment in the block')}\n{i}{i}# a line with a hash\n"
            f"{i}filter.conf: >-\n{i}{i}grep ERROR\n{i}{i}| WARN\n{i}EMPTY: ''\n{i}NUMBERISH: \"0123\"\n"
        )
    if kind == "PersistentVolumeClaim":
        modes = f"{i}accessModes: [ReadWriteOnce]" if flow else f"{i}accessModes:\n{i}{s}- ReadWriteOnce"
        return (
            f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n{i}name: {name}-data{c('keep')}\nspec:\n{modes}\n"
            f"{i}storageClassName: {q('fast-ssd')}\n{i}resources:\n{i}{i}requests:\n{i}{i}{i}storage: {q('5Gi')}{c('grow me')}\n"
        )
    if kind == "ClusterRoleBinding":
        return (
            f"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n{i}name: {name}\nroleRef:\n"
            f"{i}apiGroup: rbac.authorization.k8s.io\n{i}kind: ClusterRole\n{i}name: {name}-reader\nsubjects:\n"
            f"{s}- kind: ServiceAccount\n{s}  name: {q(name)}\n{s}  namespace: {q('logging')}{c('where the pods run')}\n"
        )
    if kind == "Ingress":
        return (
            f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n{i}name: {name}\n{i}annotations:\n"
            f"{i}{i}nginx.ingress.kubernetes.io/rewrite-target: /$2\n{i}{i}\"cert-manager.io/cluster-issuer\": 'letsencrypt'\nspec:\n"
            f"{i}ingressClassName: nginx\n{i}rules:\n{i}{s}- host: {name}.example.org\n{i}{s}  http:\n{i}{s}{i}  paths:\n"
            f"{i}{s}{i}  {s}- path: /api(/|$)(.*)\n{i}{s}{i}  {s}  pathType: ImplementationSpecific\n{i}{s}{i}  {s}  backend:\n"
            f"{i}{s}{i}  {s}{i}  service: {{name: {name}, port: {{number: 80}}}}\n"
        )
    if kind == "kustomization":
        return (
            f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {name}\n"
            f"resources:\n{s}- ../../base{c('shared')}\n{s}- ingress.yaml\nimages:\n{s}- name: registry.example.org/{name}\n{s}  newTag: {q('1.4.2')}\n"
            f"patches:\n{s}- path: memory.yaml\n{s}- target: {{kind: Deployment, name: {name}}}\n{s}  patch: |-\n{s}    - op: replace\n"
            f"{s}      path: /spec/replicas\n{s}      value: 3\n"
        )
    # Helm values
    tag = q("1.4.2") if quote else '"1.4.2"'
    return (
        f"# Default values for {name}.\nreplicaCount: 1\nimage:\n{i}repository: registry.example.org/{name}\n"
        f"{i}tag: {tag}\n{i}pullPolicy: IfNotPresent\nresources: {{}}{c('set per environment')}\n"
        f"env:\n{s}- name: MODEL\n{s}  value: llama3.1:8b\npersistence:\n{i}enabled: true\n{i}size: 8Gi\nnodeSelector: {{}}\ntolerations: []\n"
    )


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for p in HERE.iterdir():
        p.unlink()
    styles = list(itertools.product((2, 4), (0, 2), ("", '"', "'"), (True, False), (False, True)))
    n = 0
    for kind in KINDS:
        for j in range(5):
            ind, seq, quote, comments, flow = styles[(KINDS.index(kind) * 7 + j * 5) % len(styles)]
            name = ["web", "api", "worker", "billing", "search"][j]
            gen = deployment if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob") else simple
            text = gen(kind, name, ind, seq, quote, comments, flow)
            variant = j % 5
            if variant == 1:
                text = "---\n" + text
            elif variant == 2:
                text = text + "---\n" + gen(kind, name + "-canary", ind, seq, quote, not comments, flow)
            elif variant == 3:
                text = text.replace("\n", "\r\n")
            elif variant == 4:
                text = "# Source: generated by a pipeline\n" + text.rstrip("\n")
            n += 1
            (HERE / f"{n:03d}-{kind.lower()}-{name}.yaml").write_bytes(text.encode())
    # JSON manifests and anchors are read but never edited in place
    for j, name in enumerate(("json-a", "json-b")):
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v", "n": "1"}}
        n += 1
        (HERE / f"{n:03d}-json-{name}.yaml").write_text(json.dumps(obj, indent=2 * (j + 1)) + "\n")
    n += 1
    (HERE / f"{n:03d}-anchors.yaml").write_text(
        "x-common: &labels\n  app: web\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: *labels\nspec:\n  selector: *labels\n"
    )
    print(f"{n} files in {HERE}")


if __name__ == "__main__":
    main()
