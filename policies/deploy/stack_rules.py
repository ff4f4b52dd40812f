"""The deploy-time guardrails that need every object at once, as pure functions.

"Every tenant namespace has a quota" or "this Deployment has a PDB" cannot be decided from one
object: it is a question about what else the stack contains. In Pulumi's terms these are stack
validations; here each is `check(objects, settings) -> list[(object, message)]`, naming the
object a reader should look at. No admission policy can express them (an admission request
carries one object), which is why they live only in the deploy gate; docs/policies.md says what
admission does instead.

A tenant namespace is a Namespace labelled `platform.mlops/tenant` (the Tenant component sets it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from blueprints.naming import LABEL_TENANT
from blueprints.schema import PolicySettings
from policies.kube import KubeObject, mapping, pod_template, selector_matches, sequence

__all__ = ["StackCheck", "StackViolation", "STACK_RULES", "SERVING_COMPONENT"]

StackViolation = tuple[KubeObject, str]
StackCheck = Callable[[list[KubeObject], PolicySettings], list[StackViolation]]

# The `app.kubernetes.io/component` of the platform's model servers (infra/components/model_service.py).
SERVING_COMPONENT = "model-server"


def _tenant_namespaces(objects: list[KubeObject]) -> list[KubeObject]:
    return [obj for obj in objects if obj.kind == "Namespace" and LABEL_TENANT in obj.labels]


def _in(objects: list[KubeObject], namespace: KubeObject, kind: str) -> list[KubeObject]:
    return [obj for obj in objects if obj.kind == kind and obj.namespace == namespace.name]


def tenant_quota(objects: list[KubeObject], settings: PolicySettings) -> list[StackViolation]:
    return [
        (ns, f"tenant namespace {ns.name!r} has no ResourceQuota with hard limits: add one capping cpu and memory")
        for ns in _tenant_namespaces(objects)
        if not any(mapping(mapping(q.body.get("spec")).get("hard")) for q in _in(objects, ns, "ResourceQuota"))
    ]


def tenant_limit_range(objects: list[KubeObject], settings: PolicySettings) -> list[StackViolation]:
    def has_container_defaults(limit_range: KubeObject) -> bool:
        return any(
            mapping(item).get("type") == "Container" and mapping(mapping(item).get("default"))
            for item in sequence(mapping(limit_range.body.get("spec")).get("limits"))
        )

    return [
        (ns, f"tenant namespace {ns.name!r} has no LimitRange with container defaults: add one (type: Container)")
        for ns in _tenant_namespaces(objects)
        if not any(has_container_defaults(lr) for lr in _in(objects, ns, "LimitRange"))
    ]


def _denies_all(policy: KubeObject, direction: str) -> bool:
    """A NetworkPolicy that selects every pod and allows nothing in one direction."""
    spec = mapping(policy.body.get("spec"))
    rules = "ingress" if direction == "Ingress" else "egress"
    return (
        "podSelector" in spec
        and not mapping(spec.get("podSelector"))
        and direction in sequence(spec.get("policyTypes"))
        and not sequence(spec.get(rules))
    )


def tenant_default_deny(objects: list[KubeObject], settings: PolicySettings) -> list[StackViolation]:
    problems = []
    for ns in _tenant_namespaces(objects):
        policies = _in(objects, ns, "NetworkPolicy")
        missing = [d for d in ("Ingress", "Egress") if not any(_denies_all(p, d) for p in policies)]
        if missing:
            problems.append(
                (
                    ns,
                    f"tenant namespace {ns.name!r} does not deny {' and '.join(missing).lower()} by default: add a "
                    f"NetworkPolicy with podSelector {{}} and policyTypes {missing} and no rules",
                )
            )
    return problems


def _replicas(deployment: KubeObject) -> int:
    replicas = mapping(deployment.body.get("spec")).get("replicas", 1)  # Kubernetes defaults to 1
    return replicas if isinstance(replicas, int) else 1


def _selects(budget: KubeObject, pod_labels: Mapping[str, Any]) -> bool:
    """A PDB without a selector selects no pods; an empty one selects every pod in its namespace."""
    spec = mapping(budget.body.get("spec"))
    return "selector" in spec and selector_matches(mapping(spec.get("selector")), pod_labels)


def pdb_for_replicated_serving(objects: list[KubeObject], settings: PolicySettings) -> list[StackViolation]:
    budgets = [obj for obj in objects if obj.kind == "PodDisruptionBudget"]
    problems = []
    for deployment in objects:
        if deployment.kind != "Deployment" or deployment.labels.get("app.kubernetes.io/component") != SERVING_COMPONENT:
            continue
        if _replicas(deployment) <= 1:
            continue
        template = pod_template(deployment)
        pod_labels: Mapping[str, Any] = mapping(mapping(template[1].get("metadata")).get("labels")) if template else {}
        covered = any(budget.namespace == deployment.namespace and _selects(budget, pod_labels) for budget in budgets)
        if not covered:
            problems.append(
                (
                    deployment,
                    f"runs {_replicas(deployment)} replicas with no PodDisruptionBudget selecting its pods: add one "
                    "(e.g. maxUnavailable: 1) so a node drain cannot take every replica down at once",
                )
            )
    return problems


# The `app.kubernetes.io/component` of the LLM gateway's ConfigMap (infra/components/llm_gateway.py).
LLM_GATEWAY_COMPONENT = "llm-gateway"


def _llm_gateway_problems(document: Any) -> list[str]:
    if not isinstance(document, Mapping):
        return ["gateway.json is not a JSON object: regenerate it from the blueprint"]
    problems = []
    cap = document.get("max_tokens")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        problems.append(f"max_tokens is {cap!r}: set the cap (platform.llm.gateway.guardrails.maxTokens)")
    for tenant, limits in mapping(document.get("tenants")).items():
        limits = mapping(limits)
        for field in ("tokens_per_minute", "spend_per_day"):
            value = limits.get(field)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                problems.append(
                    f"tenant {tenant!r} has no {field} budget ({value!r}): set tenants[].llm.budgets in the blueprint"
                )
    return problems


def llm_gateway_limits(objects: list[KubeObject], settings: PolicySettings) -> list[StackViolation]:
    """An LLM without a max_tokens cap or a budget has no cost ceiling: the gateway's configuration
    (one ConfigMap) must cap every request and give every tenant a token and a spend budget."""
    import json

    found = []
    for obj in objects:
        if obj.kind != "ConfigMap" or obj.labels.get("app.kubernetes.io/component") != LLM_GATEWAY_COMPONENT:
            continue
        raw = mapping(obj.body.get("data")).get("gateway.json")
        try:
            document = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            document = None
        found += [(obj, problem) for problem in _llm_gateway_problems(document)]
    return found


STACK_RULES: dict[str, StackCheck] = {
    "tenant-quota": tenant_quota,
    "tenant-limit-range": tenant_limit_range,
    "tenant-default-deny": tenant_default_deny,
    "pdb-for-replicated-serving": pdb_for_replicated_serving,
    "llm-gateway-limits": llm_gateway_limits,
}
