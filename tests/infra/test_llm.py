"""LLM serving on the cluster (infra/components/llm_service.py, llm_gateway.py), for the llm blueprint."""

from __future__ import annotations

import json

import yaml

from blueprints import load, load_text
from blueprints.loader import BLUEPRINT_DIR
from blueprints.naming import Ports
from infra.components.llm_gateway import gateway_network_policies
from tests.infra.conftest import find, rendered


def _manifests() -> list[dict]:
    return rendered("llm").manifests


def test_each_llm_is_a_statefulset_behind_a_headless_service_so_the_gateway_names_every_replica():
    manifests = _manifests()
    service = find(manifests, "Service", "chat-tiny", "genai")
    assert service["spec"]["clusterIP"] == "None"
    statefulset = find(manifests, "StatefulSet", "chat-tiny", "genai")
    assert statefulset["spec"]["serviceName"] == "chat-tiny" and statefulset["spec"]["replicas"] == 2
    args = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:3] == ["llm", "backend", "models:/chat-tiny@champion"]
    config = json.loads(find(manifests, "ConfigMap", "llm-gateway", "mlops-system")["data"]["gateway.json"])
    assert config["deployments"]["chat-tiny"]["replicas"] == [
        f"http://chat-tiny-{i}.chat-tiny.genai.svc.cluster.local:{Ports.LLM_BACKEND}" for i in range(2)
    ]
    find(manifests, "PodDisruptionBudget", "chat-tiny", "genai")  # two replicas: a drain keeps one


def test_only_the_gateway_reaches_an_llm_backend():
    policy = find(_manifests(), "NetworkPolicy", "allow-llm-gateway-to-chat-large", "genai")
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "mlops-system"}
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "llm-gateway"
    assert rule["ports"] == [{"protocol": "TCP", "port": Ports.LLM_BACKEND}]


def test_the_gateway_reaches_its_backends_cache_and_dns_only_and_no_internet_without_a_provider():
    policy = find(_manifests(), "NetworkPolicy", "llm-gateway-egress", "mlops-system")
    ports = sorted({p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]})
    assert ports == sorted({Ports.DNS, Ports.LLM_BACKEND, Ports.POSTGRES})
    assert not any("ipBlock" in peer for rule in policy["spec"]["egress"] for peer in rule["to"])


def test_declaring_a_provider_opens_egress_on_443_to_public_addresses_only():
    spec = yaml.safe_load((BLUEPRINT_DIR / "llm.yaml").read_text())
    spec["platform"]["llm"]["providers"] = [
        {
            "name": "openai",
            "url": "https://api.openai.com/v1",
            "keySecret": "openai-api-key",
            "models": [{"name": "gpt-4o-mini", "contextLength": 128000, "quality": "high",
                        "prices": {"inputPer1k": 0.00015, "outputPer1k": 0.0006}}],
        }
    ]  # fmt: skip
    blueprint = load_text(yaml.safe_dump(spec))
    egress = gateway_network_policies(blueprint, "mlops-system", ["support"])[("mlops-system", "llm-gateway-egress")]
    (internet,) = [rule for rule in egress["egress"] if "ipBlock" in rule["to"][0]]
    assert internet["ports"] == [{"protocol": "TCP", "port": 443}]
    assert "10.0.0.0/8" in internet["to"][0]["ipBlock"]["except"]


def test_consuming_tenants_get_their_key_and_the_one_egress_to_the_gateway():
    manifests = _manifests()
    for tenant in ("support", "research"):
        assert find(manifests, "Secret", "llm-api-key", tenant)
        policy = find(manifests, "NetworkPolicy", "allow-egress-to-llm-gateway", tenant)
        assert policy["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": Ports.LLM_GATEWAY}]
    keys = find(manifests, "Secret", "llm-api-keys", "mlops-system")
    assert set(keys.get("stringData") or keys.get("data")) == {"support", "research"}


def test_the_cache_database_and_embeddings_admit_the_gateway_alone_and_call_nothing():
    manifests = _manifests()
    for name in ("llm-cache-db-only-from-gateway", "llm-embeddings-only-from-gateway"):
        policy = find(manifests, "NetworkPolicy", name, "mlops-system")
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and "egress" not in policy["spec"]


def test_the_gateway_configuration_carries_the_cap_and_every_tenants_budgets():
    config = json.loads(find(_manifests(), "ConfigMap", "llm-gateway", "mlops-system")["data"]["gateway.json"])
    blueprint = load("llm")
    assert config["max_tokens"] == blueprint.platform.llm.gateway.guardrails.max_tokens
    assert config["tenants"]["support"]["tokens_per_minute"] == 20000
    assert config["tenants"]["research"]["routes"] == ["chat", "chat-quality"]
