"""The admission-time gate: the guardrails as ValidatingAdmissionPolicies (CEL), enforced by the API server.

`rules.py` holds each rule's CEL, `policies.py` builds the policy and binding objects the
AdmissionPolicies component deploys, and `engine.py` evaluates them offline. See docs/policies.md.
"""
