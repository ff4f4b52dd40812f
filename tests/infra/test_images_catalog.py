"""The image catalog (services/images/catalog.py) against what every shipped blueprint deploys.

The manifests are the truth: every image they run must have a catalog entry (so `mlplat images build`
and docs/air-gapped.md cover it), every deployed entry must be used, and each image's user in the
catalog, the one the Docker tests run it as, must be the one its pods pin.
"""

from __future__ import annotations

from blueprints import SHIPPED, load
from services.images.catalog import DEPLOYED, LLM, PLATFORM, images_for
from services.images.needs import manifest_images, needs_from
from tests.infra.conftest import rendered, rendered_with_wal_archiving


def _pod_specs(manifests):
    paths = {
        "Deployment": ("spec", "template", "spec"),
        "StatefulSet": ("spec", "template", "spec"),
        "Job": ("spec", "template", "spec"),
        "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    }
    for manifest in manifests:
        if manifest["kind"] in paths:
            spec = manifest
            for key in paths[manifest["kind"]]:
                spec = spec[key]
            yield manifest, spec


def test_every_image_a_blueprint_runs_has_a_catalog_entry(blueprint_name, manifests):
    platform_ref = load(blueprint_name).platform.image.ref
    needs = needs_from(blueprint_name, manifest_images(manifests), platform_ref)
    assert needs.unknown == ()
    assert {image.ref for image in needs.images} >= manifest_images(manifests)


def test_wal_archiving_adds_no_image_the_catalog_lacks():
    refs = manifest_images(rendered_with_wal_archiving().manifests)
    assert refs <= {image.ref for image in images_for()}


def test_every_deployed_catalog_entry_is_run_by_some_shipped_blueprint():
    used = set().union(*(manifest_images(rendered(name).manifests) for name in SHIPPED))
    assert {image.ref for image in (*DEPLOYED, PLATFORM, LLM)} == used


def test_the_kind_path_images_are_always_needed(blueprint_name, manifests):
    needs = needs_from(blueprint_name, manifest_images(manifests), PLATFORM.ref)
    assert {"registry", "kind-node"} <= {image.name for image in needs.images}


def test_each_image_runs_in_its_pods_as_the_user_the_catalog_names(blueprint_name, manifests):
    by_ref = {image.ref: image for image in images_for()}
    for manifest, spec in _pod_specs(manifests):
        for container in spec["containers"]:
            uid = (container.get("securityContext") or {}).get("runAsUser") or spec["securityContext"]["runAsUser"]
            image = by_ref[container["image"]]
            assert uid == image.uid, f"{manifest['kind']} {manifest['metadata']['name']}: {image.name} runs as {uid}"
