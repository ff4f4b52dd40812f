"""The pinned toolchain, built from source: `go build` from the Go module proxy into a cache.

Contract: `build(names)` leaves every requested binary in `bin_dir()`
(~/.cache/mlops-platform/toolchain/<hash of the pins>/bin) at the version `infra/toolchain.toml` pins,
and returns what it did per binary: taken from PATH (already at the pinned version), cached (never
rebuilt), or built. Before compiling anything it resolves every requested module on the proxy, so a
module the proxy cannot serve stops the build at once with one line that names it (`ModuleUnavailable`).

Each component is built once into a store keyed by its own module version
(`toolchain/store/<component>@<version>/`); `bin/` of a pin set only links to it. Changing one pin
rebuilds that component and nothing else.

How a binary is built, the way its upstream release build does it:
- the module is downloaded (`go mod download`) into GOMODCACHE and copied to a writable work tree;
- local `replace` directives (`../sdk`, `./staging/src/k8s.io/api`, `../api`) point into directories a
  module zip never contains (nested modules are cut out of it), so each one is dropped and the module is
  required at its published version instead (`go mod edit`); replacements by other modules (forks) stay;
- generation steps a release runs come next (the provider's embedded schema);
- `go build -trimpath` with the upstream version stamps as `-ldflags -X`, CGO off, as upstream ships.
GOCACHE and GOMODCACHE live in ~/.cache/mlops-platform/toolchain/go, shared by every pin set, so a warm
rebuild compiles nothing. The trade-off: a cold build is long (see docs/engine.md for measured times),
in exchange for binaries no registry ships and a version set that is exactly the one pinned.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Binary",
    "BuildResult",
    "Component",
    "GROUPS",
    "KWOK_STAGES",
    "ModuleUnavailable",
    "Pin",
    "ToolchainError",
    "bin_dir",
    "build",
    "cache_root",
    "components",
    "load_pins",
    "local_replacements",
    "pins_hash",
    "PulumiInstall",
    "pulumi_install",
    "select",
]

ROOT = Path(__file__).resolve().parents[2]
PINS_FILE = ROOT / "infra" / "toolchain.toml"
HEARTBEAT_SECONDS = 30.0
_RELEASE = re.compile(r"\d+\.\d+\.\d+")
_MODULE_VERSION = re.compile(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?")

KWOK_STAGES = "kwok-stages.yaml"
KWOK_FAST_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)

Log = Callable[[str], None]


class ToolchainError(Exception):
    """A build step failed; the message names the component, the step and the log to read."""


class ModuleUnavailable(ToolchainError):
    """The Go module proxy refuses a module version (not published, or not served by this proxy)."""


@dataclass(frozen=True)
class Pin:
    """One table of infra/toolchain.toml."""

    version: str  # the release, "1.35.8": what the binary reports and is stamped with
    module: str | None = None  # the Go module version to build when the release is not one ("v4.0.0-2026...")

    @property
    def module_version(self) -> str:
        return self.module or f"v{self.version}"


@dataclass(frozen=True)
class Binary:
    name: str
    package: str  # the main package, relative to the module root
    version_args: tuple[str, ...] = ()  # how to ask a binary on PATH for its version; () = never reuse
    version_text: str = ""  # what that answer must contain to count as the pinned version


@dataclass(frozen=True)
class Component:
    """One module of the toolchain and the binaries built from it."""

    name: str
    module: str
    version: str  # the module version, as the proxy names it ("v1.35.8")
    binaries: tuple[Binary, ...]
    ldflags: tuple[str, ...] = ()
    published_version: Callable[[str], str] | None = None  # version of a locally replaced module
    generate: tuple[tuple[str, ...], ...] = ()  # commands run in the work tree before `go build`
    env: Mapping[str, str] = field(default_factory=dict)  # for every step: generate and build
    # Data files the binaries need, from the module as released: (files in the module, name in bin/),
    # several files concatenated as a multi-document YAML.
    files: tuple[tuple[tuple[str, ...], str], ...] = ()


@dataclass(frozen=True)
class BuildResult:
    binary: str
    how: str  # "path", "cached" or "built"
    path: Path
    seconds: float = 0.0


def load_pins(path: Path = PINS_FILE) -> dict[str, Pin]:
    """{component: Pin} from infra/toolchain.toml; every table needs a release `version`."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ToolchainError(f"{path}: not valid TOML: {exc}") from None
    pins: dict[str, Pin] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ToolchainError(f"{path}: {name} must be a table ([{name}]) with a version")
        unknown = sorted(set(table) - {"version", "module"})
        if unknown:
            raise ToolchainError(f"{path}: [{name}] has unknown keys {unknown}: only version and module are read")
        version, module = table.get("version"), table.get("module")
        if not isinstance(version, str) or not _RELEASE.fullmatch(version):
            raise ToolchainError(f'{path}: [{name}].version must be a release like "1.35.8", got {version!r}')
        if module is not None and (not isinstance(module, str) or not _MODULE_VERSION.fullmatch(module)):
            raise ToolchainError(
                f'{path}: [{name}].module must be a Go module version like "v1.2.3" or a pseudo-version, got {module!r}'
            )
        pins[name] = Pin(version, module)
    return pins


