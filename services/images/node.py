"""The kind node image, built on this machine from the Go module proxy and Debian (ADR 0019).

`build_node_image()` returns a local image (`mlops-platform/kind-node:v1.35.8`) that `kind create cluster
--image` boots like kind's own `kindest/node:v1.35.8`. It is kind v0.33.0's node image layout, built by
kind's own procedure (pkg/build/nodeimage/buildcontext.go) from parts built here:
1. the toolchain builds every binary (`kind-node` group of infra/toolchain.toml): kubelet, kubeadm,
   kubectl, the control plane, etcd, CoreDNS, containerd, runc, crictl, the CNI plugins, kube-router,
   local-path-provisioner;
2. the base image: kind's images/base layout on Debian trixie (node_base);
3. the images the node carries, as archives (node_parts), checked against `kubeadm config images list`;
4. kind's node-image steps: a container from the base, kubeadm/kubelet/kubectl copied to /usr/bin,
   /kind/version, the CNI and storage manifests in /kind/manifests (node_manifests), containerd started
   inside to import every archive pinned (`ctr images import --label=io.cri-containerd.pinned=pinned
   --no-unpack`), then `docker commit` with kind's entrypoint.

Why not `kind build node-image` itself: its `--type file|url` builds take Kubernetes' release tarball,
which covers only kubeadm, kubelet, kubectl and four control-plane images; every other image (etcd,
CoreDNS, pause, kindnetd, the storage provisioner) it pulls from a registry while building, and offline
that pull fails. Its steps are short, so they are done here the same way, with the pulls replaced by
imports of archives built here.

Cached: the image carries a label with the hash of its inputs (the pins, the package lists, the CNI
template, `RECIPE`); an image with the same label is returned at once, nothing rebuilt. The base image
and the Debian layer are cached the same way; the toolchain never rebuilds a binary. Long steps print a
line every 30 s. A Go module the proxy refuses stops the build with one line naming it
(toolchain.ModuleUnavailable).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.engine import toolchain
from services.engine.toolchain import Log, Pin, ToolchainError
from services.images import node_base, node_manifests, node_parts

__all__ = ["INPUTS_LABEL", "NodeImage", "REPOSITORY", "build_node_image", "node_inputs", "node_ref"]

REPOSITORY = "mlops-platform/kind-node"
BASE_REPOSITORY = "mlops-platform/kind-node-base"
INPUTS_LABEL = "platform.mlops/inputs"
# Raise when the build changes in a way the hashed inputs do not show (a new step, a changed file).
RECIPE = 2
# The tables of infra/toolchain.toml a node image is built from (the kind-node group's, and kind's files).
NODE_PINS = ("kubernetes", "etcd", "coredns", "containerd", "runc", "cri-tools", "cni-plugins")
NODE_PINS += ("local-path-provisioner", "kube-router", "kind")


@dataclass(frozen=True)
class NodeImage:
    ref: str
    inputs: str  # the hash in the image's label
    how: str  # "cached" or "built"
    seconds: dict[str, float] = field(default_factory=dict)  # per step, when built


def node_ref(pins: Mapping[str, Pin]) -> str:
    return f"{REPOSITORY}:v{pins['kubernetes'].version}"


def _digest(inputs: object) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def node_inputs(pins: Mapping[str, Pin]) -> str:
    """The hash of what the node image is built from: the pins (a module at a pinned version is the same
    source everywhere), the Debian package lists, the CNI template and manifest, and RECIPE."""
    return _digest(
        {
            "recipe": RECIPE,
            "pins": {name: [pins[name].version, pins[name].module] for name in sorted(NODE_PINS)},
            "debian": [node_base.DEBIAN_SUITE, node_base.BASE_PACKAGES, node_parts.NET_PACKAGES],
            "cni": [node_base.CNI_TEMPLATE, node_manifests.cni_manifest("")],
        }
    )


def base_inputs(pins: Mapping[str, Pin]) -> str:
    """The base image's share of the inputs: a new kube-router or CoreDNS does not rebuild the base tree."""
    runtime = ("containerd", "runc", "cri-tools", "cni-plugins", "kind", "kubernetes")  # kubernetes: pause
    return _digest(
        {
            "recipe": RECIPE,
            "pins": {name: [pins[name].version, pins[name].module] for name in runtime},
            "debian": [node_base.DEBIAN_SUITE, node_base.BASE_PACKAGES],
            "cni": node_base.CNI_TEMPLATE,
        }
    )


