"""The blueprint's LLM sections: the shipped llm blueprint loads, and each mistake gets its message."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from blueprints import BlueprintError, load, load_text
from blueprints.loader import BLUEPRINT_DIR
from policies.deploy.stack_rules import llm_gateway_limits
from policies.kube import from_manifest

BASE = yaml.safe_load((BLUEPRINT_DIR / "llm.yaml").read_text())


def _errors(mutate) -> str:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(BlueprintError) as caught:
        load_text(yaml.safe_dump(data), source="blueprints/x.yaml")
    return str(caught.value)


def test_the_llm_blueprint_shares_three_models_between_two_budgeted_tenants():
    blueprint = load("llm")
    budgets = {t.name: t.llm.budgets for t in blueprint.tenants if t.llm and t.llm.budgets}
    assert set(budgets) == {"support", "research"}
    assert budgets["support"].tokens_per_minute < budgets["research"].tokens_per_minute
    assert [m.name for m in blueprint.tenant("genai").llm.models] == ["chat-tiny", "chat-small", "chat-large"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["platform"]["llm"]["routes"][0]["models"].append("chat-huge"),
            "platform.llm.routes[0].models: 'chat-huge' is neither a tenant's LLM",
        ),
        (
            lambda d: d["tenants"][1]["llm"]["routes"].append("chat-premium"),
            "tenants[1].llm.routes: no route 'chat-premium' in platform.llm.routes",
        ),
        (
            lambda d: d["tenants"][1]["llm"].pop("budgets"),
            "tenants[1].llm.budgets: a tenant that calls routes needs budgets",
        ),
        (
            lambda d: d["platform"]["llm"]["gateway"]["guardrails"].pop("maxTokens"),
            "platform.llm.gateway.guardrails.maxTokens: required key is missing",
        ),
        (
            lambda d: d["tenants"][0]["llm"]["models"][0].update(source={"builtin": "tiny", "url": "https://x/m.gguf"}),
            "give exactly one of builtin (tiny, small, large), url (a .gguf file) or huggingFace",
        ),
        (
            lambda d: d["tenants"][0]["llm"]["models"][0].update(quality="premium"),
            "tenants[0].llm.models[0].quality: 'premium' is not allowed",
        ),
        (
            lambda d: d["tenants"][0]["llm"]["models"][2].update(name="chat-tiny"),
            "tenants[0].llm.models[2].name: 'chat-tiny' is declared twice",
        ),
        (
            lambda d: d["platform"].pop("llm"),
            "tenants[1].llm.routes: no gateway is declared",
        ),
        (
            lambda d: d["tenants"][0]["llm"]["models"][0].update(replicas=20),
            "tenants[0].quotas.cpu",
        ),
    ],
)
def test_llm_mistakes_name_the_field_and_the_fix(mutate, message):
    assert message in _errors(mutate)


def _gateway_configmap(document: dict) -> object:
    return from_manifest(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "llm-gateway", "labels": {"app.kubernetes.io/component": "llm-gateway"}},
            "data": {"gateway.json": json.dumps(document)},
        }
    )


def test_the_deploy_rule_refuses_a_gateway_without_a_cap_or_a_budget():
    from blueprints.schema import PolicySettings

    good = {"max_tokens": 256, "tenants": {"a": {"tokens_per_minute": 10, "spend_per_day": 1.0}}}
    assert llm_gateway_limits([_gateway_configmap(good)], PolicySettings()) == []
    no_cap = {**good, "max_tokens": None}
    no_budget = {**good, "tenants": {"a": {"tokens_per_minute": 10, "spend_per_day": 0}}}
    (problem,) = llm_gateway_limits([_gateway_configmap(no_cap)], PolicySettings())
    assert "max_tokens" in problem[1]
    (problem,) = llm_gateway_limits([_gateway_configmap(no_budget)], PolicySettings())
    assert "spend_per_day" in problem[1]