def pins_hash(pins: Mapping[str, Pin]) -> str:
    flat = {name: [pin.version, pin.module] for name, pin in sorted(pins.items())}
    return hashlib.sha256(json.dumps(flat).encode()).hexdigest()[:12]


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-platform" / "toolchain"


def bin_dir(pins: Mapping[str, Pin] | None = None, environ: Mapping[str, str] | None = None) -> Path:
    return cache_root(environ) / pins_hash(load_pins() if pins is None else pins) / "bin"


def components(pins: Mapping[str, Pin]) -> dict[str, Component]:
    """The build recipes, one per table of infra/toolchain.toml."""
    pulumi, k8s = pins["pulumi"].version, pins["kubernetes"].version
    provider, etcd, kwok = pins["pulumi-kubernetes"], pins["etcd"].version, pins["kwok"].version
    prometheus = pins["prometheus"].version
    opa = pins["opa"].version
    major, minor, _ = k8s.split(".")
    k8s_stamps = {
        "gitVersion": f"v{k8s}",
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",  # reproducible: the cache key is the version, not the day
    }
    k8s_ldflags = tuple(
        f"-X {package}.{key}={value}"
        for key, value in k8s_stamps.items()
        for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")
    )
    kube = f"Kubernetes v{k8s}"
    return {
        "pulumi": Component(
            name="pulumi",
            module="github.com/pulumi/pulumi/pkg/v3",
            version=pins["pulumi"].module_version,
            binaries=(Binary("pulumi", "./cmd/pulumi", ("version",), f"v{pulumi}"),),
            ldflags=(f"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v{pulumi}",),
            published_version=lambda module: f"v{pulumi}",  # `../sdk` is github.com/pulumi/pulumi/sdk/v3
        ),
        "pulumi-kubernetes": Component(
            name="pulumi-kubernetes",
            module="github.com/pulumi/pulumi-kubernetes/provider/v4",
            version=provider.module_version,
            binaries=(Binary("pulumi-resource-kubernetes", "./cmd/pulumi-resource-kubernetes"),),
            ldflags=(f"-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version={provider.version}",),
            # `../sdk` (the Go SDK, which the provider's YAML and Helm code imports) stays at the version
            # go.mod already requires: dropping the replace is enough.
            published_version=None,
            # main.go embeds schema-embed.json, which this step writes from schema.json at release time,
            # with the release version set in it (upstream: `VERSION=<version> go generate`).
            generate=(("go", "generate", "./cmd/pulumi-resource-kubernetes"),),
            env={"VERSION": provider.version},
        ),
        "etcd": Component(
            name="etcd",
            module="go.etcd.io/etcd/server/v3",
            version=pins["etcd"].module_version,
            binaries=(Binary("etcd", ".", ("--version",), f"etcd Version: {etcd}"),),
            ldflags=(f"-X go.etcd.io/etcd/api/v3/version.GitSHA=v{etcd}",),
            published_version=lambda module: f"v{etcd}",  # ../api, ../client/v3, ... release together
        ),
        "kubernetes": Component(
            name="kubernetes",
            module="k8s.io/kubernetes",
            version=pins["kubernetes"].module_version,
            binaries=(
                Binary("kube-apiserver", "./cmd/kube-apiserver", ("--version",), kube),
                Binary("kube-controller-manager", "./cmd/kube-controller-manager", ("--version",), kube),
                Binary("kube-scheduler", "./cmd/kube-scheduler", ("--version",), kube),
                Binary("kubectl", "./cmd/kubectl", ("version", "--client"), f"Client Version: v{k8s}"),
            ),
            ldflags=k8s_ldflags,
            # ./staging/src/k8s.io/api is published as k8s.io/api v0.<minor>.<patch>.
            published_version=lambda module: f"v0.{k8s.split('.', 1)[1]}",
        ),
        "kwok": Component(
            name="kwok",
            module="sigs.k8s.io/kwok",
            version=pins["kwok"].module_version,
            binaries=(Binary("kwok", "./cmd/kwok", ("--version",), f"v{kwok}"),),
            ldflags=(f"-X sigs.k8s.io/kwok/pkg/consts.Version=v{kwok}",),
            # kwok does nothing without Stages: these are the release's "fast" set (kustomize/stage/fast),
            # the one kwokctl runs by default: nodes become Ready and keep a lease, pods become Ready at
            # once, a Job's pods complete, deleted pods go.
            files=((KWOK_FAST_STAGES, KWOK_STAGES),),
        ),
        "prometheus": Component(
            name="prometheus",
            module="github.com/prometheus/prometheus",
            version=pins["prometheus"].module_version,
            binaries=(Binary("promtool", "./cmd/promtool", ("--version",), f"promtool, version {prometheus}"),),
            ldflags=(
                f"-X github.com/prometheus/common/version.Version={prometheus}",
                "-X github.com/prometheus/common/version.Branch=HEAD",
            ),
        ),
        # Open Policy Agent for the compliance controls (policies/compliance/, ADR 0024). No ldflags: the
        # release writes its version into v1/version/version.go, and leaving the version-check URL unset
        # (upstream's default) keeps `opa run` from calling home.
        "opa": Component(
            name="opa",
            module="github.com/open-policy-agent/opa",
            version=pins["opa"].module_version,
            binaries=(Binary("opa", ".", ("version",), f"Version: {opa}"),),
        ),
    }


