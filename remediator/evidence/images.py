"""Container image references as the runtime reads them: registry, repository, tag, digest.

``httpd:2.4`` is ``registry-1.docker.io/library/httpd:2.4``; ``ghcr.io/acme/app:1.0-arm64`` is
registry ``ghcr.io``, repository ``acme/app``, tag ``1.0-arm64``. Also: the CPU architecture a tag
names (``3.2.0-arm64``, ``arm64v8-3.2.0``, ``1.0_amd64``) and the release it names without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "registry-1.docker.io"
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


@dataclass(frozen=True)
class ImageRef:
    name: str  # as written, without tag and digest (``httpd``, ``ghcr.io/acme/app``)
    registry: str  # host[:port]; Docker Hub is registry-1.docker.io
    repository: str  # ``library/httpd``, ``acme/app``
    tag: str  # "" when the reference has none
    digest: str  # "" when the reference has none

    def with_tag(self, tag: str) -> str:
        """The same image (same spelling of the name) at another tag, without a digest."""
        return f"{self.name}:{tag}"

    @property
    def tags_url(self) -> str:
        """Docker Registry HTTP API v2: the repository's tag list."""
        return f"https://{self.registry}/v2/{self.repository}/tags/list"


def parse_image(image: str) -> ImageRef | None:
    """None for an empty or malformed reference."""
    ref = image.strip()
    if not ref or any(ch.isspace() for ch in ref):
        return None
    name, _, digest = ref.partition("@")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, repo_parts = parts[0], parts[1:]
    else:
        registry, repo_parts = DOCKER_HUB, parts
    if registry in HUB_ALIASES:
        registry = DOCKER_HUB
        if len(repo_parts) == 1:
            repo_parts = ["library", *repo_parts]
    repository = "/".join(repo_parts)
    if not repository or not re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+|__[a-z0-9]+)*", repository):
        return None
    return ImageRef(name, registry, repository, tag, digest)


def same_registry(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a == b or (a in HUB_ALIASES and b in HUB_ALIASES)


# The architecture words found in image tags, as GOARCH / the kubernetes.io/arch node label spells them.
ARCH_WORDS = {
    "amd64": "amd64",
    "x86_64": "amd64",
    "x86-64": "amd64",
    "x64": "amd64",
    "arm64": "arm64",
    "arm64v8": "arm64",
    "aarch64": "arm64",
    "arm": "arm",
    "armhf": "arm",
    "armv7": "arm",
    "armv7l": "arm",
    "arm32v7": "arm",
    "arm32v6": "arm",
    "armv6": "arm",
    "armel": "arm",
    "386": "386",
    "i386": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
_SPLIT = re.compile(r"([-_])")


def tag_arch(tag: str) -> tuple[str, str] | None:
    """(architecture, the tag without it) when one ``-``/``_``-separated word of the tag names an
    architecture: ``3.2.0-arm64`` -> (arm64, 3.2.0), ``arm64v8-3.2.0`` -> (arm64, 3.2.0),
    ``1.0-linux-amd64`` -> (amd64, 1.0)."""
    words = _SPLIT.split(tag)  # words at even indexes, separators at odd ones
    found = [i for i in range(0, len(words), 2) if words[i].lower() in ARCH_WORDS]
    if len(found) != 1:
        return None
    i = found[0]
    lo = i - 2 if i >= 2 and words[i - 2].lower() == "linux" else i
    # drop the word(s) with the separator before them, or after them at the start of the tag
    kept = words[: lo - 1] + words[i + 1 :] if lo > 0 else words[i + 2 :]
    return ARCH_WORDS[words[i].lower()], "".join(kept)
