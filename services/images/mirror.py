"""Image references under a mirror: `mirrored(ref, mirror)`, a pure function.

The rule: the registry host is replaced by the mirror; the repository path, the tag and the digest stay.

    quay.io/prometheus/prometheus:v3.5.0   under localhost:5001 -> localhost:5001/prometheus/prometheus:v3.5.0
    docker.io/library/postgres:15.13-alpine                      -> localhost:5001/library/postgres:15.13-alpine
    postgres:15.13-alpine (Docker's short form, same image)      -> localhost:5001/library/postgres:15.13-alpine
    kindest/node:v1.35.8@sha256:07b2...                          -> localhost:5001/kindest/node:v1.35.8@sha256:07b2...

- docker.io images keep the `library/` of the official images: that is their path on the registry,
  the path a registry mirror (containerd's `hosts.toml`, `registry-mirrors`) asks the mirror for, and
  so the path under which a mirror that was filled by copying them serves them.
- A digest is kept. A digest names content, so the mirror must hold that very image (copied, not
  rebuilt): an image built here has a digest of its own. `mlplat images build` therefore refuses to
  stand in for a digest-pinned reference.
- Keeping tags and digests means the pinned-image rules hold under a mirror exactly as without one.
- The host is dropped, so two images with the same path on two registries would meet under a mirror;
  none of the platform's do (tests/unit/test_images_catalog.py checks it).
- A reference already under the mirror is returned as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ImageName", "MirrorError", "mirrored", "parse"]

DOCKER_HUB = "docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_MIRROR = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")
_REFERENCE = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[._/:-][a-z0-9]+)*?)"  # registry/path, lowercase (the registry may carry a port)
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


class MirrorError(ValueError):
    """A reference or mirror that cannot be parsed; the message says what a valid one looks like."""


@dataclass(frozen=True)
class ImageName:
    registry: str  # "quay.io", "localhost:5001"; "docker.io" when the reference names none
    path: str  # "prometheus/prometheus"; "library/postgres" for Docker's official images
    tag: str = ""
    digest: str = ""

    def under(self, registry: str) -> str:
        """The reference with another registry in front of the same path, tag and digest."""
        return (
            f"{registry}/{self.path}"
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def parse(ref: str) -> ImageName:
    """Split a reference the way Docker does: the first component is a registry when it has a dot or a
    port or is `localhost`; otherwise the image is on Docker Hub, where one-component names are `library/`."""
    match = _REFERENCE.match(ref)
    if not match:
        raise MirrorError(
            f"{ref!r} is not an image reference: write [registry/]path[:tag][@sha256:<digest>] in lowercase, "
            'e.g. "quay.io/prometheus/prometheus:v3.5.0"'
        )
    name = match["name"]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
    if ":" in path:  # a colon left in the path means the regex took a tag for part of the name
        raise MirrorError(f"{ref!r}: only the registry may carry a port, and the tag comes last (path:tag)")
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return ImageName(registry, path, match["tag"] or "", match["digest"] or "")


def mirrored(ref: str, mirror: str) -> str:
    """`ref` as the mirror serves it (see the module docstring for the rule)."""
    if not _MIRROR.match(mirror):
        raise MirrorError(
            f"mirror {mirror!r} is not a registry: write a lowercase host with an optional port and path, "
            'without a scheme or a trailing "/" (e.g. "localhost:5001" or "registry.example.com/mirror")'
        )
    if ref.startswith(f"{mirror}/"):
        return ref
    return parse(ref).under(mirror)
