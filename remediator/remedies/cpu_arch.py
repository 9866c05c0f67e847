"""container-start-error with ``exec format error``: the image is built for another CPU architecture
than the nodes it ran on.

1. every schedulable node has one architecture and the registry's tag list has the same release
   built for it (``3.2.0-amd64`` -> ``3.2.0-arm64``, ``amd64-3.2.0`` -> ``arm64v8-3.2.0``): that image;
2. nodes with the image's architecture exist (the architecture its tag names, or that of nodes where
   the same image runs): ``nodeSelector: {kubernetes.io/arch: <it>}``; when the image's
   architecture is unknown but the registry lists a build for the failing nodes, that build pinned to them;
3. otherwise report what would decide it (the tag list, a build for the nodes' architecture).
"""

from __future__ import annotations

from remediator.evidence.images import ImageRef, parse_image, tag_arch
from remediator.evidence.relations import dig
from remediator.evidence.store import Obj
from remediator.model import Category, Finding
from remediator.remedies.base import (
    Change,
    Check,
    Context,
    Proposal,
    Refusal,
    Remedy,
    SetField,
    container_of,
    container_path,
    pod_spec_path,
)

ARCH_LABEL = "kubernetes.io/arch"
RULE = "cpu-arch"


def node_arch(node: Obj | None) -> str:
    labels = dig(node or {}, "metadata", "labels") or {}
    arch = (
        labels.get(ARCH_LABEL)
        or labels.get("beta.kubernetes.io/arch")
        or dig(node or {}, "status", "nodeInfo", "architecture")
    )
    return str(arch or "")


def schedulable(node: Obj) -> bool:
    if dig(node, "spec", "unschedulable"):
        return False
    conds = dig(node, "status", "conditions") or []
    ready = [c for c in conds if isinstance(c, dict) and c.get("type") == "Ready"]
    return not ready or str(ready[0].get("status")) == "True"


def _pods(ctx: Context, f: Finding) -> list[Obj]:
    out = []
    for r in sorted(f.affects):
        if r.kind == "Pod":
            pod = ctx.ev.get_ref(r)
            if pod is not None:
                out.append(pod)
    return out


def _ran_on(ctx: Context, image: str) -> set[str]:
    """Architectures of the nodes where a container with this image runs without restarts."""
    out: set[str] = set()
    for pod in ctx.ev.all("Pod"):
        node = ctx.ev.get("Node", "", str(dig(pod, "spec", "nodeName") or ""))
        arch = node_arch(node)
        if not arch:
            continue
        specs = {
            str(c.get("name")): c.get("image") for c in dig(pod, "spec", "containers") or [] if isinstance(c, dict)
        }
        for cs in dig(pod, "status", "containerStatuses") or []:
            if not isinstance(cs, dict) or specs.get(str(cs.get("name"))) != image:
                continue
            if dig(cs, "state", "running") and cs.get("ready") and not cs.get("restartCount"):
                out.add(arch)
    return out


