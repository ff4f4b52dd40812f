"""The guardrail catalogue: every rule the deploy-time and admission-time gates enforce, by id.

One list, imported by the blueprint schema (so `platform.policy.enforcement` rejects a rule id
that does not exist), by the deploy pack, by the admission policies, by `mlplat policy` and by the
tests. A rule's id is its name everywhere: the CrossGuard policy name, the prefix of every
violation message, the name of its ValidatingAdmissionPolicy (`<id>.platform.mlops`) and the
file name of its corpus cases (`tests/policies/cases/bad/<id>--<what>.yaml`).

`admission` says whether the rule also exists as CEL at admission time. Five rules cannot: they
are about what a namespace or a stack contains (a quota exists, a PDB covers a Deployment, the LLM
gateway's configuration caps every tenant), and
an admission request only ever carries one object. A sixth has no use there: it reads a declaration
only the platform writes (personal-data-governed). docs/policies.md explains each gap.

The module is pure data with no imports from the rest of the project, so the schema can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Rule", "RULES", "RULE_IDS", "ADMISSION_RULE_IDS", "Scope"]

# What a rule looks at: one object (a resource validation), or the whole set of objects (a stack
# validation in Pulumi's terms).
Scope = Literal["resource", "stack"]


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    scope: Scope
    admission: bool


RULES: tuple[Rule, ...] = (
    Rule("container-resources", "every container has cpu and memory requests and limits", "resource", True),
    Rule("no-privileged", "no privileged container", "resource", True),
    Rule("no-host-namespaces", "no hostNetwork, hostPID or hostIPC", "resource", True),
    Rule("no-host-path", "no hostPath volume", "resource", True),
    Rule("run-as-non-root", "every container runs as non-root (runAsNonRoot)", "resource", True),
    Rule("read-only-root-filesystem", "every container has a read-only root filesystem", "resource", True),
    Rule("drop-all-capabilities", "every container drops ALL capabilities and adds none", "resource", True),
    Rule("no-privilege-escalation", "every container sets allowPrivilegeEscalation: false", "resource", True),
    Rule("image-pinned", "images are pinned by tag or digest, never latest or untagged", "resource", True),
    Rule("allowed-registries", "images come from the blueprint's allowed registries", "resource", True),
    Rule("no-cluster-admin-binding", "no RoleBinding or ClusterRoleBinding to cluster-admin", "resource", True),
    Rule("no-wildcard-rbac", "no wildcard verbs or resources in tenant Roles", "resource", True),
    Rule("no-external-services", "no LoadBalancer or NodePort Service in a tenant namespace", "resource", True),
    Rule("required-labels", "objects and their pod templates carry the standard labels", "resource", True),
    Rule("tenant-quota", "every tenant namespace has a ResourceQuota", "stack", False),
    Rule("tenant-limit-range", "every tenant namespace has a LimitRange", "stack", False),
    Rule("tenant-default-deny", "every tenant namespace denies all ingress and egress by default", "stack", False),
    Rule(
        "pdb-for-replicated-serving", "model-server Deployments with more than one replica have a PDB", "stack", False
    ),
    # Reads the declaration the platform writes from the blueprint (ADR 0024): a PVC created by kubectl
    # carries none, so admission has nothing to hold it to.
    Rule(
        "personal-data-governed",
        "a volume holding personal data declares a retention period and an erasure path for it",
        "resource",
        False,
    ),
    Rule(
        "llm-gateway-limits",
        "the LLM gateway's configuration caps max_tokens and gives every tenant budgets",
        "stack",
        False,
    ),
)

RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in RULES)
ADMISSION_RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in RULES if rule.admission)
