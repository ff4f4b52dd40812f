"""Enforcement levels come from the blueprint's `platform.policy`; a mistake there is caught when
the blueprint loads, with the field and the fix."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from blueprints import BlueprintError, load, load_text
from blueprints.loader import BLUEPRINT_DIR
from blueprints.schema import PolicySettings
from policies.catalog import RULE_IDS
from policies.enforcement import levels

BASE = yaml.safe_load((BLUEPRINT_DIR / "multi-tenant.yaml").read_text())


def _load_with_policy(policy: dict) -> None:
    data = copy.deepcopy(BASE)
    data["platform"]["policy"] = policy
    load_text(yaml.safe_dump(data), source="blueprints/x.yaml")


def test_every_rule_gets_the_default_level_unless_the_blueprint_overrides_it():
    settings = PolicySettings(default_enforcement="advisory", enforcement={"no-privileged": "mandatory"})
    assert levels(settings) == {rule: "mandatory" if rule == "no-privileged" else "advisory" for rule in RULE_IDS}


def test_the_shipped_blueprints_levels():
    assert set(levels(load("enterprise").platform.policy).values()) == {"mandatory"}
    multi_tenant = levels(load("multi-tenant").platform.policy)
    assert multi_tenant["required-labels"] == "advisory"
    assert {level for rule, level in multi_tenant.items() if rule != "required-labels"} == {"mandatory"}


def test_an_unknown_rule_name_is_an_error_that_suggests_the_right_one():
    with pytest.raises(BlueprintError) as caught:
        _load_with_policy({"enforcement": {"no-privileged-containers": "advisory"}})
    assert str(caught.value).startswith(
        "blueprints/x.yaml: platform.policy.enforcement: unknown rule 'no-privileged-containers': "
        "did you mean 'no-privileged'? known rules: container-resources, no-privileged,"
    )


def test_an_unknown_level_is_an_error_listing_the_levels():
    with pytest.raises(BlueprintError, match="platform.policy.enforcement.image-pinned: 'strict' is not allowed"):
        _load_with_policy({"enforcement": {"image-pinned": "strict"}})


@pytest.mark.parametrize("registry", ["https://quay.io", "quay.io/", "Quay.io", "quay.io/my org", "quay.io'"])
def test_an_allowed_registry_must_be_a_registry_prefix(registry):
    expected = f"platform.policy.allowedRegistries: {re.escape(repr(registry))} is not a registry prefix"
    with pytest.raises(BlueprintError, match=expected):
        _load_with_policy({"allowedRegistries": [registry]})


def test_at_least_one_registry_must_be_allowed():
    with pytest.raises(BlueprintError, match="platform.policy.allowedRegistries: list should have at least 1 item"):
        _load_with_policy({"allowedRegistries": []})


@pytest.mark.parametrize("registry", ["quay.io", "ghcr.io/my-org", "localhost:5000", "mlops-platform"])
def test_registry_prefixes_may_carry_a_port_or_a_path(registry):
    _load_with_policy({"allowedRegistries": [registry]})
