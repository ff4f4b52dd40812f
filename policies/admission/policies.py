"""The admission rules as Kubernetes objects: one ValidatingAdmissionPolicy and one binding per rule.

Built from the blueprint's policy settings, as plain manifests (admissionregistration.k8s.io/v1),
so the AdmissionPolicies component deploys exactly what the offline engine and the tests evaluate.

- **One policy per rule**, named `<rule id>.platform.mlops`, because the enforcement level is a
  property of the binding (`validationActions`) and each rule has its own level. A denial reads
  "ValidatingAdmissionPolicy 'no-privileged.platform.mlops' with binding ... denied request:
  [no-privileged] ...", so `rule_of_policy()` maps it back to the rule.
- **Levels:** mandatory binds with `[Deny, Audit]` (refused, and recorded in the audit log);
  advisory with `[Warn, Audit]` (admitted, the client sees a warning); disabled deploys nothing.
- **Scope:** the binding selects namespaces carrying the tenant label that the Tenant component
  sets, so the platform's own namespaces and kube-system are never affected.
- **failurePolicy: Fail:** an expression error denies the request rather than letting it through.
- **matchConditions:** objects already being deleted are exempt, so removing a finalizer from an
  object created before the policy existed can never be blocked.
"""

from __future__ import annotations

import re
from typing import Any

from blueprints.naming import LABEL_TENANT, standard_labels
from blueprints.schema import PolicySettings
from policies.admission.rules import ADMISSION_RULES, AdmissionRule, cel_string_list
from policies.enforcement import levels

__all__ = [
    "admission_objects",
    "policy_name",
    "rule_of_policy",
    "rule_of_denial",
    "VALIDATION_ACTIONS",
    "POLICY_SUFFIX",
    "API_VERSION",
]

API_VERSION = "admissionregistration.k8s.io/v1"
POLICY_SUFFIX = ".platform.mlops"
VALIDATION_ACTIONS = {"mandatory": ["Deny", "Audit"], "advisory": ["Warn", "Audit"]}
_LABELS = standard_labels("admission-policies", "platform", "admission-policy")


def policy_name(rule_id: str) -> str:
    return f"{rule_id}{POLICY_SUFFIX}"


def rule_of_policy(name: str) -> str | None:
    """The rule id of one of our policies (`no-privileged.platform.mlops` -> `no-privileged`)."""
    return name.removesuffix(POLICY_SUFFIX) if name.endswith(POLICY_SUFFIX) else None


def rule_of_denial(message: str) -> str | None:
    """The rule behind an API server denial, e.g. from `kubectl apply --dry-run=server`:

    `... ValidatingAdmissionPolicy 'no-privileged.platform.mlops' with binding
    'no-privileged.platform.mlops' denied request: [no-privileged] web: ...` -> `no-privileged`.
    """
    match = re.search(r"ValidatingAdmissionPolicy '([^']+)'", message)
    return rule_of_policy(match.group(1)) if match else None


def _parameter(name: str, settings: PolicySettings) -> str:
    if name == "allowedRegistries":
        return cel_string_list(settings.allowed_registries)
    raise KeyError(f"no blueprint setting provides the admission parameter {name!r}")


def _policy(rule: AdmissionRule, settings: PolicySettings) -> dict[str, Any]:
    variables = [(name, _parameter(name, settings)) for name in rule.parameters] + list(rule.variables)
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy_name(rule.id), "labels": dict(_LABELS)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": ["v1"],
                        "resources": list(resources),
                        "operations": ["CREATE", "UPDATE"],
                    }
                    for group, resources in rule.resources.items()
                ]
            },
            "matchConditions": [
                {"name": "not-being-deleted", "expression": "!has(object.metadata.deletionTimestamp)"},
            ],
            "variables": [{"name": name, "expression": expression} for name, expression in variables],
            "validations": [
                {
                    "expression": validation.expression,
                    "message": validation.message,
                    "messageExpression": validation.message_expression,
                }
                for validation in rule.validations
            ],
        },
    }


def _binding(rule: AdmissionRule, level: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name(rule.id), "labels": dict(_LABELS)},
        "spec": {
            "policyName": policy_name(rule.id),
            "validationActions": list(VALIDATION_ACTIONS[level]),
            "matchResources": {
                "namespaceSelector": {"matchExpressions": [{"key": LABEL_TENANT, "operator": "Exists"}]},
            },
        },
    }


def admission_objects(settings: PolicySettings) -> list[dict[str, Any]]:
    """Policy, then binding, for every admission rule the blueprint does not disable."""
    enforced = levels(settings)
    objects: list[dict[str, Any]] = []
    for rule in ADMISSION_RULES:
        if enforced[rule.id] != "disabled":
            objects += [_policy(rule, settings), _binding(rule, enforced[rule.id])]
    return objects
