"""`mlplat images build`: every image of the catalog that can be built here, built once, then pushed.

Order: the bases an image needs (debootstrap roots, then the static and busybox bases), the Go programs
(every module resolved on the proxy first: a refused one stops the build with one line naming it), then
the images. Each image is tagged with the reference it replaces and labelled with the hash of its
inputs (org.mlops-platform.inputs): its Dockerfile, the files copied into it, the recipe of the Go
program it ships, and the ids of the images it builds from. An image whose label matches is not built
again, and since a base keeps its id while its own inputs stay the same, nothing above it is either.

What the hash leaves out, on purpose: the Debian archive's state (an image from Debian's packages is
rebuilt when its recipe changes, not when Debian publishes a fix: `--rebuild` builds the images again
without Docker's layer cache, the debootstrap bases excepted) and the extra
CA (it changes how packages are downloaded, not what is installed).

With `push`, each image is also tagged under the mirror (services/images/mirror.py) and pushed; for the
local mirror (localhost:5001) the registry container is started first (services/images/registry.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.images import docker, go_program, registry, rootfs
from services.images.catalog import BASES, DOCKERFILES, ROOT, Base, Image
from services.images.mirror import mirrored, parse
from services.images.programs import PROGRAMS
from services.images.trust import BuildTrust

__all__ = ["BuildError", "Builder", "Outcome", "platform_context_files"]

Log = Callable[[str], None]
FILES = Path(__file__).resolve().parent / "files"
INPUTS_LABEL = rootfs.INPUTS_LABEL
_RECIPE = 1  # bump when this module changes what goes into an image
_BASE_ARGS = {"debian": "DEBIAN_IMAGE", "python": "PYTHON_IMAGE", "static": "STATIC_IMAGE", "busybox": "BUSYBOX_IMAGE"}
# What services/Dockerfile copies from the repository: the platform image's inputs.
_PLATFORM_CONTEXT = ("pyproject.toml", "constraints.txt", "README.md", "blueprints", "infra", "policies", "services")


class BuildError(RuntimeError):
    """An image cannot be built; the message names the image and what to do."""


@dataclass(frozen=True)
class Outcome:
    name: str
    ref: str
    result: str  # "built", "cached", "not built: <why>"
    seconds: float = 0.0
    size: int = 0  # bytes, as `docker images` reports them
    pushed: str = ""  # the reference under the mirror, when pushed
    note: str = ""  # e.g. the Debian package version inside


def platform_context_files(root: Path = ROOT) -> list[Path]:
    """The files services/Dockerfile copies, minus what .dockerignore keeps out of the context."""
    files: list[Path] = []
    for entry in _PLATFORM_CONTEXT:
        path = root / entry
        if path.is_file():
            files.append(path)
            continue
        files += sorted(
            p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    return files


def _digest(parts: Iterable[bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(hashlib.sha256(part).digest())
    return sha.hexdigest()[:16]


class Builder:
    """Builds bases, Go programs and images in dependency order; see the module docstring."""

    def __init__(self, trust: BuildTrust | None = None, log: Log | None = None, rebuild: bool = False):
        self.trust = trust or BuildTrust()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.rebuild = rebuild
        self.cache = go_program.images_cache()
        self.logs = self.cache / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        bundle = self.trust.bundle(self.cache / "trust")
        # Go's downloads read SSL_CERT_FILE; npm reads npm_config_cafile.
        self.host_env = {"SSL_CERT_FILE": str(bundle), "npm_config_cafile": str(bundle)} if bundle else {}
        self._bases: dict[str, str] = {}

    # --- bases ---------------------------------------------------------------------------------
    def base(self, name: str) -> str:
        """The base's reference, built first if needed (with the bases it needs)."""
        if name in self._bases:
            return self._bases[name]
        spec = next((base for base in BASES if base.name == name), None)
        if spec is None:
            raise BuildError(f"unknown base {name!r}; the bases are {', '.join(b.name for b in BASES)}")
        if spec.rootfs:
            ref = rootfs.ensure(rootfs.DEBIAN if spec.rootfs == "debian" else rootfs.PYTHON, self.trust, self.log)
        else:
            ref = self._build_base(spec)
        self._bases[name] = ref
        return ref

    def _build_base(self, spec: Base) -> str:
        args = {_BASE_ARGS[need]: self.base(need) for need in spec.needs}
        inputs = self._inputs(DOCKERFILES / spec.dockerfile, spec.files, (), args, "")
        if self.rebuild or docker.label(spec.ref, INPUTS_LABEL) != inputs:
            context = self._context(spec.name, DOCKERFILES / spec.dockerfile, spec.files, {})
            self.log(f"images: building the base {spec.ref} (plays {spec.plays})")
            docker.build(
                context, context / "Dockerfile", spec.ref, build_args=args, labels={INPUTS_LABEL: inputs},
                log_file=self.logs / f"base-{spec.name}.log", log=self.log, no_cache=self.rebuild,
            )  # fmt: skip
        return spec.ref

    # --- images --------------------------------------------------------------------------------
    def resolve_modules(self, images: Sequence[Image]) -> None:
        """Ask the proxy for every Go module the images need: one line per refused module, before any compile."""
        programs = [PROGRAMS[image.program] for image in images if image.program]
        go_program.resolve(programs, self.log, self.host_env)

    def build(self, image: Image) -> Outcome:
        if not image.built_here:
            raise BuildError(f"{image.name}: {image.not_built}")
        if parse(image.ref).digest:
            raise BuildError(
                f"{image.name}: {image.ref} is pinned by digest, and an image built here has a digest of its "
                "own: pin it by tag to build it here, or copy the original into the mirror"
            )
        started = time.monotonic()
        args = {_BASE_ARGS[image.base]: self.base(image.base)} if image.base else {}
        binaries: dict[str, Path] = {}
        module_dir: Path | None = None
        if image.program:
            program = PROGRAMS[image.program]
            binaries = go_program.build(program, self.log, self.host_env)
            if image.module_files:
                module_dir = go_program.source(program, self.log, self.host_env)
        dockerfile = (DOCKERFILES / image.dockerfile).resolve()
        program_key = PROGRAMS[image.program].key() if image.program else ""
        context_key = _digest(p.read_bytes() for p in platform_context_files()) if image.name == "platform" else ""
        inputs = self._inputs(dockerfile, image.files, image.module_files, args, program_key + context_key)
        if not self.rebuild and docker.label(image.ref, INPUTS_LABEL) == inputs:
            return self._outcome(image, "cached", 0.0)
        labels = {
            INPUTS_LABEL: inputs,
            "org.opencontainers.image.version": image.version,
            "org.opencontainers.image.source": image.source,
            "org.mlops-platform.built-as": image.how,
        }
        if image.name == "platform":
            context = ROOT
        else:
            extra = {name: path for name, path in binaries.items()}
            extra.update({name: module_dir / source for source, name in image.module_files} if module_dir else {})
            context = self._context(image.name, dockerfile, image.files, extra)
            dockerfile = context / "Dockerfile"
        self.log(f"images: building {image.ref} ({image.how})")
        build_args = {**args, **self.trust.build_args()}
        docker.build(
            context, dockerfile, image.ref, build_args=build_args, labels=labels,
            log_file=self.logs / f"image-{image.name}.log", log=self.log, no_cache=self.rebuild,
        )  # fmt: skip
        return self._outcome(image, "built", time.monotonic() - started)

    def push(self, outcome: Outcome, mirror: str) -> Outcome:
        """Tag the image under the mirror and push it; the local mirror's registry is started first."""
        target = mirrored(outcome.ref, mirror)
        if mirror == registry.LOCAL_MIRROR:
            from infra.images import REGISTRY

            registry.ensure_running(REGISTRY, self.log)
        docker.docker("tag", outcome.ref, target)
        docker.push(target, self.logs / "push.log", self.log)
        return Outcome(**{**outcome.__dict__, "pushed": target})

    # --- helpers -------------------------------------------------------------------------------
    def _inputs(
        self,
        dockerfile: Path,
        files: Sequence[str],
        module_files: Sequence[tuple[str, str]],
        base_args: dict[str, str],
        extra: str,
    ) -> str:
        base_ids = {arg: docker.image_id(ref) or "" for arg, ref in sorted(base_args.items())}
        parts = [
            json.dumps(
                {"recipe": _RECIPE, "bases": base_ids, "module_files": list(module_files), "extra": extra}
            ).encode(),
            dockerfile.read_bytes(),
            *((FILES / name).read_bytes() for name in files),
        ]
        return _digest(parts)

    def _context(self, name: str, dockerfile: Path, files: Sequence[str], extra: dict[str, Path]) -> Path:
        """A build context of its own: the Dockerfile, the repository's files and the built binaries."""
        context = self.cache / "context" / name
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        shutil.copy2(dockerfile, context / "Dockerfile")
        for file in files:
            shutil.copy2(FILES / file, context / file)
        for target, source in extra.items():
            shutil.copy2(source, context / target)
        return context

    def _outcome(self, image: Image, result: str, seconds: float) -> Outcome:
        info = docker.inspect(image.ref) or {}
        note = ""
        if image.debian_package:
            done = docker.docker(
                "run", "--rm", "--entrypoint", "dpkg-query", image.ref, "-W", "-f", "${Version}", image.debian_package,
                check=False,
            )  # fmt: skip
            note = f"{image.debian_package} {done.stdout.strip()}" if done.returncode == 0 else ""
        return Outcome(image.name, image.ref, result, seconds, int(info.get("Size", 0)), note=note)
