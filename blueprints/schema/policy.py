"""How the policy gates enforce: levels per rule and the registries images may come from."""

from __future__ import annotations

import difflib
import re
from typing import Literal

from pydantic import Field, field_validator

from blueprints.schema.fields import Spec
from policies.catalog import RULE_IDS

Enforcement = Literal["mandatory", "advisory", "disabled"]

# A registry prefix as images spell it: a host (optionally with a port), optionally followed by a
# repository path. `mlops-platform` matches the platform's own image, built and loaded into kind.
REGISTRY_PREFIX = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")


class PolicySettings(Spec):
    """How the policy gates enforce: a default level, per-rule overrides, the allowed registries.

    Rule ids are those of `policies/catalog.py` (docs/policies.md lists them). An image is from an
    allowed registry when its reference, as written, starts with an entry followed by `/`.
    """

    default_enforcement: Enforcement = "mandatory"
    enforcement: dict[str, Enforcement] = Field(default_factory=dict)
    allowed_registries: list[str] = Field(
        default_factory=lambda: ["docker.io", "quay.io", "registry.k8s.io", "ghcr.io", "mlops-platform"],
        min_length=1,
    )

    @field_validator("enforcement")
    @classmethod
    def _known_rules(cls, enforcement: dict[str, str]) -> dict[str, str]:
        for rule in enforcement:
            if rule not in RULE_IDS:
                close = difflib.get_close_matches(rule, RULE_IDS, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"unknown rule {rule!r}: {hint}known rules: {', '.join(RULE_IDS)}")
        return enforcement

    @field_validator("allowed_registries")
    @classmethod
    def _registry_prefixes(cls, registries: list[str]) -> list[str]:
        for registry in registries:
            if not REGISTRY_PREFIX.match(registry):
                raise ValueError(
                    f"{registry!r} is not a registry prefix: write a lowercase host with an optional port and "
                    'path, without a scheme or a trailing "/" (e.g. "quay.io" or "ghcr.io/my-org")'
                )
        return registries
