"""RM007: a Secret or ConfigMap reference with no source in the repository (object, generator,
ExternalSecret/SealedSecret) and not listed as managed outside Git in the policy."""

from __future__ import annotations

from typing import Any

from remediator.evidence.relations import dig
from remediator.model import FieldPath
from remediator.review.checks.common import pod_specs
from remediator.review.context import Declared, ReviewContext
from remediator.review.model import Issue, Rule, Severity


def _refs(spec: dict[str, Any], base: FieldPath) -> list[tuple[str, str, FieldPath]]:
    out: list[tuple[str, str, FieldPath]] = []
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            cp = (*base, key, {"name": str(c.get("name"))})
            for e in c.get("env") or []:
                vf = e.get("valueFrom") if isinstance(e, dict) else None
                for src, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    ref = dig(vf or {}, src)
                    if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                        out.append((kind, str(ref["name"]), (*cp, "env", {"name": str(e.get("name"))})))
            for i, ef in enumerate(c.get("envFrom") or []):
                for src, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    ref = dig(ef, src) if isinstance(ef, dict) else None
                    if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                        out.append((kind, str(ref["name"]), (*cp, "envFrom", i)))
    for i, v in enumerate(spec.get("volumes") or []):
        if not isinstance(v, dict):
            continue
        if isinstance(v.get("secret"), dict) and v["secret"].get("secretName") and not v["secret"].get("optional"):
            out.append(("Secret", str(v["secret"]["secretName"]), (*base, "volumes", i)))
        if isinstance(v.get("configMap"), dict) and v["configMap"].get("name") and not v["configMap"].get("optional"):
            out.append(("ConfigMap", str(v["configMap"]["name"]), (*base, "volumes", i)))
    for i, s in enumerate(spec.get("imagePullSecrets") or []):
        if isinstance(s, dict) and s.get("name"):
            out.append(("Secret", str(s["name"]), (*base, "imagePullSecrets", i)))
    return out


def check(ctx: ReviewContext) -> list[Issue]:
    have: dict[str, set[str]] = {"Secret": set(), "ConfigMap": set()}
    for d in ctx.objects:
        if d.ref.kind in have:
            have[d.ref.kind].add(d.ref.name)
        elif d.ref.kind in ("ExternalSecret", "SealedSecret"):
            have["Secret"].add(str(dig(d.obj, "spec", "target", "name") or d.ref.name))
            have["Secret"].add(d.ref.name)
    out = []
    seen: set[tuple[str, str, str]] = set()
    for d, base, spec in pod_specs(ctx):
        for kind, name, path in _refs(spec, base):
            if name in have[kind] or name in ctx.generated or ctx.external(name) or (d.file, kind, name) in seen:
                continue
            seen.add((d.file, kind, name))
            out.append(_issue(ctx, d, kind, name, path))
    return out


def _issue(ctx: ReviewContext, d: Declared, kind: str, name: str, path: FieldPath) -> Issue:
    subj = f"{d.ref.kind} {d.ref.name}"
    return Issue(
        RULE.id, RULE.severity,
        f"{subj} uses {kind} {name}, which nothing in the repository creates (no {kind}, generator, ExternalSecret "
        "or SealedSecret) and the policy does not list as managed outside Git: pods fail with CreateContainerConfigError",
        f"add the {kind} (or an ExternalSecret producing it), or list {name} in review.external_refs", d.file,
        ctx.line(d, path), f"{subj} {kind} {name}",
    )  # fmt: skip


RULE = Rule("RM007", "missing-reference", Severity.warning, "Secret/ConfigMap referenced but defined nowhere", check)
