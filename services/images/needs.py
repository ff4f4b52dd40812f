"""What a blueprint needs: the images its rendered manifests name, matched against the catalog.

The manifests are the truth (what the cluster will pull), so the list is derived from them, not from
the catalog: an image that a component starts to use and the catalog lacks shows up as `unknown`, and
`mlplat images list` and the catalog test fail on it instead of leaving it out silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.images.catalog import Image, images_for

__all__ = ["Needs", "blueprint_needs", "manifest_images", "needs_from"]

_POD_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def manifest_images(manifests: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every image reference a set of manifests runs (containers and init containers of every pod spec)."""
    refs: set[str] = set()
    for manifest in manifests:
        spec: Any = manifest
        for key in _POD_PATHS.get(manifest.get("kind", ""), ("-",)):
            spec = spec.get(key) if isinstance(spec, Mapping) else None
        if not isinstance(spec, Mapping):
            continue
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            refs.add(container["image"])
    return refs


@dataclass(frozen=True)
class Needs:
    blueprint: str
    images: tuple[Image, ...]  # the catalog's entries: every deployed image, then the kind path's
    unknown: tuple[str, ...]  # references the manifests use that the catalog has no entry for


def needs_from(blueprint: str, deployed: set[str], platform_ref: str) -> Needs:
    """Pure: match the deployed references against the catalog (kind-path images are always needed)."""
    catalog = images_for(platform_ref)
    by_ref = {image.ref: image for image in catalog}
    unknown = tuple(sorted(ref for ref in deployed if ref not in by_ref))
    wanted = [image for image in catalog if image.ref in deployed or image.name in ("registry", "kind-node")]
    return Needs(blueprint, tuple(wanted), unknown)


def blueprint_needs(blueprint: str) -> Needs:
    """Render the blueprint (the Pulumi program under mocks, infra/render.py) and match its images."""
    from blueprints import load
    from infra.render import render_blueprint

    platform_ref = load(blueprint).platform.image.ref
    captured = render_blueprint(blueprint, mask_secrets=True)
    return needs_from(blueprint, manifest_images(captured.manifests), platform_ref)
