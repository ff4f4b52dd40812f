"""The mirror rule (services/images/mirror.py): same path, tag and digest under another registry."""

from __future__ import annotations

import pytest

from policies.kube import image_is_pinned
from services.images.catalog import images_for
from services.images.mirror import MirrorError, mirrored, parse

DIGEST = "sha256:" + "07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("quay.io/prometheus/prometheus:v3.5.0", "localhost:5001/prometheus/prometheus:v3.5.0"),
        ("registry.k8s.io/metrics-server/metrics-server:v0.8.0", "localhost:5001/metrics-server/metrics-server:v0.8.0"),
        ("docker.io/grafana/grafana:12.0.2", "localhost:5001/grafana/grafana:12.0.2"),
        ("mlops-platform/platform:0.1.0", "localhost:5001/mlops-platform/platform:0.1.0"),
    ],
)
def test_the_registry_is_replaced_and_the_path_and_tag_stay(ref, expected):
    assert mirrored(ref, "localhost:5001") == expected


def test_docker_official_images_keep_library_in_every_spelling():
    for ref in (
        "docker.io/library/postgres:15.13-alpine",
        "postgres:15.13-alpine",
        "index.docker.io/postgres:15.13-alpine",
    ):
        assert mirrored(ref, "localhost:5001") == "localhost:5001/library/postgres:15.13-alpine"


def test_a_digest_is_kept_with_or_without_a_tag():
    assert (
        mirrored(f"kindest/node:v1.35.8@{DIGEST}", "localhost:5001") == f"localhost:5001/kindest/node:v1.35.8@{DIGEST}"
    )
    assert mirrored(f"quay.io/a/b@{DIGEST}", "mirror.example.com/cache") == f"mirror.example.com/cache/a/b@{DIGEST}"


def test_a_registry_with_a_port_is_a_registry_and_a_mirror_with_a_path_prefixes_it():
    assert mirrored("localhost:5000/team/model:1.0", "registry.example.com/mirror") == (
        "registry.example.com/mirror/team/model:1.0"
    )
    assert parse("localhost/foo:1").registry == "localhost"


def test_a_reference_already_under_the_mirror_is_unchanged():
    once = mirrored("quay.io/prometheus/prometheus:v3.5.0", "localhost:5001")
    assert mirrored(once, "localhost:5001") == once


def test_pinned_references_stay_pinned_and_unpinned_ones_stay_unpinned():
    for image in images_for():
        assert image_is_pinned(mirrored(image.ref, "localhost:5001")) == image_is_pinned(image.ref), image.ref
    assert not image_is_pinned(mirrored("docker.io/library/nginx", "localhost:5001"))  # no tag is invented


def test_no_two_images_of_the_platform_meet_under_a_mirror():
    refs = [mirrored(image.ref, "localhost:5001") for image in images_for()]
    assert len(refs) == len(set(refs))


@pytest.mark.parametrize("mirror", ["http://localhost:5001", "localhost:5001/", "Registry.Example.com", ""])
def test_a_mirror_that_is_not_a_registry_prefix_is_refused_with_the_form_to_use(mirror):
    with pytest.raises(MirrorError, match="without a scheme"):
        mirrored("quay.io/prometheus/prometheus:v3.5.0", mirror)


@pytest.mark.parametrize("ref", ["Quay.io/Prometheus:v1", "quay.io/prometheus:", "a b:1", "x/y:1:2"])
def test_a_malformed_reference_is_refused(ref):
    with pytest.raises(MirrorError):
        mirrored(ref, "localhost:5001")
