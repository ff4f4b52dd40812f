"""The admission-time guardrails: each catalogue rule that CEL can express, as data.

An `AdmissionRule` is the body of one ValidatingAdmissionPolicy: which resources it matches, the
named CEL `variables` it computes and the `validations` that must hold.
`policies/admission/policies.py` turns these into the Kubernetes objects the AdmissionPolicies
component deploys, and `policies/admission/engine.py` evaluates them offline.

Conventions every rule follows, so a denial is easy to read and to match to its rule:
- each rule computes `variables.offenders` (the names of the containers, volumes, fields or labels
  at fault) and validates `size(variables.offenders) == 0`;
- every message starts with `[<rule id>]`, and the policy is named `<rule id>.platform.mlops`;
- only standard CEL is used (macros has/all/exists/filter/map, size, in, matches, startsWith,
  endsWith, string()), no Kubernetes library and no extension: both the API server and the
  offline engine understand exactly this subset (docs/policies.md lists what the engine lacks);
- `has()` guards every optional field before it is read, because reading a missing field is an
  error in CEL, and an error denies the request (failurePolicy: Fail);
- list literals hold one type only (Kubernetes enables homogeneous aggregate literals).

The twin of each rule at deploy time is the function of the same id in `policies/deploy/rules.py`;
tests check that both give the same verdict on every corpus case and every object the program
creates in a tenant namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from blueprints.naming import REQUIRED_LABELS
from policies.kube import DIGEST_PATTERN, TAG_PATTERN

__all__ = ["AdmissionRule", "Validation", "ADMISSION_RULES", "POD_RESOURCES", "cel_string_list"]

# Group -> resources that carry a pod template (policies/kube.py maps the kinds to the template).
POD_RESOURCES: dict[str, tuple[str, ...]] = {
    "": ("pods", "replicationcontrollers"),
    "apps": ("deployments", "statefulsets", "daemonsets", "replicasets"),
    "batch": ("jobs", "cronjobs"),
}


@dataclass(frozen=True)
class Validation:
    expression: str
    message: str  # static: shown when messageExpression fails to evaluate
    message_expression: str


@dataclass(frozen=True)
class AdmissionRule:
    id: str
    resources: dict[str, tuple[str, ...]]  # API group -> resources
    variables: tuple[tuple[str, str], ...]
    validations: tuple[Validation, ...]
    # Filled in from the blueprint when the policy is built (the allowed registries).
    parameters: tuple[str, ...] = field(default=())


def cel_string_list(values: list[str] | tuple[str, ...]) -> str:
    """A CEL list literal of strings. Values are blueprint-validated (no quotes or backslashes)."""
    if any("'" in value or "\\" in value for value in values):
        raise ValueError(f"cannot quote {values!r} as CEL strings")
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


# The pod spec and its containers, wherever the kind keeps them (policies/kube.py: POD_TEMPLATE_PATHS).
_POD_VARIABLES = (
    (
        "podSpec",
        "object.kind == 'Pod' ? object.spec : "
        "(object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)",
    ),
    (
        "containers",
        "variables.podSpec.containers + "
        "(has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : [])",
    ),
)


def _sc(field_: str) -> str:
    """`has(c.securityContext) && has(c.securityContext.<field>)`: the guard before reading it."""
    return f"has(c.securityContext) && has(c.securityContext.{field_})"


def _pod_rule(rule_id: str, offenders: str, what: str, fix: str, parameters: tuple[str, ...] = ()) -> AdmissionRule:
    """A rule over a pod template: `offenders` names what is at fault (containers, volumes or fields)."""
    if "'" in what + fix:
        raise ValueError(f"{rule_id}: the message goes inside a CEL string literal, so it cannot hold a quote")
    return AdmissionRule(
        id=rule_id,
        resources=POD_RESOURCES,
        variables=(*_POD_VARIABLES, ("offenders", offenders)),
        validations=(
            Validation(
                expression="size(variables.offenders) == 0",
                message=f"[{rule_id}] {what}: {fix}",
                message_expression=f"'[{rule_id}] ' + variables.offenders[0] + ': {what}: {fix}'",
            ),
        ),
        parameters=parameters,
    )


_REQUIRED = cel_string_list(REQUIRED_LABELS)

ADMISSION_RULES: tuple[AdmissionRule, ...] = (
    _pod_rule(
        "container-resources",
        "variables.containers.filter(c, !(has(c.resources) && has(c.resources.requests) && has(c.resources.limits)"
        " && 'cpu' in c.resources.requests && 'memory' in c.resources.requests"
        " && 'cpu' in c.resources.limits && 'memory' in c.resources.limits)).map(c, c.name)",
        "container lacks cpu or memory requests or limits",
        "set cpu and memory under resources.requests and resources.limits",
    ),
    _pod_rule(
        "no-privileged",
        f"variables.containers.filter(c, {_sc('privileged')} && c.securityContext.privileged == true).map(c, c.name)",
        "container is privileged",
        "remove securityContext.privileged",
    ),
    _pod_rule(
        "no-host-namespaces",
        "['hostNetwork', 'hostPID', 'hostIPC'].filter(f, f in variables.podSpec && variables.podSpec[f] == true)",
        "the pod shares namespaces with the node",
        "remove hostNetwork, hostPID and hostIPC",
    ),
    _pod_rule(
        "no-host-path",
        "(has(variables.podSpec.volumes) ? variables.podSpec.volumes : []).filter(v, has(v.hostPath)).map(v, v.name)",
        "volume mounts a hostPath",
        "use an emptyDir, a ConfigMap or a PersistentVolumeClaim",
    ),
    AdmissionRule(
        id="run-as-non-root",
        resources=POD_RESOURCES,
        variables=(
            *_POD_VARIABLES,
            (
                "podRunsAsNonRoot",
                "has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.runAsNonRoot)"
                " && variables.podSpec.securityContext.runAsNonRoot == true",
            ),
            (  # the container's own setting wins over the pod's
                "offenders",
                f"variables.containers.filter(c, !(({_sc('runAsNonRoot')}) ? c.securityContext.runAsNonRoot == true"
                " : variables.podRunsAsNonRoot)).map(c, c.name)",
            ),
        ),
        validations=(
            Validation(
                expression="size(variables.offenders) == 0",
                message="[run-as-non-root] container may run as root: set runAsNonRoot: true",
                message_expression="'[run-as-non-root] ' + variables.offenders[0] + ': container may run as root:"
                " set runAsNonRoot: true in the pod or container securityContext'",
            ),
        ),
    ),
    _pod_rule(
        "read-only-root-filesystem",
        f"variables.containers.filter(c, !({_sc('readOnlyRootFilesystem')}"
        " && c.securityContext.readOnlyRootFilesystem == true)).map(c, c.name)",
        "container has a writable root filesystem",
        "set securityContext.readOnlyRootFilesystem: true",
    ),
    _pod_rule(
        "drop-all-capabilities",
        "variables.containers.filter(c, !(has(c.securityContext) && has(c.securityContext.capabilities)"
        " && has(c.securityContext.capabilities.drop) && 'ALL' in c.securityContext.capabilities.drop)"
        " || (has(c.securityContext) && has(c.securityContext.capabilities)"
        " && has(c.securityContext.capabilities.add) && size(c.securityContext.capabilities.add) > 0))"
        ".map(c, c.name)",
        "container keeps Linux capabilities",
        "drop ALL capabilities and add none",
    ),
    _pod_rule(
        "no-privilege-escalation",
        f"variables.containers.filter(c, !({_sc('privileged')} && c.securityContext.privileged == true)"
        f" && !({_sc('allowPrivilegeEscalation')} && c.securityContext.allowPrivilegeEscalation == false))"
        ".map(c, c.name)",
        "container may gain privileges",
        "set securityContext.allowPrivilegeEscalation: false",
    ),
    _pod_rule(
        "image-pinned",
        f"variables.containers.filter(c, !has(c.image) || !(c.image.matches('{DIGEST_PATTERN}')"
        f" || (c.image.matches('{TAG_PATTERN}') && !c.image.endsWith(':latest')))).map(c, c.name)",
        "image is not pinned",
        "name a version tag other than latest, or a digest",
    ),
    _pod_rule(
        "allowed-registries",
        "variables.containers.filter(c, !has(c.image)"
        " || !variables.allowedRegistries.exists(r, c.image.startsWith(r + '/'))).map(c, c.name)",
        "image comes from a registry that is not allowed",
        "use a registry listed in platform.policy.allowedRegistries",
        parameters=("allowedRegistries",),
    ),
    AdmissionRule(
        id="no-cluster-admin-binding",
        resources={"rbac.authorization.k8s.io": ("rolebindings",)},
        variables=(("offenders", "object.roleRef.name == 'cluster-admin' ? [object.roleRef.name] : []"),),
        validations=(
            Validation(
                expression="size(variables.offenders) == 0",
                message="[no-cluster-admin-binding] the binding grants cluster-admin: bind a narrower Role",
                message_expression="'[no-cluster-admin-binding] roleRef ' + variables.offenders[0]"
                " + ': the binding grants cluster-admin: bind a Role with only the verbs the subjects need'",
            ),
        ),
    ),
    AdmissionRule(
        id="no-wildcard-rbac",
        resources={"rbac.authorization.k8s.io": ("roles",)},
        variables=(
            (
                "offenders",
                "(has(object.rules) ? object.rules : []).filter(r, (has(r.verbs) && '*' in r.verbs)"
                " || (has(r.resources) && '*' in r.resources))"
                ".map(r, has(r.resources) && '*' in r.resources ? 'resources' : 'verbs')",
            ),
        ),
        validations=(
            Validation(
                expression="size(variables.offenders) == 0",
                message="[no-wildcard-rbac] a rule uses a wildcard verb or resource: list them explicitly",
                message_expression="'[no-wildcard-rbac] a rule has a wildcard in its ' + variables.offenders[0]"
                " + ': list the verbs and resources explicitly'",
            ),
        ),
    ),
    AdmissionRule(
        id="no-external-services",
        resources={"": ("services",)},
        variables=(
            (
                "offenders",
                "has(object.spec) && has(object.spec.type) && object.spec.type in ['LoadBalancer', 'NodePort']"
                " ? [object.spec.type] : []",
            ),
        ),
        validations=(
            Validation(
                expression="size(variables.offenders) == 0",
                message="[no-external-services] tenant Services stay inside the cluster: use ClusterIP",
                message_expression="'[no-external-services] type ' + variables.offenders[0]"
                " + ': tenant Services stay inside the cluster: use ClusterIP (the gateway routes to them)'",
            ),
        ),
    ),
    AdmissionRule(
        id="required-labels",
        resources={**POD_RESOURCES, "": (*POD_RESOURCES[""], "services")},
        variables=(
            ("required", _REQUIRED),
            ("objectLabels", "has(object.metadata.labels) ? object.metadata.labels : {}"),
            (  # the pod template a workload's pods get their labels from (none for a Pod or a Service)
                "template",
                "object.kind in ['Pod', 'Service'] ? {} : (object.kind == 'CronJob'"
                " ? object.spec.jobTemplate.spec.template : object.spec.template)",
            ),
            (
                "templateLabels",
                "has(variables.template.metadata) && has(variables.template.metadata.labels)"
                " ? variables.template.metadata.labels : {}",
            ),
            (  # the Jobs a CronJob creates get theirs from jobTemplate.metadata
                "jobTemplateLabels",
                "object.kind == 'CronJob' && has(object.spec.jobTemplate.metadata)"
                " && has(object.spec.jobTemplate.metadata.labels) ? object.spec.jobTemplate.metadata.labels : {}",
            ),
            (
                "offenders",
                "variables.required.filter(l, !(l in variables.objectLabels)).map(l, 'metadata.labels ' + l)"
                " + (object.kind in ['Pod', 'Service'] ? [] : variables.required"
                ".filter(l, !(l in variables.templateLabels)).map(l, 'template labels ' + l))"
                " + (object.kind != 'CronJob' ? [] : variables.required"
                ".filter(l, !(l in variables.jobTemplateLabels)).map(l, 'jobTemplate labels ' + l))",
            ),
        ),
        validations=(
            Validation(
                expression="size(variables.offenders) == 0",
                message="[required-labels] the standard app.kubernetes.io labels are missing",
                message_expression="'[required-labels] ' + variables.offenders[0]"
                " + ' is missing: add the standard app.kubernetes.io labels to the object and its templates'",
            ),
        ),
    ),
)
