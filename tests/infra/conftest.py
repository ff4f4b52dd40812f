"""Render every shipped blueprint once per test session, under Pulumi's mocks."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import pytest
import yaml

from blueprints import SHIPPED
from blueprints.loader import BLUEPRINT_DIR
from infra.render import Captured, render_blueprint

_CACHE: dict[str, Captured] = {}


def rendered(name: str) -> Captured:
    if name not in _CACHE:
        _CACHE[name] = render_blueprint(name)
    return _CACHE[name]


def rendered_with_wal_archiving() -> Captured:
    """foundation with a 5-minute RPO (below 15 minutes, so WAL archiving is on) and a backup StorageClass."""
    if "wal" not in _CACHE:
        spec = yaml.safe_load((BLUEPRINT_DIR / "foundation.yaml").read_text())
        spec["platform"]["registry"]["backup"] = {"rpoMinutes": 5, "storageClass": "backup-hdd"}
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "five-minute-rpo.yaml"
            path.write_text(yaml.safe_dump(spec))
            _CACHE["wal"] = render_blueprint(path)
    return _CACHE["wal"]


@pytest.fixture(params=SHIPPED)
def blueprint_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def manifests(blueprint_name: str) -> list[dict]:
    """A deep copy, so a test that mutates manifests cannot leak into another."""
    return copy.deepcopy(rendered(blueprint_name).manifests)


def find(manifests: list[dict], kind: str, name: str, namespace: str | None = None) -> dict:
    for m in manifests:
        meta = m.get("metadata", {})
        if (
            m.get("kind") == kind
            and meta.get("name") == name
            and (namespace is None or meta.get("namespace") == namespace)
        ):
            return m
    raise LookupError(f"no {kind} {namespace}/{name}")
