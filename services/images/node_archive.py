"""Image archives written without a Docker daemon: the format `docker save` writes, which `ctr images
import` (inside the kind node) and `docker load` read.

Why not `docker build`: the images a kind node carries (the control plane, CoreDNS, pause, ...) go straight
into the node's own containerd under the names kubeadm asks for (`registry.k8s.io/kube-apiserver:v1.35.8`);
building them with Docker would also tag those upstream names in the user's Docker, where a real pulled
image may live. An archive is plain files: one tar per layer, a config (JSON) listing the layers' digests,
and `manifest.json` naming the config, the layers and the tags. Layers are written once and reused by
digest: the Debian layer that kube-proxy, kube-router and the storage helper share is stored once in the
node's containerd, because it is byte for byte the same file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_PATH", "ImageSpec", "digest", "layer_from_files", "layer_from_tree", "write_archive"]

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = "1970-01-01T00:00:00Z"  # fixed times: the same inputs give the same digests
# A file in a layer: where it comes from (a file on disk, or its bytes) and its mode.
Source = tuple[Path | bytes, int]


@dataclass(frozen=True)
class ImageSpec:
    """One image: its name, its layers (bottom first) and the config a runtime reads."""

    ref: str  # "registry.k8s.io/kube-apiserver:v1.35.8"
    layers: tuple[Path, ...]
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = (DEFAULT_PATH,)
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


def digest(path: Path) -> str:
    """sha256 of a file, as an OCI digest."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return f"sha256:{sha.hexdigest()}"


def layer_from_files(files: Mapping[str, Source], out: Path) -> Path:
    """A layer holding `files` ({path in the image: (source, mode)}), owned by root, with fixed times.

    Parent folders are added (0755) and /tmp exists (1777), as programs expect of any image."""
    folders = {"tmp"}
    for name in files:
        parts = name.strip("/").split("/")[:-1]
        folders.update("/".join(parts[: depth + 1]) for depth in range(len(parts)))
    partial = out.with_name(f".{out.name}.partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for folder in sorted(folders):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        for name, (source, mode) in sorted(files.items()):
            data = source if isinstance(source, bytes) else source.read_bytes()
            info = tarfile.TarInfo(name.strip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    partial.rename(out)
    return out


def layer_from_tree(root: Path, out: Path) -> Path:
    """A layer holding a whole root file system (a debootstrap tree), owners and capabilities kept.

    GNU tar rather than Python's tarfile: it keeps extended attributes (file capabilities) and is fast on
    trees of thousands of files. /dev, /proc and /sys stay empty: the runtime mounts them."""
    partial = out.with_name(f".{out.name}.partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "--sort=name", "--mtime=@0"]
        + ["--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*"]
        + ["-C", str(root), "-cf", str(partial), "."],
        check=True,
    )
    partial.rename(out)
    return out


def _config(spec: ImageSpec, diff_ids: Sequence[str]) -> bytes:
    runtime: dict[str, object] = {"Env": list(spec.env), "WorkingDir": "/"}
    if spec.entrypoint:
        runtime["Entrypoint"] = list(spec.entrypoint)
    if spec.cmd:
        runtime["Cmd"] = list(spec.cmd)
    if spec.user:
        runtime["User"] = spec.user
    if spec.labels:
        runtime["Labels"] = dict(spec.labels)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": EPOCH,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created": EPOCH, "created_by": f"mlops-platform: {spec.ref}"} for _ in diff_ids],
    }
    return json.dumps(config, sort_keys=True).encode()


def write_archive(spec: ImageSpec, out: Path) -> Path:
    """Write `spec` as a `docker save` archive at `out` (atomically: a partial file is renamed)."""
    diff_ids = [digest(layer) for layer in spec.layers]
    config = _config(spec, diff_ids)
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    layer_names = [f"{diff_id.split(':', 1)[1]}/layer.tar" for diff_id in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [spec.ref], "Layers": layer_names}]
    partial = out.with_name(f".{out.name}.partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for layer, name in zip(spec.layers, layer_names, strict=True):
            info = tar.gettarinfo(str(layer), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with open(layer, "rb") as handle:
                tar.addfile(info, handle)
        for name, data in ((config_name, config), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    os.replace(partial, out)
    return out
