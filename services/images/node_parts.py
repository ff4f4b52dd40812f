"""The images a kind node carries in its own containerd, built here as archives (node_archive).

kind's node image holds the control plane's images (built with Kubernetes), and pulls the rest while it
is built: etcd, CoreDNS, pause, kindnetd and the local-path provisioner with its helper. Nothing can be
pulled here, so every one of them is built from the toolchain's binaries:

| image | contents |
|---|---|
| registry.k8s.io/kube-apiserver, -controller-manager, -scheduler | the binary in /usr/local/bin, nothing else |
| registry.k8s.io/kube-proxy | the Debian network layer (iptables, ipset, conntrack) + kube-proxy |
| registry.k8s.io/etcd, registry.k8s.io/coredns/coredns | the binary, nothing else |
| registry.k8s.io/pause | pause.c from Kubernetes' build/pause, compiled static like its Makefile does |
| mlops-platform/kube-router | the Debian network layer + kube-router: NetworkPolicy (ADR 0019) |
| mlops-platform/local-path-provisioner | the binary, nothing else |
| mlops-platform/local-path-helper | the Debian network layer alone (it has sh, rm and mkdir) |

The names kubeadm asks for are kept (kind does the same with the images it builds), and `required_images`
checks kubeadm's own list against what is built, so a version the pins do not match stops the build with
the pin to change. Upstream runs the control plane on distroless images with go-runner; kubeadm's static
pods name the command, so the binary alone is enough. The images that are not upstream's own builds
carry the project's name, never upstream's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.engine.toolchain import Log, Pin, ToolchainError, run_step
from services.images import node_archive
from services.images.node_archive import ImageSpec
from services.images.node_base import DEBIAN_SUITE, debootstrap

__all__ = ["NET_PACKAGES", "NodeRefs", "build_parts", "compile_pause", "node_refs", "pause_version", "required_images"]

# What kube-proxy and kube-router call: iptables (and its save/restore), ipset, conntrack, ip, modprobe.
NET_PACKAGES = ("iptables", "ipset", "conntrack", "iproute2", "kmod")
IPTABLES_WRAPPER = "build/image-assets/iptables-wrapper-installer.sh"  # in kube-router's module


@dataclass(frozen=True)
class NodeRefs:
    """The names of every image the node carries; the manifests and the node's containerd use them."""

    kubernetes: str  # "v1.35.8": the tag of the four Kubernetes images
    etcd: str
    coredns: str
    pause: str
    kube_router: str
    provisioner: str
    helper: str

    def kubernetes_image(self, name: str) -> str:
        return f"registry.k8s.io/{name}:{self.kubernetes}"


def pause_version(kubernetes_module: Path) -> str:
    """The pause release Kubernetes' build/pause/Makefile builds (its `TAG ?=` line)."""
    found = re.search(r"^TAG \?= (\S+)$", (kubernetes_module / "build/pause/Makefile").read_text(), re.M)
    if not found:
        raise ToolchainError(f"no `TAG ?=` line in {kubernetes_module}/build/pause/Makefile")
    return found.group(1)


def node_refs(pins: Mapping[str, Pin], pause: str) -> NodeRefs:
    return NodeRefs(
        kubernetes=f"v{pins['kubernetes'].version}",
        etcd=f"registry.k8s.io/etcd:{pins['etcd'].version}-0",  # kubeadm's tag: "<release>-<image revision>"
        coredns=f"registry.k8s.io/coredns/coredns:v{pins['coredns'].version}",
        pause=f"registry.k8s.io/pause:{pause}",
        kube_router=f"mlops-platform/kube-router:v{pins['kube-router'].version}",
        provisioner=f"mlops-platform/local-path-provisioner:v{pins['local-path-provisioner'].version}",
        helper=f"mlops-platform/local-path-helper:{DEBIAN_SUITE}",
    )


