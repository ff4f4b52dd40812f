"""The Kubernetes version the platform targets, read from the one place it is pinned.

`infra/kind/cluster.yaml` pins the kind node image; its tag is the Kubernetes version. The infra
tests validate manifests against that version's schemas, and the simulated control plane is
built at that version, so bumping the node image bumps everything.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

__all__ = ["KIND_CONFIG", "kubernetes_version", "node_image"]

KIND_CONFIG = Path(__file__).resolve().parent / "kind" / "cluster.yaml"


@cache
def node_image() -> str:
    config = yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))
    images = {node.get("image") for node in config.get("nodes", [])}
    if len(images) != 1 or None in images:
        raise ValueError(f"{KIND_CONFIG}: every node must name the same pinned image")
    return images.pop()


@cache
def kubernetes_version() -> str:
    """'1.35.8' from 'kindest/node:v1.35.8@sha256:...'."""
    match = re.search(r":v(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}$", node_image())
    if not match:
        raise ValueError(f"{KIND_CONFIG}: node image {node_image()!r} is not pinned as kindest/node:vX.Y.Z@sha256:...")
    return match.group(1)
