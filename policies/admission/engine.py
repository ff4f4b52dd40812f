"""Evaluate ValidatingAdmissionPolicies offline, the way the API server does, with a CEL engine from PyPI.

The engine is cel-expr-python: Google's Python binding of cel-cpp, the C++ implementation that,
like the API server's cel-go, follows the CEL specification and its conformance tests (ADR 0011).
It runs the policies' own CEL, not a Python re-statement of it, so what the tests prove is what the
cluster enforces. For each object it follows the API server's steps:

1. **match**: the policy's `matchConstraints.resourceRules` (group, version, resource, operation)
   and the binding's `namespaceSelector` against the labels of the object's namespace;
2. **matchConditions**: all must be true, or the policy is skipped; an error fails the request
   (failurePolicy: Fail, which is what the platform's policies use);
3. **variables**, in order, each visible to later ones as `variables.<name>`; one that fails
   makes every expression reading it fail, as the API server's lazy evaluation does;
4. **validations**: false means a violation with the `messageExpression` result (the static
   `message` when that fails, is not a string, or spans lines); an error fails the request.

The CEL environment declares `object`, `oldObject`, `request`, `namespaceObject`, `params` and
`variables`, all dynamically typed as at the API server's runtime. It has no `authorizer` and none
of the Kubernetes CEL libraries (docs/policies.md lists them), so a policy using one fails to
compile here instead of passing a test it could not pass in a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blueprints.naming import LABEL_TENANT
from blueprints.schema import PolicySettings
from policies.admission.policies import admission_objects, rule_of_policy
from policies.findings import Finding
from policies.kube import KubeObject, in_tenant_namespace, selector_matches

__all__ = ["AdmissionEngine", "Decision", "EngineUnavailable", "PolicyError", "check", "KIND_RESOURCES"]

# The resources our policies match, by kind: (API group, resource).
KIND_RESOURCES: dict[str, tuple[str, str]] = {
    "Pod": ("", "pods"),
    "ReplicationController": ("", "replicationcontrollers"),
    "Service": ("", "services"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "ReplicaSet": ("apps", "replicasets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
    "Role": ("rbac.authorization.k8s.io", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
}

_VARIABLES = ("object", "oldObject", "request", "namespaceObject", "params", "variables")


class EngineUnavailable(RuntimeError):
    """cel-expr-python is not installed."""


class PolicyError(ValueError):
    """A policy's CEL does not compile: names the policy, the field and CEL's own message."""


@dataclass(frozen=True)
class Decision:
    """A policy's verdict on an object that it matched and that did not pass."""

    policy: str
    rule: str
    actions: tuple[str, ...]  # the binding's validationActions: Deny or Warn, and Audit
    message: str
    from_message_expression: bool  # False when the static message had to stand in
    error: bool = False  # an expression failed to evaluate (the request fails: failurePolicy Fail)


