"""image-pull on a tag that does not exist (``manifest unknown``, ``not found``): the nearest tag the
registry lists, when one and only one is near.

Tried after image-rollback (the last image that ran is the better answer when it is known). The tag
list comes from the evidence (``probes/``: a Docker Registry HTTP API v2 ``tags/list`` answer, or
``--probe-registries`` live); the candidate must

* keep the variant family: what follows the version (``-alpine``, ``-arm64``, ``-bookworm``; digits
  in it ignored, so ``-alpine3.19`` is the family of ``-alpine3.20``) is the same;
* keep the major version, and never be ``latest`` or another floating tag without a version;
* be the only tag at the smallest edit distance, at most ``MOST`` edits from the broken tag.

Registry authentication failures (``unauthorized``, ``pull access denied``, ``insufficient_scope``)
are out of band: no tag is chosen.
"""

from __future__ import annotations

import re

from remediator.evidence.images import parse_image
from remediator.model import Category, Finding
from remediator.remedies.base import Context, Proposal, Refusal, Remedy, SetField, container_of, container_path
from remediator.remedies.nearest import nearest

RULE = "image-tag"
MOST = 2  # a typo, not another release
AUTH = (
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "pull access denied",
    "insufficient_scope",
    "denied: ",
    "requested access to the resource is denied",
    "403 forbidden",
)
NOT_FOUND = ("manifest unknown", "not found", "manifest for", "does not exist")
VERSION = re.compile(r"^(?P<v>v?(?P<major>\d+)(?:\.\d+)*)(?P<rest>.*)$")


def variant(tag: str) -> tuple[str, str] | None:
    """(major version, variant family) of a tag that starts with a version: ``2.4.62-alpine3.20`` ->
    (2, -alpine.); None for a tag without one (``latest``, ``alpine``, ``sha256-….sig``)."""
    m = VERSION.match(tag)
    if m is None:
        return None
    return str(int(m.group("major"))), re.sub(r"\d+", "", m.group("rest").lower())


def candidates(broken: str, tags: list[str]) -> list[str]:
    want = variant(broken)
    if want is None:
        return []
    return [t for t in tags if t != broken and "latest" not in t.lower() and variant(t) == want]


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    cname = str(f.details.get("container") or "")
    broken = str(f.details.get("image") or "")
    said = " ".join(
        [str(f.details.get("message") or ""), str(f.details.get("cause") or ""), *(e.text for e in f.evidence)]
    ).lower()
    if any(w in said for w in AUTH):
        return Refusal(
            cat,
            f"the registry refuses access to {broken or 'the image'} (authentication or authorization): the "
            "pull secret, the registry's permissions or the repository name decide it, not a tag in Git",
            "out-of-band",
        )
    if not any(w in said for w in NOT_FOUND):
        return Refusal(cat, f"the pull of {broken or 'the image'} does not fail because the tag is unknown", RULE)
    ref = parse_image(broken)
    if ref is None or not cname:
        return Refusal(cat, f"the container or its image ({broken or 'none'}) is not known", RULE)
    if ref.digest:
        return Refusal(cat, f"{broken} is pinned by digest; a digest is not near any tag", RULE)
    if not ref.tag:
        return Refusal(cat, f"{broken} names no tag (latest); no version to be near", RULE)
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    declared = container_of(ctx.desired_obj(f.culprit), cname).get("image")
    if declared and declared != broken:
        return Refusal(
            cat,
            f"Git already declares image {declared} for {cname}, not {broken}; sync the app",
            "source-matches-cluster",
        )
    tags = ctx.ev.registry_tags(broken)
    repo = f"{ref.registry}/{ref.repository}"
    if tags is None:
        return Refusal(
            cat,
            f"tag {ref.tag} of {repo} cannot be pulled and no tag list of {repo} is in the evidence: the registry's "
            "tag list (--probe-registries live, or a probes/ tags/list answer in a snapshot) would decide it",
            RULE,
        )
    if ref.tag in tags:
        return Refusal(
            cat,
            f"the registry lists tag {ref.tag} of {repo}: the tag exists; the pull fails for another reason "
            "(platform, a deleted manifest, the registry)",
            RULE,
        )
    major_family = variant(ref.tag)
    if major_family is None:
        return Refusal(cat, f"tag {ref.tag} names no version; the nearest tag cannot be told by its version", RULE)
    best, d = nearest(ref.tag, candidates(ref.tag, tags), MOST)
    family = major_family[1] or "(no suffix)"
    if not best:
        return Refusal(
            cat,
            f"the registry lists no tag of {repo} within {MOST} edits of {ref.tag} with major version "
            f"{major_family[0]} and variant {family}; which release to run is the owner's call",
            RULE,
        )
    if len(best) > 1:
        return Refusal(
            cat,
            f"tags {', '.join(best)} of {repo} are equally near {ref.tag} ({d} edit(s)); the evidence does not "
            "decide between them",
            RULE,
        )
    new = ref.with_tag(best[0])
    path = (*container_path(obj, cname), "image")
    return Proposal.setting(
        remedy=RULE,
        reason=(
            f"image {broken} of container {cname} cannot be pulled: the registry has no tag {ref.tag} "
            f"({len(tags)} tags listed for {repo}). {best[0]} is the only listed tag {d} edit(s) away with the same "
            f"major version and variant {family}, and no earlier image of {cname} is known to roll back to."
        ),
        change=SetField(f.culprit, path, new, current=broken, role="image"),
        risk=(
            f"{best[0]} is assumed to be the tag meant; if {ref.tag} is a release not pushed yet, push it instead "
            "and close this pull request."
        ),
    )


REMEDY = Remedy(RULE, (Category.IMAGE_PULL.value,), plan, "a tag that does not exist: the nearest listed tag")
