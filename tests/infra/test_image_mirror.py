"""An air-gapped install: with an image mirror every pod pulls from it, under the same path and tag, and the
policy gates still pass; without Grafana's image the rest deploys unchanged (docs/air-gapped.md)."""

from __future__ import annotations

import pytest

from blueprints import BlueprintError, load, load_text
from infra.render import render_blueprint
from policies.admission.engine import check as admission_check
from policies.deploy.check import check
from policies.kube import from_manifest
from services.images.mirror import parse
from tests.infra.conftest import rendered
from tests.infra.integrity import pod_templates

MIRROR = "localhost:5001"


def _images(manifests: list[dict]) -> list[str]:
    return [
        container["image"]
        for _, template in pod_templates(manifests)
        for container in [*template["spec"].get("initContainers", []), *template["spec"]["containers"]]
    ]


@pytest.fixture(scope="module")
def mirrored():
    config = {"mlops-platform:imageMirror": MIRROR}
    return render_blueprint("multi-tenant", config=config, mask_secrets=True).manifests  # generated secrets masked


def test_every_image_is_pulled_from_the_mirror_at_the_same_path_and_tag(mirrored):
    plain = sorted(_images(rendered("multi-tenant").manifests))
    under = sorted(_images(mirrored))
    assert len(under) == len(plain) > 20
    assert all(ref.startswith(f"{MIRROR}/") for ref in under)
    assert sorted((parse(ref).path, parse(ref).tag) for ref in under) == sorted(
        (parse(ref).path, parse(ref).tag) for ref in plain
    )


def test_the_policy_gates_allow_the_mirror_and_still_hold_every_other_rule(mirrored):
    objects = [from_manifest(m) for m in mirrored]
    settings = load("multi-tenant").under_mirror(MIRROR).platform.policy
    assert [f for f in check(objects, settings) if f.level == "mandatory"] == []
    assert [f for f in admission_check(objects, settings) if f.level == "mandatory"] == []
    # the same objects against the blueprint's own registries: the mirror is what the gate refuses
    own = load("multi-tenant").platform.policy
    assert {f.rule for f in check(objects, own) if f.level == "mandatory"} == {"allowed-registries"}


def test_nothing_else_changes_under_a_mirror_but_the_registries_admission_allows(mirrored):
    def without_images(manifests):
        out = []
        for manifest in manifests:
            if manifest["kind"] == "ValidatingAdmissionPolicy" and manifest["metadata"]["name"].startswith(
                "allowed-registries."
            ):
                assert (MIRROR in repr(manifest)) == (manifests is mirrored)  # the one policy that names registries
                continue
            if manifest["kind"] == "Job":  # Jobs are named after what they run, the image included
                manifest = {**manifest, "metadata": {**manifest["metadata"], "name": "JOB"}}
            text = repr(manifest)
            for ref in set(_images([manifest])):
                text = text.replace(ref, "IMAGE")
            out.append(text)
        return sorted(out)

    assert without_images(mirrored) == without_images(render_blueprint("multi-tenant", mask_secrets=True).manifests)


def test_without_grafana_only_grafanas_objects_are_left_out():
    full = rendered("foundation").manifests
    lean = render_blueprint("foundation", config={"mlops-platform:grafana": "false"}).manifests

    def key(m):
        return (m["kind"], m["metadata"].get("namespace", ""), m["metadata"]["name"])

    gone = {key(m) for m in full} - {key(m) for m in lean}
    assert gone and all("grafana" in name for _, _, name in gone)
    assert {key(m) for m in lean} <= {key(m) for m in full}


def test_a_mirror_the_policy_does_not_allow_is_refused_naming_the_fix():
    text = (
        "apiVersion: mlops-platform/v1\nkind: Blueprint\nmetadata: {name: x}\n"
        "platform: {imageMirror: 'registry.corp:5000'}\n"
        "tenants: [{name: a, quotas: {cpu: '1', memory: 1Gi, pods: 5, storage: 1Gi}}]\n"
    )
    with pytest.raises(BlueprintError, match=r"imageMirror: 'registry.corp:5000' is not in policy.allowedRegistries"):
        load_text(text, source="x.yaml")


def test_a_mirror_that_is_not_a_registry_is_refused():
    text = (
        "apiVersion: mlops-platform/v1\nkind: Blueprint\nmetadata: {name: x}\n"
        "platform: {imageMirror: 'https://registry.corp/'}\n"
        "tenants: [{name: a, quotas: {cpu: '1', memory: 1Gi, pods: 5, storage: 1Gi}}]\n"
    )
    with pytest.raises(BlueprintError, match="is not a registry: write a lowercase host"):
        load_text(text, source="x.yaml")
