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
    "DEFAULT_GROUPS",
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
    "module_dir",
    "pins_hash",
    "PulumiInstall",
    "pulumi_install",
    "run_step",
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
_CNI_VERSION = "github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion"


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
    tags: tuple[str, ...] = ()  # Go build tags, as the upstream Makefile passes them
    build_flags: tuple[str, ...] = ()  # further `go build` flags (runc: -buildmode=pie)
    # C libraries a cgo build links, as (pkg-config name, what to install): checked before compiling.
    needs: tuple[tuple[str, str], ...] = ()


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
    """The build recipes, one per table of infra/toolchain.toml (two share the [kubernetes] table)."""
    return {
        **_engine_components(pins),
        **_policy_components(pins),
        **_kind_components(pins),
        **_node_runtime_components(pins),
    }


def _kubernetes_ldflags(version: str) -> tuple[str, ...]:
    """The version stamps a Kubernetes release build sets (hack/lib/version.sh)."""
    major, minor, _ = version.split(".")
    stamps = {
        "gitVersion": f"v{version}",
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",  # reproducible: the cache key is the version, not the day
    }
    return tuple(
        f"-X {package}.{key}={value}"
        for key, value in stamps.items()
        for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")
    )


def _engine_components(pins: Mapping[str, Pin]) -> dict[str, Component]:
    """The engine layer: Pulumi, its Kubernetes provider, the simulated control plane, promtool."""
    pulumi, k8s = pins["pulumi"].version, pins["kubernetes"].version
    provider, etcd, kwok = pins["pulumi-kubernetes"], pins["etcd"].version, pins["kwok"].version
    prometheus = pins["prometheus"].version
    k8s_ldflags = _kubernetes_ldflags(k8s)
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
    }