def _label(ref: str) -> str | None:
    """The inputs label of a local image, or None when there is no such image."""
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", ref],
        capture_output=True,
        text=True,
        check=False,
    )
    if inspected.returncode != 0:
        return None
    return (json.loads(inspected.stdout) or {}).get(INPUTS_LABEL)


def cache_dir() -> Path:
    return toolchain.cache_root().parent / "kind-node"


def build_node_image(
    *,
    pins: Mapping[str, Pin] | None = None,
    cache: Path | None = None,
    log: Log = lambda line: print(line, file=sys.stderr, flush=True),
) -> NodeImage:
    """The node image for the pinned Kubernetes: the cached one, or a new build (see the module docstring)."""
    pins = toolchain.load_pins() if pins is None else dict(pins)
    cache = cache_dir() if cache is None else cache
    ref, inputs = node_ref(pins), node_inputs(pins)
    if _label(ref) == inputs:
        log(f"node image: {ref} is up to date (inputs {inputs})")
        return NodeImage(ref, inputs, "cached")
    seconds: dict[str, float] = {}
    started = time.monotonic()
    toolchain.build(["kind-node"], pins=pins, log=log)
    binaries = toolchain.bin_dir(pins)
    modules = {name: toolchain.module_dir(name, pins=pins, log=log) for name in ("kind", "kubernetes", "kube-router")}
    seconds["toolchain"] = time.monotonic() - started

    pause = node_parts.pause_version(modules["kubernetes"])
    refs = node_parts.node_refs(pins, pause)
    base_key = base_inputs(pins)
    base = f"{BASE_REPOSITORY}:{base_key}"
    started = time.monotonic()
    if _label(base) != base_key:
        node_base.build_base_image(base, base_key, binaries, modules["kind"], refs.pause, cache / "work", log)
    seconds["base image"] = time.monotonic() - started

    started = time.monotonic()
    archives = node_parts.build_parts(refs, binaries, modules, pause, cache, log)
    required = node_parts.required_images(node_parts.kubeadm_images(binaries / "kubeadm", refs.kubernetes), refs)
    seconds["image archives"] = time.monotonic() - started

    manifests = {
        "/kind/manifests/default-cni.yaml": node_manifests.cni_manifest(refs.kube_router),
        "/kind/manifests/default-storage.yaml": node_manifests.storage_manifest(
            modules["kind"], refs.provisioner, refs.helper
        ),
        "/kind/version": refs.kubernetes,
    }
    started = time.monotonic()
    _assemble(ref, inputs, base, binaries, manifests, archives, required, log)
    seconds["node image"] = time.monotonic() - started
    shutil.rmtree(cache / "build")  # the archives are in the image now; rewriting them takes seconds
    _remove_other_tags(BASE_REPOSITORY, base)
    log(f"node image: {ref} built (" + ", ".join(f"{k} {v:.0f}s" for k, v in seconds.items()) + ")")
    return NodeImage(ref, inputs, "built", seconds)


_WAIT_FOR_CONTAINERD = (
    "for i in $(seq 50); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.2; done; ctr info"
)


def _remove_other_tags(repository: str, keep: str) -> None:
    """Base images of earlier inputs: nothing builds from them again (their inputs are gone)."""
    listed = _docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository)
    for ref in listed.split():
        if ref != keep:
            subprocess.run(["docker", "image", "rm", ref], capture_output=True, check=False)