GROUPS = {
    "control-plane": ("etcd", "kubernetes", "kwok"),
    "pulumi": ("pulumi", "pulumi-kubernetes"),
    "checks": ("prometheus",),
    "policy": ("opa",),
}


def select(recipes: Mapping[str, Component], names: Iterable[str] | None) -> list[Component]:
    """Components by name or group ("control-plane", "pulumi"); None means all of them."""
    if names is None:
        return list(recipes.values())
    chosen: list[str] = []
    for name in names:
        for member in GROUPS.get(name, (name,)):
            if member not in recipes:
                known = ", ".join([*recipes, *GROUPS])
                raise ToolchainError(f"unknown toolchain component {member!r}; choose from: {known}")
            if member not in chosen:
                chosen.append(member)
    return [recipes[name] for name in chosen]


def local_replacements(go_mod_json: Mapping) -> list[str]:
    """Modules a go.mod replaces with a local directory (`./x`, `../x`): what a module zip cannot build."""
    return [
        entry["Old"]["Path"]
        for entry in go_mod_json.get("Replace") or []
        if entry["New"].get("Path", "").startswith(("./", "../")) and not entry["New"].get("Version")
    ]


class _Go:
    """`go` with the toolchain's caches; each step's output goes to one log file per component."""

    def __init__(self, cache: Path, log: Log):
        self.log = log
        self.env = {
            **os.environ,
            "GOMODCACHE": str(cache / "go" / "mod"),
            "GOCACHE": str(cache / "go" / "build"),
            "GOFLAGS": "-mod=mod -buildvcs=false",
            "GOTOOLCHAIN": "local",  # never download another Go: the machine's must accept the go line
            "GOWORK": "off",
            "CGO_ENABLED": "0",
        }

    def download(self, module: str, version: str) -> Path:
        completed = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            env=self.env,
            cwd=Path.home(),
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            info = json.loads(completed.stdout)
        except json.JSONDecodeError:
            info = {"Error": (completed.stderr or "no output").strip()}
        if info.get("Error") or completed.returncode != 0:
            reason = " ".join(str(info.get("Error") or completed.stderr).split())
            reason = reason.removeprefix(f"{module}@{version}: ")  # go repeats what we asked for
            raise ModuleUnavailable(f"the Go module proxy cannot serve {module}@{version}: {reason}")
        return Path(info["Dir"])

    def run(self, argv: Sequence[str], cwd: Path, log_file: Path, what: str, env: Mapping[str, str] = {}) -> None:
        """Run a long step, appending to its log and printing a heartbeat so a cold build is not silent."""
        started = time.monotonic()
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                self.log(f"  ... {what}: {time.monotonic() - started:.0f}s")

        ticker = threading.Thread(target=heartbeat, daemon=True)
        ticker.start()
        try:
            with open(log_file, "a", encoding="utf-8") as out:
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                completed = subprocess.run(
                    ["nice", "-n", "10", *argv],
                    cwd=cwd,
                    env={**self.env, **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
        finally:
            done.set()
            ticker.join()
        if completed.returncode != 0:
            tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            raise ToolchainError(f"{what} failed (exit {completed.returncode}); log: {log_file}\n" + "\n".join(tail))


def _on_path(binary: Binary, own_dir: Path) -> Path | None:
    """A binary on PATH (outside our cache) that reports the pinned version, if there is one."""
    if not binary.version_args:
        return None
    found = shutil.which(binary.name)
    if not found or Path(found).resolve().parent == own_dir.resolve():
        return None
    try:
        answer = subprocess.run([found, *binary.version_args], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(found) if binary.version_text in answer.stdout + answer.stderr else None


def _writable_copy(source: Path, target: Path) -> None:
    """The module cache is read-only; `go mod edit` and `go generate` need a tree of our own."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True)
    for folder, _, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)


def _point_replacements_at_published(component: Component, tree: Path, go: _Go, log_file: Path) -> list[str]:
    go_mod = json.loads(
        subprocess.run(
            ["go", "mod", "edit", "-json"], cwd=tree, env=go.env, capture_output=True, text=True, check=True
        ).stdout
    )
    replaced = local_replacements(go_mod)
    if not replaced:
        return []
    required = {entry["Path"]: entry["Version"] for entry in go_mod.get("Require") or []}
    edits = [f"-dropreplace={module}" for module in replaced]
    for module in replaced:
        if module not in required:
            continue
        if component.published_version is not None:
            edits.append(f"-require={module}@{component.published_version(module)}")
        elif required[module] == "v0.0.0":  # a placeholder: the local copy was the only source
            raise ToolchainError(
                f"{component.name}: go.mod requires {module} v0.0.0 from a local replace; the recipe must name "
                "its published version (Component.published_version)"
            )
    go.run(["go", "mod", "edit", *edits], tree, log_file, f"{component.name}: go mod edit")
    return replaced


def _store(cache: Path, component: Component) -> Path:
    """Where one component's binaries are kept: keyed by its own module version, shared by every pin set."""
    return cache / "store" / f"{component.name}@{component.version}"


def build(
    names: Iterable[str] | None = None,
    *,
    pins: Mapping[str, Pin] | None = None,
    cache: Path | None = None,
    log: Log = lambda line: print(line, file=sys.stderr, flush=True),
) -> list[BuildResult]:
    """Make every requested binary available in bin_dir(); see the module docstring."""
    pins = load_pins() if pins is None else dict(pins)
    cache = cache_root() if cache is None else cache
    target = cache / pins_hash(pins) / "bin"
    logs = cache / "logs"
    target.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    go = _Go(cache, log)
    results: list[BuildResult] = []
    to_build: list[tuple[Component, list[Binary]]] = []

    for component in select(components(pins), names):
        missing: list[Binary] = []
        for binary in component.binaries:
            link, stored = target / binary.name, _store(cache, component) / binary.name
            if link.exists():
                results.append(BuildResult(binary.name, "cached", link))
                continue
            if link.is_symlink():  # it points at something gone (a binary removed from PATH)
                link.unlink()
            if stored.exists():
                link.symlink_to(stored)
                results.append(BuildResult(binary.name, "cached", link))
            elif found := _on_path(binary, target):
                link.symlink_to(found)
                results.append(BuildResult(binary.name, "path", found))
            else:
                missing.append(binary)
        for _, name in component.files:
            link, stored = target / name, _store(cache, component) / name
            if not link.exists() and stored.exists():
                link.unlink(missing_ok=True)
                link.symlink_to(stored)
        if missing or any(not (target / name).exists() for _, name in component.files):
            to_build.append((component, missing))

    if to_build and shutil.which("go", path=go.env.get("PATH")) is None:
        names = ", ".join(binary.name for _, missing in to_build for binary in missing)
        raise ToolchainError(
            f"building {names} needs the Go toolchain, and `go` is not on PATH: install Go 1.26 or newer "
            "(https://go.dev/dl/), then run `make toolchain` again"
        )

    # Resolve every module first: an unservable one stops the build before any long compile starts,
    # with one line per module the proxy refuses.
    sources: dict[str, Path] = {}
    refused: list[str] = []
    for component, _ in to_build:
        try:
            sources[component.name] = go.download(component.module, component.version)
        except ModuleUnavailable as exc:
            refused.append(str(exc))
    if refused:
        raise ModuleUnavailable("\n".join(refused))

    for component, missing in to_build:
        log_file = logs / f"{component.name}@{component.version}.log"
        store = _store(cache, component)
        store.mkdir(parents=True, exist_ok=True)
        for sources_in_module, name in component.files:
            documents = [(sources[component.name] / path).read_text(encoding="utf-8") for path in sources_in_module]
            partial = store / f".{name}.partial"
            partial.write_text("\n---\n".join(doc.strip() for doc in documents) + "\n", encoding="utf-8")
            partial.rename(store / name)
            (target / name).unlink(missing_ok=True)
            (target / name).symlink_to(store / name)
        if not missing:
            continue
        tree = cache / "src" / f"{component.name}@{component.version}"
        log(f"toolchain: {component.name} {component.version}: preparing a writable copy of {component.module}")
        _writable_copy(sources[component.name], tree)
        replaced = _point_replacements_at_published(component, tree, go, log_file)
        if replaced:
            log(f"  {len(replaced)} local replace directives now point at published versions")
        for command in component.generate:
            go.run(command, tree, log_file, f"{component.name}: {' '.join(command)}", component.env)
        for binary in missing:
            log(f"toolchain: building {binary.name} {component.version} (log: {log_file})")
            started = time.monotonic()
            partial = store / f".{binary.name}.partial"
            ldflags = " ".join(["-s", "-w", *component.ldflags])
            go.run(
                ["go", "build", "-trimpath", f"-ldflags={ldflags}", "-o", str(partial), binary.package],
                tree,
                log_file,
                f"go build {binary.name}",
                component.env,
            )
            partial.rename(store / binary.name)  # atomic: a stored binary is always a complete one
            (target / binary.name).symlink_to(store / binary.name)
            seconds = time.monotonic() - started
            log(f"  built {binary.name} in {seconds:.0f}s")
            results.append(BuildResult(binary.name, "built", target / binary.name, seconds))
        shutil.rmtree(tree)  # the work tree is only needed while building; the caches keep the speed
    if "pulumi-kubernetes" in {component.name for component in select(components(pins), names)}:
        _install_provider(target, pins["pulumi-kubernetes"].version, go, logs / "plugins.log")
    return results


@dataclass(frozen=True)
class PulumiInstall:
    """How the engine runs the toolchain's Pulumi: `root/bin/pulumi` (the Automation API's PulumiCommand) and
    a PULUMI_HOME whose plugin cache holds the provider built from source.

    The CLI gets a folder of its own, not the toolchain's bin/: the Automation API puts the CLI's folder
    first on PATH to prefer plugins bundled beside it, and the provider should be found where a user's
    is, in the plugin cache, at the version the Python SDK asks for."""

    root: Path
    home: Path


def pulumi_install(bin_folder: Path) -> PulumiInstall:
    return PulumiInstall(root=bin_folder.parent / "pulumi", home=bin_folder.parent / "pulumi-home")


def _install_provider(target: Path, version: str, go: _Go, log_file: Path) -> None:
    """Put the provider into the toolchain's own plugin cache with `pulumi plugin install --file`, the way
    the CLI installs a downloaded plugin, so the engine finds `kubernetes` at the version the Python SDK
    asks for, in its normal lookup (no ambient-PATH shortcut, no touch to the user's ~/.pulumi)."""
    install = pulumi_install(target)
    if not (target / "pulumi").exists():
        raise ToolchainError("the provider is installed with the pinned pulumi CLI: build it too (`--only pulumi`)")
    cli = install.root / "bin" / "pulumi"
    if not cli.exists():
        cli.parent.mkdir(parents=True, exist_ok=True)
        cli.unlink(missing_ok=True)
        cli.symlink_to((target / "pulumi").resolve())
    home = install.home
    if (home / "plugins" / f"resource-kubernetes-v{version}" / "pulumi-resource-kubernetes").exists():
        return
    go.run(
        [str(target / "pulumi"), "plugin", "install", "resource", "kubernetes", f"v{version}", "--file"]
        + [str(target / "pulumi-resource-kubernetes")],
        target,
        log_file,
        f"pulumi plugin install resource kubernetes v{version}",
        {"PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true"},
    )