def required_images(kubeadm_list: Iterable[str], refs: NodeRefs) -> list[str]:
    """kind's list of images a node needs: kubeadm's (`kubeadm config images list`), its pause replaced by
    the sandbox image containerd is configured with, then the CNI's and the storage's.

    Every kubeadm image must be one this module builds, at the tag the pins give: a mismatch names both."""
    built = {refs.kubernetes_image(n) for n in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")}
    built |= {refs.kubernetes_image("kube-proxy"), refs.etcd, refs.coredns}
    required = []
    for image in (line.strip() for line in kubeadm_list):
        if not image or "/pause:" in image:
            continue
        if image not in built:
            repository = image.rsplit(":", 1)[0]
            ours = [ref for ref in sorted(built) if ref.rsplit(":", 1)[0] == repository]
            raise ToolchainError(
                f"kubeadm {refs.kubernetes} deploys {image}, but this build makes {ours or 'no such image'}: "
                "set that version in infra/toolchain.toml"
            )
        required.append(image)
    return [*required, refs.pause, refs.kube_router, refs.provisioner, refs.helper]


def compile_pause(kubernetes_module: Path, version: str, out: Path, log_file: Path, log: Log) -> Path:
    """pause.c compiled as build/pause/Makefile does (static, -Os, warnings are errors)."""
    if out.exists():
        return out
    if shutil.which("gcc") is None:
        raise ToolchainError("the pause image is C: building it needs gcc (apt-get install gcc libc6-dev)")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    source = kubernetes_module / "build" / "pause" / "linux" / "pause.c"
    flags = ["-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{version}-{kubernetes_module.name.split('@')[1]}"]
    run_step(["gcc", *flags, "-o", str(partial), str(source)], out.parent, log_file, "gcc pause.c", log)
    partial.rename(out)
    return out


def _net_layer(layers: Path, kube_router_module: Path, work: Path, log: Log) -> Path:
    """The Debian layer of kube-proxy, kube-router and the storage helper, with the iptables wrapper that
    picks iptables-legacy or iptables-nft to match the node's kubelet (kube-router ships it; it is the
    kubernetes-sigs/iptables-wrappers script, which Kubernetes' own kube-proxy base image uses)."""
    out = layers / f"debian-{DEBIAN_SUITE}-net.tar"
    if out.exists():
        return out
    tree, log_file = work / "net-tree", work / "net.log"
    debootstrap(tree, NET_PACKAGES, work.parent / "debs" / DEBIAN_SUITE, log_file, log)
    shutil.copyfile(kube_router_module / IPTABLES_WRAPPER, tree / "iptables-wrapper-installer.sh")
    run_step(["chroot", str(tree), "sh", "/iptables-wrapper-installer.sh"], work, log_file, "iptables wrapper", log)
    node_archive.layer_from_tree(tree, out)
    shutil.rmtree(tree)
    return out


def _binary_layer(layers: Path, binaries: Path, name: str, place: str = "/usr/local/bin") -> Path:
    source = binaries / name
    return node_archive.layer_from_files({f"{place}/{name}": (source, 0o755)}, layers / f"{name}.tar")


def _specs(refs: NodeRefs, binaries: Path, pause: Path, net: Path, layers: Path) -> list[ImageSpec]:
    def alone(name: str) -> tuple[Path, ...]:
        return (_binary_layer(layers, binaries, name),)

    def on_net(name: str) -> tuple[Path, ...]:
        return (net, _binary_layer(layers, binaries, name))

    pause_layer = node_archive.layer_from_files({"/pause": (pause, 0o755)}, layers / "pause.tar")
    coredns_layer = node_archive.layer_from_files({"/coredns": (binaries / "coredns", 0o755)}, layers / "coredns.tar")
    return [
        *(ImageSpec(refs.kubernetes_image(n), alone(n)) for n in ("kube-apiserver", "kube-controller-manager")),
        ImageSpec(refs.kubernetes_image("kube-scheduler"), alone("kube-scheduler")),
        ImageSpec(refs.kubernetes_image("kube-proxy"), on_net("kube-proxy")),
        ImageSpec(refs.etcd, alone("etcd")),
        ImageSpec(refs.coredns, (coredns_layer,), entrypoint=("/coredns",)),
        ImageSpec(refs.pause, (pause_layer,), entrypoint=("/pause",), user="65535:65535"),
        ImageSpec(refs.kube_router, on_net("kube-router"), entrypoint=("/usr/local/bin/kube-router",)),
        ImageSpec(refs.provisioner, alone("local-path-provisioner")),
        ImageSpec(refs.helper, (net,)),
    ]


def build_parts(
    refs: NodeRefs, binaries: Path, modules: Mapping[str, Path], pause_release: str, cache: Path, log: Log
) -> list[Path]:
    """Write every image the node carries as an archive under `cache`/build; returns their paths.

    `modules` holds the kubernetes and kube-router module folders (pause.c, the iptables wrapper). Only
    the Debian layer is kept between builds (it takes minutes); the rest takes seconds and is written
    into `cache`/build, which the caller removes once the node image holds it."""
    work, build = cache / "work", cache / "build"
    pause = compile_pause(
        modules["kubernetes"], pause_release, cache / "bin" / f"pause-{pause_release}", work / "pause.log", log
    )
    net = _net_layer(cache / "layers", modules["kube-router"], work, log)
    archives = []
    for spec in _specs(refs, binaries, pause, net, build / "layers"):
        name = re.sub(r"[^A-Za-z0-9.-]+", "_", spec.ref)
        archives.append(node_archive.write_archive(spec, build / f"{name}.tar"))
    log(f"node image: {len(archives)} image archives written to {build}")
    return archives


def kubeadm_images(kubeadm: Path, version: str) -> list[str]:
    """`kubeadm config images list` for `version`, run from the toolchain's own kubeadm."""
    listed = subprocess.run(
        [str(kubeadm), "config", "images", "list", "--kubernetes-version", version],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        raise ToolchainError(f"kubeadm config images list failed: {listed.stderr.strip()}")
    return listed.stdout.split()
