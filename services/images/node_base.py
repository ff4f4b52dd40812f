"""The kind node's base image, built here: kind v0.33.0's `images/base`, step for step, without a registry.

kind builds its base image from a Dockerfile (`images/base/Dockerfile` in the kind module) that needs
BuildKit (`COPY --chmod`), starts `FROM debian:trixie-slim` and clones containerd, runc, crictl and the CNI
plugins from GitHub. The same layout comes from here:
- a Debian trixie tree by debootstrap, with the packages the Dockerfile installs (`BASE_PACKAGES`);
- kind's own files (`images/base/files`), read from the kind module, with the modes the Dockerfile gives
  them (scripts 0755, the rest 0644);
- the Dockerfile's clean-up (no systemd units it does not want, no kernel log in journald, /sbin/init)
  and its `systemctl enable kubelet containerd undo-mount-hacks`, `systemctl mask systemd-binfmt`;
- containerd, ctr, the runc shim, runc, crictl and the CNI plugins from the toolchain, at the versions
  the Dockerfile pins, in the same places; `/etc/containerd/cri-base.json` from `ctr oci spec`, edited
  as the Dockerfile's `jq` does (the product-files hook added, rlimits removed);
- `docker import` with the Dockerfile's metadata: `container=docker`, stop signal SIGRTMIN+3, the
  entrypoint.
Three edits to kind's containerd config (`containerd_config`, ADR 0019): the sandbox image is the pause
built here; containerd writes the pod network's CNI config from the node's pod CIDR (its
`conf_template`), which kindnetd does in kind's own image; and it never lowers a container's OOM score
below its own, so pods start on hosts that deny CAP_SYS_RESOURCE. Not carried: containerd-fuse-overlayfs (only
rootless Docker and Podman use it) and the licence files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from services.engine.toolchain import Log, ToolchainError, run_step

__all__ = [
    "BASE_PACKAGES",
    "CNI_TEMPLATE",
    "CNI_TEMPLATE_PATH",
    "DEBIAN_SUITE",
    "base_image_changes",
    "build_base_image",
    "containerd_config",
    "cri_base_spec",
    "debootstrap",
]

DEBIAN_SUITE = "trixie"  # kind's BASE_IMAGE: debian:trixie-slim
DEBIAN_MIRROR = os.environ.get("MLPLAT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# kind v0.33.0 images/base/Dockerfile, its `clean-install` line by line: systemd; Kubernetes' needs;
# networked storage; storage e2e tests; the container runtime; what kind uses itself.
BASE_PACKAGES = (
    "systemd",
    *("conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount", "kmod"),
    *("libseccomp2", "pigz", "fuse-overlayfs"),
    *("nfs-common", "open-iscsi"),
    "e2fsprogs",
    *("bash", "ca-certificates", "curl", "jq", "procps"),
)
# Where the toolchain's binaries go, as in the Dockerfile's COPY lines.
RUNTIME_PLACES = {
    "containerd": "usr/local/bin",
    "ctr": "usr/local/bin",
    "containerd-shim-runc-v2": "usr/local/bin",
    "runc": "usr/local/sbin",
    "crictl": "usr/local/bin",
    "host-local": "opt/cni/bin",
    "loopback": "opt/cni/bin",
    "ptp": "opt/cni/bin",
    "portmap": "opt/cni/bin",
}
KIND_SANDBOX = 'sandbox_image = "registry.k8s.io/pause:3.10"'  # what kind v0.33.0's config.toml says
KIND_OOM = "restrict_oom_score_adj = false"
CNI_TEMPLATE_PATH = "/etc/containerd/cni-conflist.tmpl"
# kindnet's network (a veth pair per pod, addresses from the node's pod CIDR, hostPorts), written by
# containerd when the kubelet reports the node's pod CIDR. ipMasq: without kindnetd, the ptp plugin
# masquerades what leaves the node's pod range.
CNI_TEMPLATE = """{
  "cniVersion": "1.0.0",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": true,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{{range $i, $route := .Routes}}{{if $i}}, {{end}}{"dst": "{{$route}}"}{{end}}],
        "ranges": [{{range $i, $range := .PodCIDRRanges}}{{if $i}}, {{end}}[{"subnet": "{{$range}}"}]{{end}}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
"""


def containerd_config(kind_config: str, sandbox_image: str) -> str:
    """kind's /etc/containerd/config.toml with the edits this image needs (see the module docstring).

    `restrict_oom_score_adj = true`: containerd never gives a container a lower OOM score than its own.
    kind sets it for rootless nodes only; it is needed wherever the host denies CAP_SYS_RESOURCE (VMs and
    sandboxes whose init drops it, like this project's test machines): there nothing may lower a score,
    so every pod sandbox, which the kubelet asks to run at -998, fails to start. Where the host grants
    it, containerd runs at -999 (its systemd unit) and the setting changes nothing.

    Refuses a config without kind v0.33.0's lines, so a kind bump that moves them fails here, loudly."""
    for line in (KIND_SANDBOX, KIND_OOM):
        if line not in kind_config:
            raise ValueError(f"kind's containerd config no longer says {line!r}: update node_base")
    config = kind_config.replace(KIND_SANDBOX, f'sandbox_image = "{sandbox_image}"')
    config = config.replace(KIND_OOM, "restrict_oom_score_adj = true")
    return config + (
        "\n# mlops-platform: containerd writes the pod network's CNI config from the node's pod CIDR (ADR 0019)\n"
        '[plugins."io.containerd.grpc.v1.cri".cni]\n'
        f'  conf_template = "{CNI_TEMPLATE_PATH}"\n'
    )


def cri_base_spec(default_spec: Mapping) -> dict:
    """The Dockerfile's jq over `ctr oci spec`: run kind's product-files hook at container creation, and drop
    the default rlimits (containers inherit the node's)."""
    spec = json.loads(json.dumps(default_spec))
    hooks = spec.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    return spec


def base_image_changes(inputs: str) -> list[str]:
    """The Dockerfile's metadata, for `docker import --change`, plus the label the cache reads. (Its stop
    signal, SIGRTMIN+3, on which systemd stops, is set by a build step: `import` does not take it.)"""
    return [
        "ENV container=docker",  # systemd: it runs in a container (systemd.io/CONTAINER_INTERFACE)
        'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
        f"LABEL platform.mlops/inputs={inputs}",
    ]


def debootstrap(tree: Path, packages: tuple[str, ...], cache: Path, log_file: Path, log: Log) -> None:
    """A minimal Debian tree with `packages`; the downloaded packages stay in `cache` for the next tree."""
    cache.mkdir(parents=True, exist_ok=True)
    if tree.exists():
        shutil.rmtree(tree)
    tree.parent.mkdir(parents=True, exist_ok=True)
    log(f"node image: debootstrap {DEBIAN_SUITE} ({len(packages)} packages) into {tree} (log: {log_file})")
    run_step(
        ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", f"--cache-dir={cache}"]
        + [DEBIAN_SUITE, str(tree), DEBIAN_MIRROR],
        tree.parent,
        log_file,
        f"debootstrap {DEBIAN_SUITE}",
        log,
    )
    for leftover in ("var/lib/apt/lists", "var/cache/apt/archives"):  # what kind's clean-install removes
        for path in (tree / leftover).glob("*"):
            if path.is_file():
                path.unlink()


def _copy_kind_files(tree: Path, kind_module: Path) -> None:
    """images/base/files into the tree: scripts 0755 (usr/local/bin, kind/bin), everything else 0644."""
    files = kind_module / "images" / "base" / "files"
    for source in sorted(files.rglob("*")):
        relative = source.relative_to(files)
        target = tree / relative
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        shutil.copyfile(source, target)
        executable = relative.parts[:3] == ("usr", "local", "bin") or relative.parts[:2] == ("kind", "bin")
        target.chmod(0o755 if executable else 0o644)


def _prune_systemd(tree: Path) -> None:
    """The Dockerfile's clean-up: only the units kind enables will start, and no kernel log in the journal."""
    units = tree / "usr" / "lib" / "systemd" / "system"
    doomed = [*units.glob("sysinit.target.wants/systemd-tmpfiles-setup.service")]
    for wants in ("multi-user.target.wants/*", "local-fs.target.wants/*", "basic.target.wants/*"):
        doomed += units.glob(wants)
    doomed += [*units.glob("sockets.target.wants/*udev*"), *units.glob("sockets.target.wants/*initctl*")]
    doomed += [*(tree / "etc" / "systemd" / "system").glob("*.wants/*")]
    for path in doomed:
        path.unlink()
    with open(tree / "etc" / "systemd" / "journald.conf", "a", encoding="utf-8") as journald:
        journald.write("ReadKMsg=no\n")
    init = tree / "usr" / "sbin" / "init"  # /sbin is /usr/sbin in trixie
    if not init.exists():
        init.symlink_to("/usr/lib/systemd/systemd")


def _install_runtime(tree: Path, binaries: Path) -> None:
    for name, place in RUNTIME_PLACES.items():
        target = tree / place / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(binaries / name, target)
        target.chmod(0o755)
    spec = subprocess.run([str(binaries / "ctr"), "oci", "spec"], capture_output=True, text=True, check=True)
    cri_base = tree / "etc" / "containerd" / "cri-base.json"
    cri_base.write_text(json.dumps(cri_base_spec(json.loads(spec.stdout)), indent=4) + "\n", encoding="utf-8")
    cri_base.chmod(0o644)
    template = tree / CNI_TEMPLATE_PATH.lstrip("/")
    template.write_text(CNI_TEMPLATE, encoding="utf-8")
    template.chmod(0o644)
    (tree / "etc" / "kubernetes" / "manifests").mkdir(parents=True, exist_ok=True)


def build_base_image(
    ref: str, inputs: str, binaries: Path, kind_module: Path, sandbox_image: str, work: Path, log: Log
) -> str:
    """Build the base image `ref` (see the module docstring); `binaries` is the toolchain's bin folder."""
    tree, log_file = work / "base-tree", work / "base.log"
    debootstrap(tree, BASE_PACKAGES, work.parent / "debs" / DEBIAN_SUITE, log_file, log)
    lay_out_kind_base(tree, binaries, kind_module, sandbox_image, log_file, log)
    log(f"node image: importing the base tree as {ref}")
    import_tree(tree, ref, base_image_changes(inputs))
    # `docker import --change` takes no STOPSIGNAL (Docker 20.10); a build step adds it without a layer.
    dockerfile = f"FROM {ref}\nSTOPSIGNAL SIGRTMIN+3\n"
    built = subprocess.run(["docker", "build", "-q", "-t", ref, "-"], input=dockerfile, capture_output=True, text=True)
    if built.returncode != 0:
        raise ToolchainError(f"docker build (the base image's stop signal) failed: {built.stderr.strip()}")
    shutil.rmtree(tree)
    return ref


def import_tree(tree: Path, ref: str, changes: list[str]) -> None:
    """`tar | docker import`: a file-system tree as a one-layer image."""
    flags = [arg for change in changes for arg in ("--change", change)]
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(tree), "--exclude=./dev/*", "-c", "."], stdout=subprocess.PIPE
    )
    imported = subprocess.run(["docker", "import", *flags, "-", ref], stdin=tar.stdout, capture_output=True, text=True)
    tar.wait()
    if tar.returncode != 0 or imported.returncode != 0:
        raise ToolchainError(f"docker import of {tree} failed: {imported.stderr.strip()}")


def lay_out_kind_base(
    tree: Path, binaries: Path, kind_module: Path, sandbox_image: str, log_file: Path, log: Log
) -> None:
    """Everything kind's Dockerfile does after installing packages, on a debootstrap tree."""
    _copy_kind_files(tree, kind_module)
    (tree / "kind").chmod(0o755)
    config = tree / "etc" / "containerd" / "config.toml"
    config.write_text(containerd_config(config.read_text(encoding="utf-8"), sandbox_image), encoding="utf-8")
    _prune_systemd(tree)
    for command in (
        ["systemctl", "enable", "kubelet.service", "containerd.service", "undo-mount-hacks.service"],
        ["systemctl", "mask", "systemd-binfmt.service"],  # it would register binfmt handlers kernel-wide
    ):
        run_step(["chroot", str(tree), *command], tree.parent, log_file, " ".join(command), log)
    _install_runtime(tree, binaries)
