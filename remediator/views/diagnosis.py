"""Rendering a diagnosis: JSON (pydantic, the machine contract), plain text and a Markdown report.

Every rendering is redacted by default (``remediator.redact``): evidence lines, summaries, chains and
errors quote logs and events, which carry secrets. ``redacted=False`` is for local debugging
(``--no-redact``)."""

from __future__ import annotations

from pydantic import BaseModel

from remediator.diagnose import Diagnosis
from remediator.model import Category, Finding, ObjectRef
from remediator.redact import redact, redact_data


class CulpritOut(BaseModel):
    kind: str
    namespace: str
    name: str


class EvidenceOut(BaseModel):
    source: str
    text: str


class FindingOut(BaseModel):
    category: str
    culprit: CulpritOut
    summary: str
    confidence: float
    chain: list[str]
    evidence: list[EvidenceOut]
    detector: str
    folded: list[FindingOut] = []


class DiagnosisOut(BaseModel):
    app: str | None
    health: str | None = None
    sync: str | None = None
    findings: list[FindingOut]
    errors: list[str]


def finding_out(f: Finding, depth: int = 0) -> FindingOut:
    return FindingOut(
        category=f.category.value,
        culprit=CulpritOut(**f.culprit.as_dict()),
        summary=f.summary,
        confidence=f.confidence,
        chain=list(f.chain),
        evidence=[EvidenceOut(source=e.source, text=e.text) for e in f.evidence],
        detector=f.detector,
        folded=[finding_out(k, depth + 1) for k in f.folded] if depth == 0 else [],
    )


def to_model(d: Diagnosis) -> DiagnosisOut:
    return DiagnosisOut(
        app=d.app, health=d.health, sync=d.sync, findings=[finding_out(f) for f in d.findings], errors=d.errors
    )


def to_json(d: Diagnosis, redacted: bool = True) -> str:
    m = to_model(d)
    if redacted:
        m = DiagnosisOut.model_validate(redact_data(m.model_dump()))
    return m.model_dump_json(indent=2)


def _ns(ref: ObjectRef) -> str:
    return f" -n {ref.namespace}" if ref.namespace else ""


def _kind(ref: ObjectRef) -> str:
    return ref.kind.lower()


def next_steps(f: Finding) -> list[str]:
    """Numbered next steps with the kubectl commands that confirm the diagnosis."""
    c = f.culprit
    steps = [f"Inspect the culprit: `kubectl{_ns(c)} describe {_kind(c)} {c.name}`"]
    workloads = sorted(
        r for r in f.affects if r.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob") and r != c
    )
    w = workloads[0] if workloads else (c if c.kind in ("Deployment", "StatefulSet", "DaemonSet") else None)
    extra: dict[Category, list[str]] = {
        Category.OOM_KILLED: [
            f"Confirm the OOM kill: `kubectl{_ns(c)} get pods -o jsonpath='{{..lastState.terminated.reason}}'`",
            "Compare usage with the limit: `kubectl top pod" + _ns(c) + "`",
            "Raise `resources.limits.memory` of the container in Git (the fix PR does this).",
        ],
        Category.EXTERNAL_SECRET_SYNC: [
            f"Read the sync error: `kubectl{_ns(c)} get externalsecret {c.name} -o yaml`",
            "Read the operator log: `kubectl -n external-secrets logs deploy/external-secrets`",
            "Fix the provider side (unseal Vault, auth config, create the secret path): this is not a Git change.",
        ],
        Category.RBAC_FORBIDDEN: [
            f"Check the permission: `kubectl auth can-i --as=system:serviceaccount:{f.details.get('service_account', {}).get('namespace', 'NS')}:"
            f"{f.details.get('service_account', {}).get('name', 'SA')} {f.details.get('verb', 'VERB')} {f.details.get('resource', 'RESOURCE')}`",
            f"Read the binding: `kubectl{_ns(c)} get {_kind(c)} {c.name} -o yaml`",
        ],
        Category.DNS_RESOLUTION: [
            f"Check the Service: `kubectl{_ns(c)} get service {c.name}`",
            f"Resolve from inside: `kubectl{_ns(c)} run dnscheck --rm -it --image=busybox --restart=Never -- nslookup {f.details.get('host') or c.name}`",
        ],
        Category.PVC_PENDING: [
            f"Read the claim's events: `kubectl{_ns(c)} describe pvc {c.name}`",
            f"Read the class: `kubectl get storageclass {f.details.get('storage_class') or ''} -o yaml`",
        ],
        Category.NOT_DEPLOYED: [
            "Compare Git and cluster: `argocd app diff APP`",
            "Sync the app: `argocd app sync APP`",
        ],
        Category.SYNC_FAILED: ["Read the sync result: `argocd app get APP --show-operation`"],
        Category.NODE_NOT_READY: [f"Read the node: `kubectl describe node {c.name}`"],
        Category.MODEL_NOT_FOUND: [
            f"List the models the server has: `curl {f.details.get('server') or 'http://MODEL-SERVER/api/tags'}`"
        ],
    }
    steps += extra.get(f.category, [])
    if w is not None:
        steps.append(
            f"Events of the workload: `kubectl{_ns(w)} get events --field-selector involvedObject.name={w.name}`"
        )
        if w.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            steps.append(f"Logs, previous run: `kubectl{_ns(w)} logs {_kind(w)}/{w.name} --previous --tail=100`")
    return steps


