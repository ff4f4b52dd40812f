"""Render every shipped blueprint once per test session, under Pulumi's mocks."""

from __future__ import annotations

import copy

import pytest

from blueprints import SHIPPED
from infra.render import Captured, render_blueprint

_CACHE: dict[str, Captured] = {}


def rendered(name: str) -> Captured:
    if name not in _CACHE:
        _CACHE[name] = render_blueprint(name)
    return _CACHE[name]


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
