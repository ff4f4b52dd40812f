"""Who may do what in a registry, decided from the blueprint (services/registry/access.py, ADR 0017)."""

from __future__ import annotations

import copy

import pytest
import yaml

from blueprints import load, load_text
from blueprints.loader import BLUEPRINT_DIR
from services.registry.access import (
    ADMIN,
    GATE,
    MONITORING,
    AccessPlan,
    Grant,
    access_plan,
    password_env,
    registry_instances,
    serving_user,
)


def _grants(plan: AccessPlan, user: str) -> set[tuple[str, str, str]]:
    return {(g.resource, g.name, g.permission) for g in plan.grants if g.user == user}


def test_a_tenant_edits_its_own_models_and_experiments_and_nothing_else():
    plan = access_plan(load("multi-tenant"))
    assert _grants(plan, "recsys") == {
        ("registered_model", "ranker", "EDIT"),
        ("registered_model", "embedder", "EDIT"),
        ("experiment", "recsys-ranker", "EDIT"),
        ("experiment", "recsys-embedder", "EDIT"),
    }
    assert _grants(plan, serving_user("recsys")) == {
        ("registered_model", "ranker", "READ"),
        ("registered_model", "embedder", "READ"),
        ("experiment", "recsys-ranker", "READ"),
        ("experiment", "recsys-embedder", "READ"),
    }


def test_the_gate_manages_every_model_and_edits_only_the_experiments_the_trigger_runs_in():
    plan = access_plan(load("multi-tenant"))
    assert _grants(plan, GATE) == {
        ("registered_model", "*", "MANAGE"),
        ("experiment", "*", "READ"),
        ("experiment", "fraud-fraud-scorer", "EDIT"),  # fraud-scorer is retrained on drift
    }
    assert _grants(plan, MONITORING) == set()  # it only signs in to scrape /metrics


def test_every_declared_model_and_experiment_is_created_by_the_bootstrap_not_by_a_tenant():
    plan = access_plan(load("multi-tenant"))
    assert dict(plan.models) == {
        "fraud-scorer": "fraud",
        "ranker": "recsys",
        "embedder": "recsys",
        "demand": "forecasting",
    }
    assert set(plan.experiments) == {"fraud-fraud-scorer", "recsys-ranker", "recsys-embedder", "forecasting-demand"}
    assert ADMIN not in plan.users  # MLflow creates its admin from its own configuration


def test_a_dedicated_registry_has_only_its_tenant_and_the_platform_users():
    enterprise = load("enterprise")
    assert registry_instances(enterprise) == ["shared", "clinical"]
    clinical = access_plan(enterprise, "clinical")
    assert set(clinical.users) == {GATE, MONITORING, "clinical", "clinical.serving"}
    assert dict(clinical.models) == {"readmission": "clinical"}
    assert "clinical" not in access_plan(enterprise, "shared").users
    with pytest.raises(ValueError, match="no tenant 'payments' with a dedicated registry"):
        access_plan(enterprise, "payments")


def test_standalone_serves_every_tenant_from_one_registry_and_refuses_a_name_two_declare():
    enterprise = load("enterprise")
    assert {"clinical", "payments", "marketing"} <= set(access_plan(enterprise, None).users)
    spec = yaml.safe_load((BLUEPRINT_DIR / "enterprise.yaml").read_text())
    clash = copy.deepcopy(spec)
    clash["tenants"][2]["models"][0]["name"] = "churn"  # the dedicated tenant reuses marketing's name: allowed
    blueprint = load_text(yaml.safe_dump(clash))
    assert access_plan(blueprint, "clinical").models == (("churn", "clinical"),)
    with pytest.raises(ValueError, match="tenants 'marketing' and 'clinical' both declare model 'churn'"):
        access_plan(blueprint, None)


def test_the_plan_travels_as_json_and_its_digest_follows_its_content():
    plan = access_plan(load("multi-tenant"))
    assert AccessPlan.from_json(plan.to_json()) == plan
    changed = AccessPlan(
        plan.instance, plan.users, plan.models, plan.experiments, (*plan.grants, Grant("x", "experiment", "y", "READ"))
    )
    assert changed.digest() != plan.digest() and len(plan.digest()) == 10


def test_password_variables_are_valid_environment_names():
    assert password_env("recsys.serving") == "MLPLAT_PASSWORD_RECSYS_SERVING"
    assert password_env("platform.gate") == "MLPLAT_PASSWORD_PLATFORM_GATE"
    assert password_env("data-science") == "MLPLAT_PASSWORD_DATA_SCIENCE"
