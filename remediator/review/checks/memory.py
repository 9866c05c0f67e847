"""RM002: a container without a memory limit, with one below the policy minimum, or requests above limits."""

from __future__ import annotations

from remediator.evidence.relations import dig
from remediator.quantity import parse_quantity
from remediator.review.checks.common import containers, subject
from remediator.review.context import ReviewContext
from remediator.review.model import Issue, Rule, Severity


def check(ctx: ReviewContext) -> list[Issue]:
    out = []
    floor = parse_quantity(ctx.policy.review.memory_min).value
    for d, path, c, _ in containers(ctx):
        res = c.get("resources") or {}
        limit, request = dig(res, "limits", "memory"), dig(res, "requests", "memory")
        subj = subject(d, c)
        if limit is None:
            out.append(Issue(RULE.id, Severity.warning, f"{subj} has no memory limit: one leaking process can take the node's memory",
                             "set resources.limits.memory", d.file, ctx.line(d, (*path, "resources")) if res else ctx.line(d, path), subj))  # fmt: skip
            continue
        try:
            lim = parse_quantity(str(limit)).value
            req = parse_quantity(str(request)).value if request is not None else None
        except ValueError as e:
            out.append(Issue(RULE.id, Severity.error, f"{subj}: {e}", "write a Kubernetes quantity such as 512Mi", d.file,
                             ctx.line(d, (*path, "resources", "limits", "memory")), subj))  # fmt: skip
            continue
        if req is not None and req > lim:
            out.append(Issue(RULE.id, Severity.error, f"{subj} requests {request} of memory but is limited to {limit}: the API server rejects the pod",
                             "make requests.memory <= limits.memory", d.file, ctx.line(d, (*path, "resources", "requests", "memory")), subj))  # fmt: skip
        elif lim < floor:
            out.append(Issue(RULE.id, Severity.warning, f"{subj} memory limit {limit} is below the policy minimum {ctx.policy.review.memory_min}: expect OOMKilled",
                             f"raise resources.limits.memory to at least {ctx.policy.review.memory_min}", d.file,
                             ctx.line(d, (*path, "resources", "limits", "memory")), subj))  # fmt: skip
    return out


RULE = Rule("RM002", "memory-limit", Severity.warning, "memory limit missing, too small, or below the request", check)
