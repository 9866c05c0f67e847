"""container-start-error where the runtime says ``exec: "x": executable file not found in $PATH``
and ``x`` is the container's command (``command[0]``, or ``args[0]`` when the image has no
entrypoint): ``x`` is corrected to the executable the image is known to have that is one edit away
(``pyhton`` -> ``python``). What the image has is known from the same image repository's command
elsewhere (other workloads, containers, older ReplicaSets, in the cluster or in Git) or from the
applets of well-known base images. Anything else is reported: an exec format error (the cpu-arch
remedy), a missing file or permission (the image), a name no known executable is one edit from."""

from __future__ import annotations

import re
from typing import Any

from remediator.evidence.nearest import nearest
from remediator.evidence.relations import container_statuses, containers, dig, pod_template
from remediator.evidence.store import WORKLOAD_KINDS, Obj, ref_of
from remediator.model import Category, Finding
from remediator.remedies.base import Context, Proposal, Refusal, Remedy, SetField, container_of, container_path

KEY = "container-command"
NOT_FOUND = re.compile(r'exec: \\?"([^"\\]+)\\?": executable file not found in \$PATH')

# Executables both BusyBox and Debian-family images ship.
_CORE = (
    "sh",
    "ls",
    "cat",
    "echo",
    "sleep",
    "env",
    "sed",
    "grep",
    "cp",
    "mv",
    "rm",
    "mkdir",
    "chmod",
    "chown",
    "ln",
    "kill",
    "tar",
    "gzip",
    "find",
    "xargs",
    "head",
    "tail",
    "sort",
    "uniq",
    "wc",
    "tee",
    "touch",
    "date",
    "id",
    "whoami",
    "hostname",
    "printf",
    "test",
    "true",
    "false",
    "expr",
    "sync",
    "mount",
    "df",
    "du",
    "uname",
    "dirname",
    "basename",
    "readlink",
    "realpath",
    "which",
    "stat",
    "timeout",
    "cut",
    "tr",
    "od",
)
_BUSYBOX = (
    *_CORE,
    "ash",
    "wget",
    "nc",
    "awk",
    "ps",
    "top",
    "gunzip",
    "ping",
    "nslookup",
    "vi",
    "umount",
    "free",
    "watch",
    "less",
    "more",
    "diff",
)
_DEBIAN = (
    *_CORE,
    "bash",
    "dash",
    "apt-get",
    "dpkg",
)
# The executables of well-known base images, by image repository (every variant: alpine, slim, ...).
WELL_KNOWN: dict[str, frozenset[str]] = {
    "busybox": frozenset(_BUSYBOX),
    "alpine": frozenset([*_BUSYBOX, "apk"]),
    "debian": frozenset(_DEBIAN),
    "ubuntu": frozenset(_DEBIAN),
    "python": frozenset(["python", "python3", "pip", "pip3", "sh"]),
    "node": frozenset(["node", "npm", "npx", "yarn", "sh"]),
    "nginx": frozenset(["nginx", "sh"]),
}


def repository(image: str) -> str:
    """The image's repository without registry defaults, tag or digest: ``docker.io/library/python:3.12`` -> ``python``."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)
    if ":" in last[-1]:
        ref = ref[: ref.rfind(":")]
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    return ref[len("library/") :] if ref.startswith("library/") else ref


def _failing(ctx: Context) -> set[str]:
    """Executables the runtime could not find anywhere in the evidence (never a candidate)."""
    out: set[str] = set()
    for pod in ctx.ev.all("Pod"):
        for cs in container_statuses(pod):
            for st in (dig(cs, "state"), dig(cs, "lastState")):
                for v in (st or {}).values() if isinstance(st, dict) else []:
                    m = NOT_FOUND.search(str(dig(v, "message") or "")) if isinstance(v, dict) else None
                    if m:
                        out.add(m.group(1))
    return out


def known_executables(ctx: Context, repo: str, skip: set[str]) -> dict[str, list[str]]:
    """Executable -> where it is known from, for images of repository ``repo``."""
    out: dict[str, list[str]] = {}
    objs: list[tuple[Obj, str]] = [(o, "Git") for o in ctx.desired]
    objs += [(o, "the cluster") for kind in WORKLOAD_KINDS for o in ctx.ev.all(kind)]
    for o, where in objs:
        for c in containers(pod_template(o)):
            cmd = c.get("command")
            if not c.get("image") or repository(str(c["image"])) != repo or not isinstance(cmd, list) or not cmd:
                continue
            exe = str(cmd[0])
            if exe and exe not in skip:
                out.setdefault(exe, []).append(f"{ref_of(o)} container {c.get('name')} ({where})")
    for exe in sorted(WELL_KNOWN.get(repo, frozenset())):
        if exe not in skip:
            out.setdefault(exe, []).append(f"the {repo} image's well-known executables")
    return out


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    missing = str(f.details.get("missing_executable") or "")
    if not missing:
        return Refusal(
            cat,
            "the runtime does not say an executable is missing from $PATH (exec format error: the cpu-arch "
            "remedy; a missing file or permission: the image decides); the command is not changed",
            KEY,
        )
    cname = str(f.details.get("container") or "")
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    c: dict[str, Any] = container_of(obj, cname)
    if obj is None or not c:
        return Refusal(cat, f"container {cname} of {f.culprit} is neither in Git nor in the cluster", KEY)
    command, args = c.get("command"), c.get("args")
    if isinstance(command, list) and command and str(command[0]) == missing:
        field: tuple[str, int] = ("command", 0)
    elif not command and isinstance(args, list) and args and str(args[0]) == missing:
        field = ("args", 0)
    else:
        return Refusal(
            cat,
            f'"{missing}" is not the command container {cname} declares (command {command}, args {args}): it comes '
            "from the image's entrypoint, which the image's build must fix",
            KEY,
        )
    image = str(c.get("image") or f.details.get("image") or "")
    repo = repository(image)
    known = known_executables(ctx, repo, {missing, *_failing(ctx)})
    by_name: dict[str, list[str]] = {}
    for exe in known:
        by_name.setdefault(exe.rsplit("/", 1)[-1], []).append(exe)
    near, d = nearest(missing, by_name, 1)
    if not near:
        return Refusal(
            cat,
            f'"{missing}" is not in $PATH of image {image}, and no executable the image is known to have is one '
            f"edit from it{' (known: ' + ', '.join(sorted(by_name)[:12]) + ')' if by_name else ''}: "
            "what the image ships decides the command",
            KEY,
        )
    if len(near) > 1:
        return Refusal(
            cat, f'"{missing}" is one edit from {" and ".join(near)}, which image {image} both has: not guessing', KEY
        )
    forms = by_name[near[0]]
    new = forms[0]
    path = (*container_path(obj, cname), *field)
    how = "differs in case" if d == 0 else "is one edit away"
    return Proposal.setting(
        remedy=KEY,
        reason=(
            f'the runtime cannot start container {cname}: exec "{missing}": executable file not found in $PATH; '
            f"{new} {how} and image {repo} has it ({'; '.join(dict.fromkeys(known[new][:3]))})"
        ),
        change=SetField(f.culprit, path, new, current=missing, role="command"),
        risk=f"Container {cname} starts {new} with the same arguments; if the arguments were meant for another "
        "program it fails again, with that program's error.",
    )


REMEDY = Remedy(
    KEY,
    (Category.CONTAINER_START_ERROR.value,),
    plan,
    "correct a container command one typo from an executable the image has",
)
