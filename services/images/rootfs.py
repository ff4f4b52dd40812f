"""Debian base images made with debootstrap and `docker import`: the bottom of every image built here.

Where no image registry can be reached, even `FROM debian` fails; the one thing that works is
`FROM scratch`. debootstrap builds a Debian root file system from the Debian archive (reachable, as
package registries are), and `docker import` turns the folder into an image. That image plays the part
of `debian:bookworm-slim` (or of `python:3.11-slim`, with Python added) for the Dockerfiles here,
which take their base as a build argument and default to the upstream image for users with internet.

Contract: `ensure(rootfs)` returns a local image reference holding exactly `rootfs`'s packages. The
image carries the hash of its inputs (suite, variant, packages, the recipe below) as a label; an image
whose label matches is used as it is, so a base is built once. Downloaded packages are kept in
~/.cache/mlops-platform/images/debs, so building a second base downloads only what it adds.

The Debian mirror is not an input: any mirror serves the same suite. It is `http://deb.debian.org/debian`
unless MLPLAT_DEBIAN_MIRROR names another (a local mirror in an air-gapped network); the image's own apt
sources list that mirror with the suite's updates and security archives, for Dockerfiles that install
more. An extra CA (services/images/trust.py) reaches debootstrap's downloads through WGETRC and stays
out of the image.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.images import docker
from services.images.go_program import images_cache
from services.images.trust import BuildTrust

__all__ = ["DEBIAN", "INPUTS_LABEL", "PYTHON", "Rootfs", "RootfsError", "ensure", "mirrors"]

Log = Callable[[str], None]
INPUTS_LABEL = "org.mlops-platform.inputs"  # the hash of what an image was built from
_RECIPE = 1  # bump when the steps below change what ends up in the image
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RootfsError(RuntimeError):
    """debootstrap or the import failed; the message names the step and its log."""


@dataclass(frozen=True)
class Rootfs:
    """A Debian root file system: a suite, a variant, the packages added to it, and its image name."""

    name: str  # the image's repository: mlops-platform/<name>
    packages: tuple[str, ...]
    suite: str = "bookworm"
    variant: str = "minbase"  # essential packages and apt only: the smallest base debootstrap makes

    def key(self) -> str:
        inputs = {"suite": self.suite, "variant": self.variant, "packages": sorted(self.packages), "recipe": _RECIPE}
        return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def ref(self) -> str:
        return f"mlops-platform/{self.name}:{self.suite}"


# debian:bookworm-slim's part: certificates, time zones; busybox-static for the small images that
# copy one static shell from it (services/images/dockerfiles/busybox.Dockerfile).
DEBIAN = Rootfs("debian", ("ca-certificates", "tzdata", "busybox-static"))
# python:3.11-slim's part, for services/Dockerfile: Debian's Python 3.11, venv, and `python`.
PYTHON = Rootfs("python", ("ca-certificates", "python3", "python3-venv", "python-is-python3"))


def mirrors(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(Debian mirror, security mirror): MLPLAT_DEBIAN_MIRROR and MLPLAT_DEBIAN_SECURITY_MIRROR, or Debian's."""
    environ = os.environ if environ is None else environ
    mirror = environ.get("MLPLAT_DEBIAN_MIRROR") or "http://deb.debian.org/debian"
    security = environ.get("MLPLAT_DEBIAN_SECURITY_MIRROR") or "http://deb.debian.org/debian-security"
    return mirror.rstrip("/"), security.rstrip("/")


def ensure(rootfs: Rootfs, trust: BuildTrust | None = None, log: Log | None = None) -> str:
    """The image of `rootfs`, built unless an image with the same inputs exists; returns its reference."""
    trust = trust or BuildTrust()
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    if docker.label(rootfs.ref, INPUTS_LABEL) == rootfs.key():
        return rootfs.ref
    if shutil.which("debootstrap") is None:
        raise RootfsError("building base images needs debootstrap: apt-get install debootstrap (and run as root)")
    if os.geteuid() != 0:
        raise RootfsError(f"debootstrap makes {rootfs.ref} as root (it creates device files and chroots): run as root")
    cache = images_cache()
    folder, logs, debs = cache / "rootfs" / rootfs.name, cache / "logs", cache / "debs"
    for path in (logs, debs):
        path.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"rootfs-{rootfs.name}.log"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    mirror, security = mirrors()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    bundle = trust.bundle(cache / "trust")
    if bundle is not None:  # wget reads its CA file from a wgetrc; nothing of it lands in the folder
        wgetrc = cache / "trust" / "wgetrc"
        wgetrc.write_text(f"ca_certificate = {bundle}\n", encoding="ascii")
        env["WGETRC"] = str(wgetrc)
    log(f"images: debootstrap {rootfs.suite} ({rootfs.variant}) + {', '.join(rootfs.packages)} (log: {log_file})")
    try:
        docker.run_logged(
            ["debootstrap", f"--variant={rootfs.variant}", f"--include={','.join(rootfs.packages)}"]
            + [f"--cache-dir={debs}", rootfs.suite, str(folder), mirror],
            log_file,
            f"debootstrap {rootfs.name}",
            log,
            env=env,
        )
        _tidy(folder, rootfs.suite, mirror, security)
        changes = [f"ENV PATH={_PATH}", 'CMD ["bash"]', f"LABEL {INPUTS_LABEL}={rootfs.key()}"]
        docker.import_rootfs(folder, rootfs.ref, changes, log_file, log)
    except docker.DockerError as exc:
        raise RootfsError(str(exc)) from None
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)
    return rootfs.ref


def _tidy(folder: Path, suite: str, mirror: str, security: str) -> None:
    """What debian:*-slim leaves out: package lists, caches and logs; apt sources that include security fixes."""
    (folder / "etc" / "apt" / "sources.list").write_text(
        f"deb {mirror} {suite} main\ndeb {mirror} {suite}-updates main\ndeb {security} {suite}-security main\n",
        encoding="ascii",
    )
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/log/*.log"):
        for path in folder.glob(pattern):
            if path.is_file() and not path.is_symlink():
                path.unlink()
    (folder / "etc" / "machine-id").write_text("", encoding="ascii")
