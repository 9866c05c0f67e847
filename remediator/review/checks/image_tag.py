"""RM008: an image with no tag or the tag ``latest`` (not reproducible, rollbacks impossible)."""

from __future__ import annotations

from remediator.review.checks.common import containers, subject
from remediator.review.context import ReviewContext
from remediator.review.model import Issue, Rule, Severity


def check(ctx: ReviewContext) -> list[Issue]:
    out = []
    for d, path, c, _ in containers(ctx):
        image = str(c.get("image") or "")
        if not image or "@" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        if tag and tag != "latest":
            continue
        subj = subject(d, c)
        out.append(
            Issue(
                RULE.id,
                RULE.severity,
                f"{subj} image {image} has {'the tag latest' if tag else 'no tag'}: what runs changes without a commit, "
                "and a bad push cannot be rolled back from Git",
                "pin a version tag or a digest",
                d.file,
                ctx.line(d, (*path, "image")),
                subj,
            )
        )
    return out


RULE = Rule("RM008", "image-tag", Severity.warning, "image without a pinned tag", check)