def variant(ref: ImageRef, tags: list[str], arch: str) -> str | None:
    """The tag of the same release built for ``arch``: a tag that names ``arch`` and, without that
    word, is the same as the image's tag without its own (or as its tag, when it names none).
    Preferred: the same style (suffix ``3.2.0-arm64`` or prefix ``arm64v8-3.2.0``), then the shortest."""
    own = tag_arch(ref.tag)
    release = own[1] if own else (ref.tag or "latest")
    suffix = ref.tag.startswith(release) if own else True
    found = []
    for t in tags:
        ta = tag_arch(t)
        if ta is not None and ta[0] == arch and ta[1] == release and t != ref.tag:
            found.append((t.startswith(release) != suffix, len(t), t))
    return min(found)[2] if found else None


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    said = " ".join([f.summary, *(e.text for e in f.evidence)]).lower()
    if "exec format error" not in said:
        return Refusal(
            cat, "the start error is not an exec format error; the CPU architecture is not in question", RULE
        )
    cname = str(f.details.get("container") or "")
    desired = ctx.desired_obj(f.culprit)
    obj = desired or ctx.obj(f.culprit)
    running = str(f.details.get("image") or "")
    image = str(container_of(desired, cname).get("image") or running)
    if running and image != running:
        return Refusal(
            cat,
            f"Git already declares image {image} for {cname}, not {running}; sync the app",
            "source-matches-cluster",
        )
    ref = parse_image(image)
    if not cname or ref is None:
        return Refusal(cat, f"the container or its image ({image or 'none'}) is not known", RULE)
    failing = {
        a
        for a in (node_arch(ctx.ev.get("Node", "", str(dig(p, "spec", "nodeName") or ""))) for p in _pods(ctx, f))
        if a
    }
    if not failing:
        return Refusal(
            cat,
            f"the architecture of the nodes {f.culprit.name} ran on is not known (no {ARCH_LABEL} label in the evidence)",
            RULE,
        )
    nodes = [n for n in ctx.ev.all("Node") if node_arch(n)]
    arches = {node_arch(n) for n in nodes if schedulable(n)} or failing
    own = tag_arch(ref.tag)
    ran = _ran_on(ctx, image) - failing
    image_arch = own[0] if own else (next(iter(ran)) if len(ran) == 1 else "")
    how = f"its tag {ref.tag} names {image_arch}" if own else f"it runs on {image_arch} nodes" if image_arch else ""
    if image_arch and image_arch in failing:
        return Refusal(
            cat,
            f"image {image} claims {image_arch}, the architecture of the nodes it fails on: the image itself is "
            "built wrong; a release fix, not a manifest one",
            RULE,
        )
    tags = ctx.ev.registry_tags(image)
    target = next(iter(failing)) if len(failing) == 1 else ""
    build = variant(ref, tags, target) if tags and target and not ref.digest else None
    cpath = container_path(obj, cname)
    sel = (*pod_spec_path(obj), "nodeSelector", ARCH_LABEL)
    current_sel = dig(obj or {}, *[p for p in sel if isinstance(p, str)])
    where = f"the nodes it ran on are {', '.join(sorted(failing))}"
    if build and arches == {target}:
        new = ref.with_tag(build)
        changes: list[Change] = [SetField(f.culprit, (*cpath, "image"), new, current=image, role="image")]
        checks = [Check(f.culprit, (*cpath, "image"), new)]
        if current_sel and current_sel != target:
            changes.append(SetField(f.culprit, sel, target, current=current_sel, role="node-selector"))
            checks.append(Check(f.culprit, sel, target))
        return Proposal(
            remedy=RULE,
            reason=f"container {cname} of {f.culprit} fails with exec format error: {image} is not built for {target}"
            f"{' (' + how + ')' if how else ''}; {where}, and every schedulable node is {target}. "
            f"The registry lists {build}, the same release built for {target}.",
            changes=changes,
            risk=f"{build} is a different build of the same release; check that the registry's {target} build is published "
            "by the same project and pipeline.",
            checks=checks,
        )
    if image_arch and image_arch in arches:
        return Proposal.setting(
            remedy=RULE,
            reason=f"container {cname} of {f.culprit} fails with exec format error: {image} is built for {image_arch} "
            f"({how}); {where}. Nodes with {image_arch} exist: pin the pods to them with a nodeSelector {ARCH_LABEL}.",
            change=SetField(f.culprit, sel, image_arch, current=current_sel, role="node-selector"),
            risk=f"Pods of {f.culprit.name} run only on {image_arch} nodes; if those lack capacity they stay Pending.",
        )
    if build:
        new = ref.with_tag(build)
        return Proposal(
            remedy=RULE,
            reason=f"container {cname} of {f.culprit} fails with exec format error on {target} nodes; the registry lists "
            f"{build}, the same release built for {target}: use it and pin the pods to {target} nodes.",
            changes=[
                SetField(f.culprit, (*cpath, "image"), new, current=image, role="image"),
                SetField(f.culprit, sel, target, current=current_sel, role="node-selector"),
            ],
            risk=f"Pods of {f.culprit.name} run only on {target} nodes.",
            checks=[Check(f.culprit, (*cpath, "image"), new), Check(f.culprit, sel, target)],
        )
    missing = []
    if tags is None:
        missing.append(f"the registry's tag list for {ref.registry}/{ref.repository} (not in the evidence)")
    elif target:
        missing.append(f"a {target} build of {ref.tag or 'latest'} (the registry lists none)")
    if not image_arch:
        missing.append("the image's own architecture (its tag names none, and it runs on no node in the evidence)")
    elif image_arch not in arches:
        missing.append(f"a schedulable node with {image_arch}")
    return Refusal(
        cat,
        f"container {cname} of {f.culprit} fails with exec format error ({where}); not deciding without "
        + " and ".join(missing),
        RULE,
    )


REMEDY = Remedy(
    RULE,
    (Category.CONTAINER_START_ERROR.value,),
    plan,
    "exec format error: the same release built for the nodes' architecture, or an arch nodeSelector",
)
