"""The deploy rules as CrossGuard policies: what `pulumi preview --policy-pack policies/deploy` runs.

Every rule of `policies/catalog.py` becomes one policy of the same name: the one-object rules as
`ResourceValidationPolicy`, the whole-stack rules as `StackValidationPolicy`. A policy turns the
Pulumi resource into a `KubeObject` (the type token gives apiVersion and kind) and reports each
message of the pure rule function as a violation, so the pack adds no logic of its own.

Enforcement levels and the allowed registries arrive as policy-pack config, rendered from the
blueprint by `mlplat policy config` (ADR 0010). Without a config every policy runs at the
blueprint schema's defaults (mandatory, the default registries): a forgotten config fails closed.

During `pulumi preview` some inputs are unknown (computed by other resources). The resource's
properties come wrapped in pulumi-policy's proxy, which raises when a rule reads an unknown value;
pulumi-policy then reports that policy as not checkable in preview and runs it again during the
update, when the value is known. Rules read fields lazily, so an unknown value only defers the
rules that actually look at it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from blueprints.schema import PolicySettings
from policies.catalog import RULES, Rule
from policies.deploy.rules import RESOURCE_RULES, ResourceCheck
from policies.deploy.stack_rules import STACK_RULES, StackCheck
from policies.enforcement import ALLOWED_REGISTRIES_KEY
from policies.kube import from_pulumi

__all__ = ["PACK_NAME", "POLICIES", "settings_from_config"]

PACK_NAME = "mlops-platform-guardrails"
_DEFAULTS = PolicySettings()


def settings_from_config(config: Mapping[str, Any]) -> PolicySettings:
    """The PolicySettings a policy's config describes (only the allowed registries travel this way)."""
    registries = config.get(ALLOWED_REGISTRIES_KEY)
    return PolicySettings(allowed_registries=list(registries)) if registries else _DEFAULTS


def _resource_policy(rule: Rule, check: ResourceCheck) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        obj = from_pulumi(args.resource_type, args.props, args.urn)
        if obj is None:
            return
        for message in check(obj, settings_from_config(args.get_config())):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.id,
        description=rule.summary,
        validate=validate,
        enforcement_level=EnforcementLevel(_DEFAULTS.default_enforcement),
        config_schema=_config_schema(rule),
    )


def _stack_policy(rule: Rule, check: StackCheck) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        objects = [obj for r in args.resources if (obj := from_pulumi(r.resource_type, r.props, r.urn)) is not None]
        for obj, message in check(objects, settings_from_config(args.get_config())):
            report_violation(f"{obj.describe()}: {message}", obj.source)

    return StackValidationPolicy(
        name=rule.id,
        description=rule.summary,
        validate=validate,
        enforcement_level=EnforcementLevel(_DEFAULTS.default_enforcement),
    )


def _config_schema(rule: Rule) -> PolicyConfigSchema | None:
    if rule.id != "allowed-registries":
        return None
    return PolicyConfigSchema(
        properties={ALLOWED_REGISTRIES_KEY: {"type": "array", "items": {"type": "string"}, "minItems": 1}}
    )


def _policy(rule: Rule) -> Policy:
    if rule.scope == "stack":
        return _stack_policy(rule, STACK_RULES[rule.id])
    return _resource_policy(rule, RESOURCE_RULES[rule.id])


POLICIES: list[Policy] = [_policy(rule) for rule in RULES]