class _BuildContainer:
    """A container from the base image that sleeps while the steps run in it (kind's build container)."""

    def __init__(self, base: str):
        name = f"mlops-kind-node-build-{int(time.time())}"
        _docker(
            "run",
            "-d",
            "--entrypoint=sleep",
            f"--name={name}",
            "--security-opt",
            "seccomp=unconfined",
            base,
            "infinity",
        )
        self.name = name

    def run(self, *argv: str, stdin: bytes | Path | None = None) -> str:
        interactive = ["-i"] if stdin is not None else []
        return _docker("exec", *interactive, self.name, *argv, stdin=stdin)

    def write(self, path: str, text: str) -> None:
        self.run("mkdir", "-p", path.rsplit("/", 1)[0])
        self.run("cp", "/dev/stdin", path, stdin=text.encode())

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "-f", "-v", self.name], capture_output=True, check=False)


def _docker(*argv: str, stdin: bytes | Path | None = None) -> str:
    """Run docker; `stdin` is bytes, or a file streamed in (an image archive: hundreds of MB)."""
    if isinstance(stdin, Path):
        with open(stdin, "rb") as handle:
            completed = subprocess.run(["docker", *argv], stdin=handle, capture_output=True, check=False)
    elif stdin is None:
        completed = subprocess.run(["docker", *argv], stdin=subprocess.DEVNULL, capture_output=True, check=False)
    else:
        completed = subprocess.run(["docker", *argv], input=stdin, capture_output=True, check=False)
    if completed.returncode != 0:
        error = completed.stderr.decode(errors="replace").strip()
        raise ToolchainError(f"docker {' '.join(argv[:3])} ...: {error}")
    return completed.stdout.decode(errors="replace")


def _assemble(
    ref: str,
    inputs: str,
    base: str,
    binaries: Path,
    files: Mapping[str, str],
    archives: Sequence[Path],
    required: Sequence[str],
    log: Log,
) -> None:
    """kind's buildImage: binaries, version, manifests, every image imported into containerd, commit."""
    container = _BuildContainer(base)
    try:
        for name in ("kubeadm", "kubelet", "kubectl"):  # where kind's kubelet.service expects them
            _docker("cp", "-L", str(binaries / name), f"{container.name}:/usr/bin/{name}")
            container.run("chown", "root:root", f"/usr/bin/{name}")
            container.run("chmod", "0755", f"/usr/bin/{name}")
        for path, text in files.items():
            container.write(path, text)
        container.run("bash", "-c", "nohup containerd > /var/log/containerd-build.log 2>&1 &")
        container.run(
            "bash",
            "-c",
            _WAIT_FOR_CONTAINERD,
        )
        for number, archive in enumerate(archives, 1):
            log(f"node image: importing {archive.name} ({number}/{len(archives)})")
            container.run(
                "ctr", "--namespace=k8s.io", "images", "import", "--label=io.cri-containerd.pinned=pinned",
                "--all-platforms", "--no-unpack", "--digests", "-",
                stdin=archive,
            )  # fmt: skip
        present = set(container.run("ctr", "--namespace=k8s.io", "images", "list", "-q").split())
        missing = [image for image in required if image not in present and f"docker.io/{image}" not in present]
        if missing:
            raise ToolchainError(f"the node's containerd lacks {missing} after the imports")
        # Stop containerd and wait until it has exited, so its database is closed before the commit. (It stays
        # a zombie: the container's first process, sleep, reaps nothing.)
        container.run(
            "bash", "-c", "pkill containerd; while ps -o stat= -C containerd | grep -qv '^Z'; do sleep 0.2; done"
        )
        _docker(
            "commit",
            "--change", 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]',
            "--change", f"LABEL {INPUTS_LABEL}={inputs}",
            container.name, ref,
        )  # fmt: skip
    finally:
        container.remove()
