"""AdmissionPolicies: the guardrails enforced by the API server itself, for every client.

The deploy-time pack checks what Pulumi creates; anyone with kubectl access to a tenant namespace
bypasses it. So the same rules, wherever CEL can express them, are also deployed as
ValidatingAdmissionPolicies with their bindings (admissionregistration.k8s.io/v1, GA since
Kubernetes 1.30, no webhook or controller to run). The objects come from
`policies/admission/policies.py`, built from the blueprint's policy settings: each rule's level
picks its binding's validationActions (Deny or Warn, with Audit), disabled rules deploy nothing,
and the bindings select tenant namespaces by their `platform.mlops/tenant` label.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.schema import PolicySettings
from policies.admission.policies import admission_objects, rule_of_policy

__all__ = ["AdmissionPolicies", "AdmissionPoliciesArgs"]


@dataclass(frozen=True)
class AdmissionPoliciesArgs:
    settings: PolicySettings


class AdmissionPolicies(pulumi.ComponentResource):
    """One ValidatingAdmissionPolicy and one binding per enforced admission rule."""

    policy_names: list[str]

    def __init__(self, name: str, args: AdmissionPoliciesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:AdmissionPolicies", name, None, opts)
        self.policy_names = []
        policies: dict[str, k8s.admissionregistration.v1.ValidatingAdmissionPolicy] = {}
        for obj in admission_objects(args.settings):
            rule = rule_of_policy(obj["metadata"]["name"])
            if obj["kind"] == "ValidatingAdmissionPolicy":
                policies[obj["metadata"]["name"]] = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                    f"{name}-{rule}",
                    metadata=obj["metadata"],
                    spec=obj["spec"],
                    opts=pulumi.ResourceOptions(parent=self),
                )
                self.policy_names.append(obj["metadata"]["name"])
            else:
                # A binding to a policy the API server does not know yet is accepted but inert;
                # depending on the policy makes the order explicit.
                k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                    f"{name}-{rule}-binding",
                    metadata=obj["metadata"],
                    spec=obj["spec"],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[policies[obj["spec"]["policyName"]]]),
                )
        self.register_outputs({"policy_names": self.policy_names})