def _policy_components(pins: Mapping[str, Pin]) -> dict[str, Component]:
    """The compliance layer's policy engine."""
    opa = pins["opa"].version
    return {
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


def _kind_components(pins: Mapping[str, Pin]) -> dict[str, Component]:
    """kind itself, and the Kubernetes binaries a kind node runs, from the engine's Kubernetes module.

    The node's binaries are a component of their own, at the [kubernetes] pin, so `make toolchain` (the
    engine's control plane) does not compile a kubelet it never runs, while both share one module download
    and one Go build cache."""
    kind, k8s = pins["kind"].version, pins["kubernetes"].version
    published = f"v0.{k8s.split('.', 1)[1]}"  # ./staging/src/k8s.io/api is published as k8s.io/api v0.35.8
    return {
        "kind": Component(
            name="kind",
            module="sigs.k8s.io/kind",
            version=pins["kind"].module_version,
            binaries=(Binary("kind", ".", ("version",), f"kind v{kind} "),),
        ),
        "kubernetes-node": Component(
            name="kubernetes-node",
            module="k8s.io/kubernetes",
            version=pins["kubernetes"].module_version,
            # Never taken from PATH: these go into the node image, so they must be this build.
            binaries=(
                Binary("kubelet", "./cmd/kubelet"),
                Binary("kubeadm", "./cmd/kubeadm"),
                Binary("kube-proxy", "./cmd/kube-proxy"),
            ),
            ldflags=_kubernetes_ldflags(k8s),
            published_version=lambda module: published,
        ),
        "agnhost": Component(
            # Kubernetes' own e2e test server (test/images/agnhost): the pods of the kind node tests.
            name="agnhost",
            module="k8s.io/kubernetes",
            version=pins["kubernetes"].module_version,
            binaries=(Binary("agnhost", "./test/images/agnhost"),),
            published_version=lambda module: published,
        ),
    }


def _node_runtime_components(pins: Mapping[str, Pin]) -> dict[str, Component]:
    """What kind's base image and node image carry besides Kubernetes, built the way their releases are.

    Versions and build tags follow kind's images/base/Dockerfile (containerd, runc, crictl, CNI plugins)
    and kubeadm's own constants (CoreDNS); see infra/toolchain.toml for where each pin comes from."""
    v = {name: pins[name].module_version for name in pins}
    return {
        "containerd": Component(
            name="containerd",
            module="github.com/containerd/containerd/v2",
            version=v["containerd"],
            binaries=(
                Binary("containerd", "./cmd/containerd"),
                Binary("ctr", "./cmd/ctr"),
                Binary("containerd-shim-runc-v2", "./cmd/containerd-shim-runc-v2"),
            ),
            ldflags=(f"-X github.com/containerd/containerd/v2/version.Version={v['containerd']}",),
            tags=("no_aufs", "no_zfs", "no_btrfs", "no_devmapper"),  # kind's BUILDTAGS: snapshotters it never uses
        ),
        "runc": Component(
            # runc is C as well as Go (nsenter, seccomp): linked static, as its `static` make target does, so the
            # binary needs nothing from the node's libraries.
            name="runc",
            module="github.com/opencontainers/runc",
            version=v["runc"],
            binaries=(Binary("runc", "."),),
            ldflags=("-linkmode external", "-extldflags -static-pie"),
            tags=("seccomp", "urfave_cli_no_docs", "netgo", "osusergo"),
            build_flags=("-buildmode=pie",),
            env={"CGO_ENABLED": "1"},
            needs=(("libseccomp", "apt-get install gcc libseccomp-dev"),),
        ),
        "cri-tools": Component(
            name="cri-tools",
            module="sigs.k8s.io/cri-tools",
            version=v["cri-tools"],
            binaries=(Binary("crictl", "./cmd/crictl"),),
            ldflags=(f"-X sigs.k8s.io/cri-tools/pkg/version.Version={v['cri-tools']}",),
        ),
        "cni-plugins": Component(
            name="cni-plugins",
            module="github.com/containernetworking/plugins",
            version=v["cni-plugins"],
            # The four kind's base image installs: pod addresses (host-local), lo, the veth pair, hostPorts.
            binaries=(
                Binary("host-local", "./plugins/ipam/host-local"),
                Binary("loopback", "./plugins/main/loopback"),
                Binary("ptp", "./plugins/main/ptp"),
                Binary("portmap", "./plugins/meta/portmap"),
            ),
            ldflags=(f"-X {_CNI_VERSION}={v['cni-plugins']}",),
        ),
        "coredns": Component(
            name="coredns",
            module="github.com/coredns/coredns",
            version=v["coredns"],
            binaries=(Binary("coredns", "."),),
            ldflags=(f"-X github.com/coredns/coredns/coremain.GitCommit={v['coredns']}",),
        ),
        "local-path-provisioner": Component(
            name="local-path-provisioner",
            module="github.com/rancher/local-path-provisioner",
            version=v["local-path-provisioner"],
            binaries=(Binary("local-path-provisioner", "."),),
            ldflags=(f"-X main.VERSION={v['local-path-provisioner']}",),
        ),
        "kube-router": Component(
            name="kube-router",
            module="github.com/cloudnativelabs/kube-router/v2",
            version=v["kube-router"],
            binaries=(Binary("kube-router", "./cmd/kube-router"),),
            ldflags=(
                f"-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version={v['kube-router']}",
                "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=1970-01-01T00:00:00Z",
            ),
        ),
    }


GROUPS = {
    "control-plane": ("etcd", "kubernetes", "kwok"),
    "pulumi": ("pulumi", "pulumi-kubernetes"),
    "checks": ("prometheus",),
    "kind-tools": ("kind", "kubernetes"),  # the kind CLI and kubectl
    # Everything a kind node image is built from (services/images/node.py); not part of `make toolchain`.
    "kind-node": (
        "kubernetes",
        "kubernetes-node",
        "etcd",
        "coredns",
        "containerd",
        "runc",
        "cri-tools",
        "cni-plugins",
        "local-path-provisioner",
        "kube-router",
    ),
    "kind-test": ("agnhost",),
    "policy": ("opa",),
}
# What `mlplat toolchain` (`make toolchain`) builds when not told otherwise: the node image's parts need a C
# compiler and libseccomp for runc, and only `make test-kind` and the kind node image use them.
DEFAULT_GROUPS = ("control-plane", "pulumi", "checks", "kind-tools")


def select(recipes: Mapping[str, Component], names: Iterable[str] | None) -> list[Component]:
    """Components by name or group ("control-plane", "kind-node"); None means the DEFAULT_GROUPS."""
    if names is None:
        names = DEFAULT_GROUPS
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
        run_step(argv, cwd, log_file, what, self.log, {**self.env, **env})


def run_step(
    argv: Sequence[str], cwd: Path, log_file: Path, what: str, log: Log, env: Mapping[str, str] | None = None
) -> None:
    """Run a long step, appending to its log and printing a heartbeat so a cold build is not silent.

    A failure raises ToolchainError with the step, the exit code, the log's path and its last lines."""
    started = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            log(f"  ... {what}: {time.monotonic() - started:.0f}s")

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "a", encoding="utf-8") as out:
            out.write(f"$ {' '.join(argv)}\n")
            out.flush()
            completed = subprocess.run(
                ["nice", "-n", "10", *argv],
                cwd=cwd,
                env=dict(os.environ if env is None else env),
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


def _stale(link: Path, stored: Path, cache: Path) -> bool:
    """A link into the cache's store that points at another version of the component than `stored`."""
    resolved = link.resolve()
    return (cache / "store").resolve() in resolved.parents and resolved != stored.resolve()


def _build_command(component: Component, ldflags: str, output: Path, package: str) -> list[str]:
    tags = [f"-tags={','.join(component.tags)}"] if component.tags else []
    return [
        "go",
        "build",
        "-trimpath",
        *component.build_flags,
        *tags,
        f"-ldflags={ldflags}",
        "-o",
        str(output),
        package,
    ]


def _check_libraries(to_build: Sequence[Component]) -> None:
    """A cgo build whose C library is missing would fail minutes in, deep in a linker log: say it first."""
    for component in to_build:
        for library, install in component.needs:
            found = (
                shutil.which("pkg-config")
                and subprocess.run(["pkg-config", "--exists", library], check=False).returncode == 0
            )
            if not found:
                raise ToolchainError(
                    f"{component.name} links the C library {library}, which pkg-config cannot find: {install}"
                )


def _store(cache: Path, component: Component) -> Path:
    """Where one component's binaries are kept: keyed by its own module version, shared by every pin set."""
    return cache / "store" / f"{component.name}@{component.version}"


def installed_sdk_version() -> str | None:
    """The pulumi-kubernetes Python SDK in this environment: the provider version its programs ask for."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pulumi-kubernetes")
    except PackageNotFoundError:
        return None


def provider_for_sdk(pins: Mapping[str, Pin], go: _Go, sdk: str | None) -> dict[str, Pin]:
    """The pins with the provider at the installed SDK's version: the pinned build when they agree, else
    the SDK's release from the proxy; when the proxy cannot serve it, an error naming both versions."""
    pinned = pins["pulumi-kubernetes"]
    if sdk is None or sdk == pinned.version:
        return dict(pins)
    if shutil.which("go", path=go.env.get("PATH")) is None:  # a machine without Go: say so, not a traceback
        reason = "fetching another provider needs the Go toolchain, and `go` is not on PATH"
    else:
        try:
            go.download("github.com/pulumi/pulumi-kubernetes/provider/v4", f"v{sdk}")
            return {**pins, "pulumi-kubernetes": Pin(sdk)}
        except ModuleUnavailable as exc:
            reason = str(exc)
    raise ToolchainError(
        f"the installed pulumi-kubernetes SDK is {sdk}, and its programs ask for provider {sdk}; the toolchain's "
        f"provider is pinned at {pinned.version} (infra/toolchain.toml), and {reason}.\n-> install the SDK the "
        f"project pins: `.venv/bin/pip install -c constraints.txt -e .` (or `make venv`), which gives "
        f"pulumi-kubernetes {pinned.version}"
    )


def build(
    names: Iterable[str] | None = None,
    *,
    pins: Mapping[str, Pin] | None = None,
    cache: Path | None = None,
    log: Log = lambda line: print(line, file=sys.stderr, flush=True),
) -> list[BuildResult]:
    """Make every requested binary available in bin_dir(); see the module docstring.

    Three steps: reuse what is cached or on PATH (`_reuse`), resolve every module the rest needs on the
    proxy before any compile starts (`_resolve`), then build each component into the store (`_compile`)."""
    pins = load_pins() if pins is None else dict(pins)
    cache = cache_root() if cache is None else cache
    go = _Go(cache, log)
    # bin/ is named after the pins file; the provider inside it is built at the installed SDK's version
    target = cache / pins_hash(pins) / "bin"
    if names is None or {"pulumi", "pulumi-kubernetes"} & {n for name in names for n in GROUPS.get(name, (name,))}:
        pins = provider_for_sdk(pins, go, installed_sdk_version())
    logs = cache / "logs"
    target.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    chosen = select(components(pins), names)
    results, to_build = _reuse(chosen, target, cache)
    if to_build and shutil.which("go", path=go.env.get("PATH")) is None:
        missing = ", ".join(binary.name for _, binaries in to_build for binary in binaries)
        raise ToolchainError(
            f"building {missing} needs the Go toolchain, and `go` is not on PATH: install Go 1.26 or newer "
            "(https://go.dev/dl/), then run `make toolchain` again"
        )
    _check_libraries([component for component, binaries in to_build if binaries])
    sources = _resolve(to_build, go)
    for component, binaries in to_build:
        results += _compile(component, binaries, sources[component.name], target, cache, go)
    if "pulumi-kubernetes" in {component.name for component in chosen}:
        _install_provider(target, pins["pulumi-kubernetes"].version, go, logs / "plugins.log")
    return results


def _reuse(
    chosen: Sequence[Component], target: Path, cache: Path
) -> tuple[list[BuildResult], list[tuple[Component, list[Binary]]]]:
    """Link what the store or PATH already has into `target`; returns those results and what is left to build."""
    results: list[BuildResult] = []
    to_build: list[tuple[Component, list[Binary]]] = []
    for component in chosen:
        missing: list[Binary] = []
        for binary in component.binaries:
            link, stored = target / binary.name, _store(cache, component) / binary.name
            if link.exists() and not _stale(link, stored, cache):
                results.append(BuildResult(binary.name, "cached", link))
                continue
            if link.exists() or link.is_symlink():  # another version (the provider follows the SDK), or gone
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
    return results, to_build


def _resolve(to_build: Sequence[tuple[Component, list[Binary]]], go: _Go) -> dict[str, Path]:
    """Every module's source, downloaded first: an unservable one stops the build before any long compile
    starts, with one line per module the proxy refuses."""
    sources: dict[str, Path] = {}
    refused: list[str] = []
    for component, _ in to_build:
        try:
            sources[component.name] = go.download(component.module, component.version)
        except ModuleUnavailable as exc:
            refused.append(str(exc))
    if refused:
        raise ModuleUnavailable("\n".join(refused))
    return sources


def _compile(
    component: Component, missing: list[Binary], source: Path, target: Path, cache: Path, go: _Go
) -> list[BuildResult]:
    """One component's files and binaries into its store, each linked into `target` once complete."""
    log_file = cache / "logs" / f"{component.name}@{component.version}.log"
    store = _store(cache, component)
    store.mkdir(parents=True, exist_ok=True)
    for sources_in_module, name in component.files:
        documents = [(source / path).read_text(encoding="utf-8") for path in sources_in_module]
        partial = store / f".{name}.partial"
        partial.write_text("\n---\n".join(doc.strip() for doc in documents) + "\n", encoding="utf-8")
        partial.rename(store / name)
        (target / name).unlink(missing_ok=True)
        (target / name).symlink_to(store / name)
    if not missing:
        return []
    # Named after the module, not the component: kubernetes and kubernetes-node build in the same path,
    # so the second finds the first one's packages in the build cache.
    tree = cache / "src" / f"{component.module.replace('/', '_')}@{component.version}"
    go.log(f"toolchain: {component.name} {component.version}: preparing a writable copy of {component.module}")
    _writable_copy(source, tree)
    replaced = _point_replacements_at_published(component, tree, go, log_file)
    if replaced:
        go.log(f"  {len(replaced)} local replace directives now point at published versions")
    for command in component.generate:
        go.run(command, tree, log_file, f"{component.name}: {' '.join(command)}", component.env)
    results = []
    for binary in missing:
        go.log(f"toolchain: building {binary.name} {component.version} (log: {log_file})")
        started = time.monotonic()
        partial = store / f".{binary.name}.partial"
        ldflags = " ".join(["-s", "-w", *component.ldflags])
        command = _build_command(component, ldflags, partial, binary.package)
        go.run(command, tree, log_file, f"go build {binary.name}", component.env)
        partial.rename(store / binary.name)  # atomic: a stored binary is always a complete one
        (target / binary.name).symlink_to(store / binary.name)
        seconds = time.monotonic() - started
        go.log(f"  built {binary.name} in {seconds:.0f}s")
        results.append(BuildResult(binary.name, "built", target / binary.name, seconds))
    shutil.rmtree(tree)  # the work tree is only needed while building; the caches keep the speed
    return results


def module_dir(
    name: str,
    *,
    pins: Mapping[str, Pin] | None = None,
    cache: Path | None = None,
    log: Log = lambda line: print(line, file=sys.stderr, flush=True),
) -> Path:
    """The released source of a component's module, read-only in the toolchain's module cache.

    For files a release ships beside its binaries: kind's node base files, Kubernetes' pause.c. The same
    download the build uses, so reading files costs nothing after a build; a refused module raises
    ModuleUnavailable with one line naming it."""
    pins = load_pins() if pins is None else dict(pins)
    recipe = select(components(pins), [name])[0]
    return _Go(cache_root() if cache is None else cache, log).download(recipe.module, recipe.version)


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