def to_text(d: Diagnosis, redacted: bool = True) -> str:
    out = [
        f"app: {d.app or '(whole snapshot)'}"
        + (f"  health: {d.health}" if d.health else "")
        + (f"  sync: {d.sync}" if d.sync else "")
    ]
    if not d.findings:
        out.append("no problems found")
    for i, f in enumerate(d.findings, 1):
        out.append(f"\n{i}. [{f.category}] {f.culprit}  (confidence {f.confidence:.2f})")
        out.append(f"   {f.summary}")
        out.append("   chain: " + " <- ".join(f.chain))
        for e in f.evidence[:6]:
            out.append(f"   - {e.source}: {e.text}")
        for k in f.folded:
            out.append(f"   folded: [{k.category}] {k.culprit}: {k.summary}")
    if d.findings:
        out.append("\nnext steps:")
        out += [f"  {i}. {s.replace('`', '')}" for i, s in enumerate(next_steps(d.findings[0]), 1)]
    if d.errors:
        out.append("\nerrors:")
        out += [f"  {e}" for e in d.errors]
    text = "\n".join(out) + "\n"
    return redact(text) if redacted else text


def to_markdown(d: Diagnosis, redacted: bool = True) -> str:
    text = _markdown(d)
    return redact(text) if redacted else text


def _markdown(d: Diagnosis) -> str:
    out = [f"# Diagnosis: {d.app or 'whole snapshot'}", "", "## Overview", ""]
    out.append(f"- Application: `{d.app or '-'}`; health: **{d.health or '-'}**; sync: **{d.sync or '-'}**")
    if not d.findings:
        out += ["- No problems found.", ""]
        return "\n".join(out)
    top = d.findings[0]
    out.append(f"- {len(d.findings)} independent problem(s); root cause first.")
    out += ["", "## Primary resource", "", f"`{top.culprit}`: {top.summary}", "", "## Related resources", ""]
    related = sorted(r for r in top.affects if r != top.culprit)
    out += [f"- `{r}`" for r in related] or ["- none"]
    out += ["", "## Root cause", "", f"**{top.category}** (confidence {top.confidence:.2f})", ""]
    out += [f"{i}. {step}" for i, step in enumerate(reversed(top.chain), 1)]
    out += ["", "<details><summary>Evidence</summary>", ""]
    out += [f"- `{e.source}`: {e.text}" for e in top.evidence]
    out += ["", "</details>", ""]
    if top.folded:
        out += ["Symptoms explained by this cause:", ""]
        out += [f"- [{k.category}] `{k.culprit}`: {k.summary}" for k in top.folded]
        out.append("")
    out += ["## Next steps", ""]
    out += [f"{i}. {s}" for i, s in enumerate(next_steps(top), 1)]
    if len(d.findings) > 1:
        out += ["", "## Other problems", ""]
        out += [f"- [{f.category}] `{f.culprit}` ({f.confidence:.2f}): {f.summary}" for f in d.findings[1:]]
    if d.errors:
        out += ["", "## Evidence that could not be read", ""] + [f"- {e}" for e in d.errors]
    return "\n".join(out) + "\n"
