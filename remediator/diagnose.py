"""The diagnosis engine: run every detector, merge, rank root causes first and fold symptoms under them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from remediator.detectors import REGISTRY
from remediator.detectors.base import Detector, finding, status_line
from remediator.errors import truncate
from remediator.evidence.health import Health, health_of
from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, EvidenceLine, Finding


@dataclass
class Diagnosis:
    app: str | None
    findings: list[Finding]
    errors: list[str] = field(default_factory=list)
    health: str | None = None
    sync: str | None = None

    @property
    def top(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per (category, culprit): the most confident, with the others' evidence and scope."""
    merged: dict[tuple[Category, object], Finding] = {}
    for f in findings:
        key = (f.category, f.culprit)
        prev = merged.get(key)
        if prev is None:
            merged[key] = f
            continue
        best, other = (f, prev) if f.confidence > prev.confidence else (prev, f)
        evidence = best.evidence + tuple(e for e in other.evidence if e not in best.evidence)
        merged[key] = replace(best, evidence=evidence[:10], affects=best.affects | other.affects)
    return list(merged.values())


def _dominator(f: Finding, others: Sequence[Finding]) -> Finding | None:
    """The most root-like other finding that explains some of the same objects."""
    best = None
    for g in others:
        if g is f or g.rootness <= f.rootness or g.confidence < 0.5 or not (g.affects & f.affects):
            continue
        if best is None or (g.rootness, g.confidence) > (best.rootness, best.confidence):
            best = g
    return best


def rank(findings: list[Finding]) -> list[Finding]:
    """Root causes first; a finding explained by a more root-like one is folded under it."""
    findings = _merge(findings)
    parent: dict[int, Finding] = {}
    for f in findings:
        d = _dominator(f, findings)
        if d is not None:
            parent[id(f)] = d

    def root_of(f: Finding) -> Finding:
        seen = 0
        while id(f) in parent and seen < 50:
            f = parent[id(f)]
            seen += 1
        return f

    children: dict[int, list[Finding]] = {}
    for f in findings:
        r = root_of(f)
        if r is not f:
            children.setdefault(id(r), []).append(f)
    roots = []
    for f in findings:
        if id(f) in parent:
            continue
        kids = sorted(children.get(id(f), []), key=lambda k: -k.score())
        conf = max([f.confidence] + [min(k.confidence, 0.95) for k in kids if k.category != Category.UNKNOWN])
        lifted = replace(f, folded=tuple(kids), confidence=round(max(f.confidence, (f.confidence + conf) / 2), 2))
        roots.append(lifted)
    roots.sort(key=lambda f: (-f.score(), -len(f.folded), f.category.value, f.culprit))
    return roots


def _unknown(ev: Evidence) -> list[Finding]:
    """When nothing is recognised: name the resources that are unhealthy."""
    bad = []
    for ref in list(ev.refs()):
        if not ev.in_focus(ref) or ref.kind == "Application":
            continue
        obj = ev.get_ref(ref)
        h = health_of(obj) if obj is not None else None
        if h is not None and h.status == Health.DEGRADED:
            bad.append((ref, obj, h))
    if not bad and ev.app is None:
        return []
    order = {"Deployment": 0, "StatefulSet": 0, "DaemonSet": 0, "Job": 1, "Pod": 3}
    bad.sort(key=lambda x: (order.get(x[0].kind, 2), x[0]))
    lines: list[EvidenceLine] = [
        status_line(o, "health", f"{h.status}: {h.message}") for _, o, h in bad[:5] if o is not None
    ]
    if bad:
        culprit = bad[0][0]
    elif ev.app is not None:
        culprit = ref_of(ev.app)
    else:
        return []
    return [
        finding(
            Category.UNKNOWN,
            culprit,
            f"{culprit} is {bad[0][2].status if bad else 'not healthy'}; no detector recognised the cause",
            confidence=0.1,
            chain=(f"{culprit} unhealthy", "cause not established"),
            evidence=lines,
            detector="engine",
            affects={r for r, _, _ in bad},
        )
    ]


def diagnose(ev: Evidence, app: str | None = None, detectors: Sequence[Detector] = REGISTRY) -> Diagnosis:
    """Run the detectors over the evidence. A detector that raises is recorded, the others still run."""
    raw: list[Finding] = []
    errors = list(ev.errors)
    for det in detectors:
        try:
            raw.extend(det.detect(ev))
        except Exception as e:
            errors.append(f"[{det.name}] error: {truncate(f'{type(e).__name__}: {e}')}")
    findings = rank(raw)
    if not findings:
        findings = _unknown(ev)
    health = sync = None
    if ev.app is not None:
        health = dig(ev.app, "status", "health", "status")
        sync = dig(ev.app, "status", "sync", "status")
    name = app or (str(dig(ev.app, "metadata", "name")) if ev.app is not None else None)
    return Diagnosis(app=name, findings=findings, errors=errors, health=health, sync=sync)
