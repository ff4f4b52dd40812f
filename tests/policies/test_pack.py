"""The CrossGuard pack: every rule is a policy of the same name, wired to the same pure function,
configured from the blueprint, and safe to import (only `__main__.py` starts the analyzer)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from blueprints import load
from policies.catalog import RULES
from policies.deploy.pack import PACK_NAME, POLICIES, settings_from_config
from policies.enforcement import pulumi_config
from tests.policies.corpus import CASES_DIR, Case

PACK_DIR = Path(__file__).resolve().parents[2] / "policies" / "deploy"
POLICY = {policy.name: policy for policy in POLICIES}
_OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _token(manifest: dict) -> str:
    group, _, version = manifest["apiVersion"].rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{manifest['kind']}"


def _resource_violations(rule: str, manifest: dict, config: dict | None = None) -> list[tuple[str, str | None]]:
    reported: list[tuple[str, str | None]] = []
    args = ResourceValidationArgs(
        _token(manifest), unknown_checking_proxy(manifest), "urn:pulumi:dev::p::x", "x", _OPTS, None, config
    )
    POLICY[rule].validate(args, lambda message, urn=None: reported.append((message, urn)))
    return reported


def _case(name: str) -> list[dict]:
    return Case(CASES_DIR / f"{name}.yaml", None).documents(namespace="team-a")


def test_every_catalogue_rule_is_a_policy_of_the_same_name_and_kind():
    assert [policy.name for policy in POLICIES] == [rule.id for rule in RULES]
    for rule in RULES:
        expected = StackValidationPolicy if rule.scope == "stack" else ResourceValidationPolicy
        assert isinstance(POLICY[rule.id], expected)


def test_policies_default_to_mandatory_so_a_missing_config_fails_closed():
    assert {policy.enforcement_level for policy in POLICIES} == {EnforcementLevel.MANDATORY}


def test_a_resource_policy_reports_the_rule_functions_messages():
    (manifest,) = _case("bad/no-privileged--pod")
    ((message, urn),) = _resource_violations("no-privileged", manifest)
    assert message.startswith("container 'web' (spec.containers[0]) is privileged")
    assert urn is None  # pulumi-policy attaches the resource's own URN


def test_a_resource_policy_ignores_resources_that_are_not_kubernetes_objects():
    reported = []
    args = ResourceValidationArgs("pulumi:providers:kubernetes", {}, "urn:x", "cluster", _OPTS, None, {})
    POLICY["required-labels"].validate(args, lambda message, urn=None: reported.append(message))
    assert reported == []


def test_the_allowed_registries_come_from_the_policy_config():
    (manifest,) = _case("bad/allowed-registries--pod-unknown-registry")
    assert _resource_violations("allowed-registries", manifest)
    config = {"allowedRegistries": ["registry.example.com"]}
    assert _resource_violations("allowed-registries", manifest, config) == []
    assert settings_from_config(config).allowed_registries == ["registry.example.com"]


def test_a_value_unknown_in_preview_defers_only_the_rules_that_read_it():
    (manifest,) = _case("good/pod")
    manifest["spec"]["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    with pytest.raises(UnknownValueError):
        _resource_violations("image-pinned", manifest)
    assert _resource_violations("container-resources", manifest) == []


def test_a_stack_policy_reports_the_offending_resource_by_urn():
    documents = _case("bad/tenant-quota--missing")
    resources = [
        PolicyResource(
            _token(d), unknown_checking_proxy(d), f"urn:{d['kind']}", d["metadata"]["name"], _OPTS, None, None, [], {}
        )
        for d in documents
    ]
    reported: list[tuple[str, str | None]] = []
    POLICY["tenant-quota"].validate(StackValidationArgs(resources, {}), lambda m, urn=None: reported.append((m, urn)))
    assert reported == [
        (
            "Namespace/team-a: tenant namespace 'team-a' has no ResourceQuota with hard limits: "
            "add one capping cpu and memory",
            "urn:Namespace",
        )
    ]


def test_the_pack_config_from_a_blueprint_carries_every_level_and_the_registries():
    config = pulumi_config(load("multi-tenant").platform.policy)
    assert set(config) == {rule.id for rule in RULES}
    assert config["required-labels"] == {"enforcementLevel": "advisory"}
    assert config["no-privileged"] == {"enforcementLevel": "mandatory"}
    assert config["allowed-registries"]["allowedRegistries"][0] == "docker.io"
    assert {c["enforcementLevel"] for c in config.values()} <= {level.value for level in EnforcementLevel}


def test_main_holds_the_policy_pack_call_and_nothing_else():
    """PolicyPack(...) serves gRPC forever: a module that tests import must never construct it."""
    tree = ast.parse((PACK_DIR / "__main__.py").read_text())
    statements = [node for node in tree.body if not isinstance(node, ast.Import | ast.ImportFrom)]
    assert len(statements) == 2  # the docstring and the call
    call = statements[1].value
    assert isinstance(call, ast.Call) and call.func.id == "PolicyPack"
    assert "PolicyPack(" not in (PACK_DIR / "pack.py").read_text()
    assert PACK_NAME == "mlops-platform-guardrails"


def test_the_pack_runs_in_the_project_virtualenv():
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    virtualenv = (PACK_DIR / project["runtime"]["options"]["virtualenv"]).resolve()
    assert virtualenv == PACK_DIR.parents[1] / ".venv"
    assert not (PACK_DIR / "requirements.txt").exists()  # nothing for Pulumi to install into it
