"""Every manifest the program creates is valid against the real Kubernetes schemas, strictly."""

from __future__ import annotations

import kubernetes_validate
import pytest

from infra.versions import kubernetes_version


def schema_version() -> str:
    major, minor, _ = kubernetes_version().split(".")
    return f"{major}.{minor}.0"


def test_every_manifest_is_valid_for_the_pinned_kubernetes_version_in_strict_mode(manifests):
    errors = []
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, schema_version(), strict=True)
        except kubernetes_validate.ValidationError as exc:
            meta = manifest.get("metadata", {})
            errors.append(
                f"{manifest.get('kind')}/{meta.get('namespace', '')}/{meta.get('name')}: {exc.message} "
                f"at {'.'.join(map(str, exc.path))}"
            )
    assert errors == []
    assert len(manifests) > 40


def test_strict_validation_rejects_an_unknown_field(manifests):
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, schema_version(), strict=True)
