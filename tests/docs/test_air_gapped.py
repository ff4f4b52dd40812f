"""docs/air-gapped.md leaves no image out: every catalog image and base is named with its reference."""

from __future__ import annotations

from pathlib import Path

from services.images.catalog import BASES, images_for

DOC = (Path(__file__).resolve().parents[2] / "docs" / "air-gapped.md").read_text(encoding="utf-8")


def test_every_image_of_the_catalog_is_in_the_table_with_its_reference():
    missing = [image.ref for image in images_for() if f"`{image.ref.split('@')[0]}" not in DOC]
    assert missing == []


def test_every_base_is_named_with_the_image_it_plays():
    missing = [base.ref for base in BASES if f"`{base.ref}` | `{base.plays}`" not in DOC]
    assert missing == []


def test_every_image_not_built_here_says_why_and_what_instead():
    for image in images_for():
        if not image.built_here:
            assert f"{image.ref.split('@')[0]}" in DOC and "not built" in DOC.split(image.ref.split("@")[0], 1)[1][:400]