class AdmissionEngine:
    """The policies and bindings of one configuration, compiled once, reviewing objects."""

    def __init__(self, objects: list[Mapping[str, Any]]):
        try:
            from cel_expr_python import cel
        except ImportError:
            raise EngineUnavailable(
                "the CEL engine needs the cel-expr-python package: pip install -c constraints.txt -e '.[infra]'"
            ) from None
        self._cel = cel
        self._env = cel.NewEnv(variables={name: cel.Type.DYN for name in _VARIABLES})
        self._programs: dict[str, Any] = {}
        self.policies = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "ValidatingAdmissionPolicy"}
        self.bindings = [o for o in objects if o.get("kind") == "ValidatingAdmissionPolicyBinding"]
        for name, policy in self.policies.items():
            for where, expression in _expressions(policy):
                self._compile(expression, f"ValidatingAdmissionPolicy {name}: {where}")

    def compile_error(self, expression: str) -> str | None:
        """Why this engine cannot compile an expression (None when it can): what it lacks."""
        try:
            self._env.compile(expression)
        except RuntimeError as exc:
            return str(exc)
        return None

    def _compile(self, expression: str, where: str) -> Any:
        if expression not in self._programs:
            try:
                self._programs[expression] = self._env.compile(expression)
            except RuntimeError as exc:
                raise PolicyError(f"{where}: {exc}") from None
        return self._programs[expression]

    def _eval(self, expression: str, activation: dict[str, Any]) -> tuple[Any, str | None]:
        """(value, None), or (None, error message) when CEL evaluates to an error."""
        value = self._programs[expression].eval(data=activation)
        if value.type() == self._cel.Type.ERROR:
            return None, str(value.value())
        return value.plain_value(), None

    def review(
        self,
        obj: KubeObject,
        namespace_labels: Mapping[str, str],
        *,
        operation: str = "CREATE",
    ) -> list[Decision]:
        """Every decision against the object: one per matching (policy, binding) that did not pass."""
        group_resource = KIND_RESOURCES.get(obj.kind)
        if group_resource is None:
            return []
        body = json.loads(json.dumps(obj.body))  # plain data, as the API server would hand it over
        decisions = []
        for binding in self.bindings:
            policy = self.policies.get(binding["spec"]["policyName"])
            if policy is None or not _matches(policy, binding, obj, group_resource, operation, namespace_labels):
                continue
            activation = {
                "object": body,
                "oldObject": None,
                "request": {"operation": operation, "namespace": obj.namespace, "name": obj.name},
                "namespaceObject": {"metadata": {"name": obj.namespace, "labels": dict(namespace_labels)}},
                "params": None,
            }
            decisions += self._run(policy, binding, activation)
        return decisions

    def _run(self, policy: Mapping[str, Any], binding: Mapping[str, Any], activation: dict[str, Any]) -> list[Decision]:
        name = policy["metadata"]["name"]
        spec = policy["spec"]
        actions = tuple(binding["spec"]["validationActions"])

        def failure(what: str, error: str) -> Decision:
            return Decision(name, rule_of_policy(name) or name, actions, f"{what} failed: {error}", False, True)

        for condition in spec.get("matchConditions", []):
            value, error = self._eval(condition["expression"], activation)
            if error is not None:
                return [failure(f"matchCondition {condition['name']!r}", error)]
            if value is not True:
                return []
        variables: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for variable in spec.get("variables", []):
            activation["variables"] = variables
            value, error = self._eval(variable["expression"], activation)
            if error is None:
                variables[variable["name"]] = value
            else:
                failed[variable["name"]] = error
        activation["variables"] = variables
        decisions = []
        for index, validation in enumerate(spec.get("validations", [])):
            reads = [n for n in failed if f"variables.{n}" in validation["expression"]]
            value, error = (None, failed[reads[0]]) if reads else self._eval(validation["expression"], activation)
            if error is not None:
                decisions.append(failure(f"validations[{index}]", error))
            elif value is not True:
                decisions.append(self._violation(name, actions, validation, activation))
        return decisions

    def _violation(
        self, name: str, actions: tuple[str, ...], validation: Mapping[str, Any], activation: dict[str, Any]
    ) -> Decision:
        message, error = (None, "none")
        if "messageExpression" in validation:
            message, error = self._eval(validation["messageExpression"], activation)
        if error is None and isinstance(message, str) and message.strip() and "\n" not in message:
            return Decision(name, rule_of_policy(name) or name, actions, message, True)
        return Decision(name, rule_of_policy(name) or name, actions, validation.get("message", ""), False)


def _expressions(policy: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, CEL) of every expression in a policy."""
    spec = policy["spec"]
    found = [
        (f"spec.matchConditions[{i}].expression", c["expression"])
        for i, c in enumerate(spec.get("matchConditions", []))
    ]
    found += [(f"spec.variables[{i}].expression", v["expression"]) for i, v in enumerate(spec.get("variables", []))]
    for i, validation in enumerate(spec.get("validations", [])):
        found.append((f"spec.validations[{i}].expression", validation["expression"]))
        if "messageExpression" in validation:
            found.append((f"spec.validations[{i}].messageExpression", validation["messageExpression"]))
    return found


def _matches(
    policy: Mapping[str, Any],
    binding: Mapping[str, Any],
    obj: KubeObject,
    group_resource: tuple[str, str],
    operation: str,
    namespace_labels: Mapping[str, str],
) -> bool:
    group, resource = group_resource
    version = obj.api_version.rsplit("/", 1)[-1]
    rules = policy["spec"].get("matchConstraints", {}).get("resourceRules", [])
    if not any(
        group in rule.get("apiGroups", [])
        and (version in rule.get("apiVersions", []) or "*" in rule.get("apiVersions", []))
        and resource in rule.get("resources", [])
        and (operation in rule.get("operations", []) or "*" in rule.get("operations", []))
        for rule in rules
    ):
        return False
    selector = binding["spec"].get("matchResources", {}).get("namespaceSelector", {})
    return selector_matches(selector, namespace_labels)


def check(objects: list[KubeObject], settings: PolicySettings) -> list[Finding]:
    """Review every object as if it were created in its namespace: findings at each rule's level.

    A namespace's labels come from its Namespace object when the set holds one; otherwise a
    namespace outside the platform's reserved ones (or none: a team's own manifest) counts as a
    tenant's, labelled as the Tenant component labels it.
    """
    engine = AdmissionEngine(admission_objects(settings))
    declared = {obj.name: dict(obj.labels) for obj in objects if obj.kind == "Namespace"}
    findings = []
    for obj in objects:
        labels = declared.get(obj.namespace)
        if labels is None:
            labels = {LABEL_TENANT: obj.namespace or "tenant"} if in_tenant_namespace(obj) else {}
        for decision in engine.review(obj, labels):
            level = "mandatory" if "Deny" in decision.actions else "advisory"
            findings.append(Finding(obj.source, obj.describe(), decision.rule, level, decision.message))
    return sorted(findings)
