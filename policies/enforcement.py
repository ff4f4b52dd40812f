"""Enforcement levels: how strictly each rule is applied, from the blueprint's `platform.policy`.

A level is `mandatory` (the deploy gate blocks the update, admission denies the request),
`advisory` (the deploy gate reports, admission warns and audits) or `disabled` (the rule is not
run and no admission policy is deployed for it). The blueprint sets a default and per-rule
overrides; the blueprint schema has already rejected unknown rule ids.

The deploy pack runs inside the Pulumi CLI, in a process of its own that never sees the
blueprint: it learns the levels from the policy-pack config that `pulumi_config()` renders
(`mlplat policy config BLUEPRINT`), passed with `--policy-pack-config`. ADR 0010 says why.
"""

from __future__ import annotations

from typing import Any, Literal

from blueprints.schema import PolicySettings
from policies.catalog import RULE_IDS

__all__ = ["Level", "levels", "pulumi_config", "ALLOWED_REGISTRIES_KEY"]

Level = Literal["mandatory", "advisory", "disabled"]

# The config property of the `allowed-registries` policy in the pack (camelCase, like the blueprint).
ALLOWED_REGISTRIES_KEY = "allowedRegistries"


def levels(settings: PolicySettings) -> dict[str, Level]:
    """Every rule id with its level: the blueprint's per-rule override, else its default."""
    return {rule: settings.enforcement.get(rule, settings.default_enforcement) for rule in RULE_IDS}


def pulumi_config(settings: PolicySettings) -> dict[str, Any]:
    """The `--policy-pack-config` document for the deploy pack: every rule's level, spelled out.

    Every rule is listed (rather than an `all` default plus overrides) so the file reads as the
    complete answer to "what does this stack enforce". The allowed registries travel as the
    `allowed-registries` policy's own config property, declared in its config schema.
    """
    config: dict[str, Any] = {rule: {"enforcementLevel": level} for rule, level in levels(settings).items()}
    config["allowed-registries"][ALLOWED_REGISTRIES_KEY] = list(settings.allowed_registries)
    return config
