"""Run every deploy-time rule over a set of objects, outside Pulumi.

This is what the pack does inside `pulumi preview`, for plain manifests: `mlplat policy check` and
the tests call it on YAML files, on the corpus and on the program's captured output. Levels come
from the blueprint's policy settings; disabled rules do not run.
"""

from __future__ import annotations

from blueprints.schema import PolicySettings
from policies.deploy.rules import RESOURCE_RULES
from policies.deploy.stack_rules import STACK_RULES
from policies.enforcement import levels
from policies.findings import Finding
from policies.kube import KubeObject

__all__ = ["check"]


def check(objects: list[KubeObject], settings: PolicySettings) -> list[Finding]:
    enforced = {rule: level for rule, level in levels(settings).items() if level != "disabled"}
    findings = []
    for rule, resource_check in RESOURCE_RULES.items():
        if rule in enforced:
            for obj in objects:
                findings += [
                    Finding(obj.source, obj.describe(), rule, enforced[rule], message)
                    for message in resource_check(obj, settings)
                ]
    for rule, stack_check in STACK_RULES.items():
        if rule in enforced:
            findings += [
                Finding(obj.source, obj.describe(), rule, enforced[rule], message)
                for obj, message in stack_check(objects, settings)
            ]
    return sorted(findings)
