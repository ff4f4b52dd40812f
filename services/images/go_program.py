"""Go programs the images ship, built from the Go module proxy at the pinned release.

Contract: `build(program)` leaves each of the program's binaries in a store keyed by everything that
decides the binary (module, version, packages, build tags, version stamps), and returns their paths.
A stored binary is never rebuilt. `resolve(programs)` asks the proxy for every module first, so a module
it refuses stops the whole build before any long compile, with one line naming that module.

The builds use the engine toolchain's Go setup (services/engine/toolchain.py): the same GOCACHE and
GOMODCACHE, CGO off, `-trimpath`, no toolchain downloads, a heartbeat on long steps. Packages the
toolchain already compiled (promtool shares most of Prometheus; kube-state-metrics and metrics-server
share client-go with Kubernetes) come out of that cache instead of being compiled again.

Each build copies the module out of the read-only module cache into a work tree, because some builds
write into it (Prometheus's web UI is built with npm and embedded), and runs the release's own build
steps there: what goes into the binary is what upstream's release build puts in, from the same source.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.engine import toolchain
from services.engine.toolchain import ModuleUnavailable, ToolchainError

__all__ = [
    "GoBinary",
    "GoProgram",
    "ModuleUnavailable",
    "ToolchainError",
    "build",
    "images_cache",
    "resolve",
    "source",
    "stamps",
]

Log = Callable[[str], None]
# A step run in the work tree before `go build` (the web UI's npm build): (tree, go runner, log file, log).
# The runner's environment carries this build's variables (npm_config_cafile with an extra CA).
Prepare = Callable[[Path, "toolchain._Go", Path, Log], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def images_cache() -> Path:
    """~/.cache/mlops-platform/images: beside the toolchain's cache, never inside the repository."""
    return toolchain.cache_root().parent / "images"


@dataclass(frozen=True)
class GoBinary:
    name: str
    package: str  # the main package, relative to the module root


@dataclass(frozen=True)
class GoProgram:
    """One module and the binaries an image ships from it, built the way its release is built."""

    module: str
    version: str  # the module version the proxy serves ("v0.305.0" is Prometheus 3.5.0)
    binaries: tuple[GoBinary, ...]
    ldflags: tuple[str, ...] = ()  # version stamps (-X ...), as the release's Makefile or .promu.yml sets them
    tags: tuple[str, ...] = ()  # build tags of the release build (netgo, builtinassets)
    prepare: Prepare | None = field(default=None, compare=False)
    prepare_inputs: tuple[str, ...] = ()  # what decides the prepare step's output, for the cache key

    def key(self) -> str:
        """Everything that decides the binaries: a change to any of it builds them again."""
        recipe = {
            "module": self.module,
            "version": self.version,
            "binaries": [[b.name, b.package] for b in self.binaries],
            "ldflags": list(self.ldflags),
            "tags": list(self.tags),
            "prepare": list(self.prepare_inputs),
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]

    def store(self, cache: Path | None = None) -> Path:
        name = self.module.replace("/", "_")
        return (cache or images_cache()) / "go" / f"{name}@{self.version}-{self.key()}"


def _go(log: Log, env: Mapping[str, str] | None) -> toolchain._Go:
    """The toolchain's `go` (its caches and flags), plus this build's variables (the extra CA's bundle)."""
    go = toolchain._Go(toolchain.cache_root(), log)
    go.env.update(env or {})
    return go


def resolve(programs: Iterable[GoProgram], log: Log = _stderr, env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Download every module that is not built yet; {module@version: source folder}.

    Raises ModuleUnavailable with one line per module the proxy refuses, before anything compiles."""
    go = _go(log, env)
    sources: dict[str, Path] = {}
    refused: list[str] = []
    for program in programs:
        wanted = f"{program.module}@{program.version}"
        if wanted in sources or _complete(program):
            continue
        try:
            sources[wanted] = go.download(program.module, program.version)
        except ModuleUnavailable as exc:
            refused.append(str(exc))
    if refused:
        raise ModuleUnavailable("\n".join(refused))
    return sources


def source(program: GoProgram, log: Log = _stderr, env: Mapping[str, str] | None = None) -> Path:
    """The module's source folder in the module cache (files an image copies from it: examples, licences)."""
    return _go(log, env).download(program.module, program.version)


def _complete(program: GoProgram) -> bool:
    return all((program.store() / binary.name).exists() for binary in program.binaries)


def build(program: GoProgram, log: Log = _stderr, env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """{binary name: path}, building what the store lacks (see the module docstring)."""
    store = program.store()
    paths = {binary.name: store / binary.name for binary in program.binaries}
    if _complete(program):
        return paths
    if shutil.which("go") is None:
        raise ToolchainError("building the images' Go programs needs Go 1.26 or newer on PATH (https://go.dev/dl/)")
    source = resolve([program], log, env)[f"{program.module}@{program.version}"]
    go = _go(log, env)
    logs = images_cache() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"{program.module.replace('/', '_')}@{program.version}.log"
    tree = images_cache() / "src" / f"{program.module.replace('/', '_')}@{program.version}"
    log(f"images: {program.module} {program.version}: preparing a writable copy (log: {log_file})")
    toolchain._writable_copy(source, tree)
    try:
        if program.prepare is not None:
            program.prepare(tree, go, log_file, log)
        store.mkdir(parents=True, exist_ok=True)
        for binary in program.binaries:
            _compile(program, binary, tree, go, log_file, store, log)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return paths


def _compile(
    program: GoProgram, binary: GoBinary, tree: Path, go: toolchain._Go, log_file: Path, store: Path, log: Log
) -> None:
    log(f"images: building {binary.name} from {program.module} {program.version}")
    started = time.monotonic()
    partial = store / f".{binary.name}.partial"
    argv = ["go", "build", "-trimpath", f"-ldflags={' '.join(['-s', '-w', *program.ldflags])}"]
    if program.tags:
        argv.append(f"-tags={','.join(program.tags)}")
    go.run([*argv, "-o", str(partial), binary.package], tree, log_file, f"go build {binary.name}")
    partial.rename(store / binary.name)  # atomic: a stored binary is always a complete one
    log(f"  built {binary.name} in {time.monotonic() - started:.0f}s")


def stamps(package: str, values: Mapping[str, str]) -> tuple[str, ...]:
    """`-X package.Key=value` flags, the way release builds stamp versions into a binary."""
    return tuple(f"-X {package}.{key}={value}" for key, value in values.items())
