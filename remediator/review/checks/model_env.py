"""RM003: a model env var names a model the policy does not list as served."""

from __future__ import annotations

import re

from remediator.review.checks.common import containers, subject
from remediator.review.context import ReviewContext
from remediator.review.model import Issue, Rule, Severity

MODEL_VAR = re.compile(r"(^|_)MODEL(_NAME|_ID)?$", re.I)


def check(ctx: ReviewContext) -> list[Issue]:
    served = ctx.policy.models.served
    if not served:
        return []
    out = []
    for d, path, c, _ in containers(ctx):
        for e in c.get("env") or []:
            if not isinstance(e, dict) or "value" not in e or not MODEL_VAR.search(str(e.get("name") or "")):
                continue
            value = str(e["value"])
            if value.startswith(("http://", "https://")) or value in served:
                continue
            subj = subject(d, c)
            out.append(
                Issue(
                    RULE.id,
                    RULE.severity,
                    f"{subj} env {e['name']}={value}: the model servers do not serve {value!r} (served: {', '.join(served)}); "
                    "the app would get 404 model not found",
                    f"use one of: {', '.join(served)}, or pull {value} on the server first",
                    d.file,
                    ctx.line(d, (*path, "env", {"name": str(e["name"])}, "value")),
                    f"{subj} env {e['name']}",
                )
            )
    return out


RULE = Rule("RM003", "model-not-served", Severity.warning, "model env var names a model the servers do not have", check)
