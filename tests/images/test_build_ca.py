"""An extra CA used for a build stays out of the images: not in their files, history or environment."""

from __future__ import annotations

import json
import subprocess

import pytest

from services.images.catalog import images_for

BUILT = [entry.name for entry in images_for() if entry.built_here]


@pytest.mark.parametrize("name", BUILT)
def test_no_image_carries_the_build_ca_or_its_argument(image, name):
    ref = image(name)
    history = subprocess.run(
        ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", ref], capture_output=True, text=True
    ).stdout
    config = json.loads(subprocess.run(["docker", "image", "inspect", ref], capture_output=True, text=True).stdout)
    environment = " ".join(config[0]["Config"].get("Env") or [])
    for text in (history, environment):
        assert "BEGIN CERTIFICATE" not in text and "EXTRA_CA_CERTS" not in text
