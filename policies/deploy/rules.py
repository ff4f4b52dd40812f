"""The deploy-time guardrails that look at one object at a time, as pure functions.

Each rule is `check(obj, settings) -> list[str]`: one message per violation, each naming the field
that is wrong and the fix, and an empty list when the object complies (or the rule does not apply
to its kind). The CrossGuard pack (`policies/deploy/pack.py`), `mlplat policy check` and the tests
all call these same functions; the rules that need the whole set of objects are in
`policies/deploy/stack_rules.py`, and each rule's twin at admission time is in
`policies/admission/rules.py`.

One root cause, one finding: a privileged container necessarily allows privilege escalation (the
API server even refuses `privileged: true` with `allowPrivilegeEscalation: false`), so
`no-privilege-escalation` leaves privileged containers to `no-privileged`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from blueprints.naming import PERSONAL_DATA_ANNOTATION, REQUIRED_LABELS, parse_personal_data
from blueprints.schema import PolicySettings
from policies.kube import (
    KubeObject,
    containers,
    image_is_pinned,
    in_tenant_namespace,
    mapping,
    pod_template,
    sequence,
)

__all__ = ["ResourceCheck", "RESOURCE_RULES"]

ResourceCheck = Callable[[KubeObject, PolicySettings], list[str]]


def _security(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(container.get("securityContext"))


def _name(container: Mapping[str, Any]) -> str:
    return str(container.get("name", "?"))


def container_resources(obj: KubeObject, settings: PolicySettings) -> list[str]:
    problems = []
    for path, container in containers(obj):
        resources = mapping(container.get("resources"))
        missing = [
            f"{section}.{resource}"
            for section in ("requests", "limits")
            for resource in ("cpu", "memory")
            if resource not in mapping(resources.get(section))
        ]
        if missing:
            problems.append(
                f"container {_name(container)!r} ({path}) has no {', '.join(missing)}: "
                "set cpu and memory under resources.requests and resources.limits"
            )
    return problems


def no_privileged(obj: KubeObject, settings: PolicySettings) -> list[str]:
    return [
        f"container {_name(container)!r} ({path}) is privileged: remove securityContext.privileged"
        for path, container in containers(obj)
        if _security(container).get("privileged") is True
    ]


def no_host_namespaces(obj: KubeObject, settings: PolicySettings) -> list[str]:
    found = pod_template(obj)
    if found is None:
        return []
    path, template = found
    spec = mapping(template.get("spec"))
    shared = [field for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field) is True]
    if not shared:
        return []
    where = f"{path}.spec" if path else "spec"
    return [f"{where} shares the node's namespaces ({', '.join(shared)}): remove {', '.join(shared)}"]


def no_host_path(obj: KubeObject, settings: PolicySettings) -> list[str]:
    found = pod_template(obj)
    if found is None:
        return []
    path, template = found
    where = f"{path}.spec" if path else "spec"
    return [
        f"volume {mapping(volume).get('name')!r} ({where}.volumes[{index}]) mounts a hostPath: "
        "use an emptyDir, a ConfigMap or a PersistentVolumeClaim"
        for index, volume in enumerate(sequence(mapping(template.get("spec")).get("volumes")))
        if "hostPath" in mapping(volume)
    ]


def run_as_non_root(obj: KubeObject, settings: PolicySettings) -> list[str]:
    found = pod_template(obj)
    if found is None:
        return []
    pod_level = mapping(mapping(found[1].get("spec")).get("securityContext")).get("runAsNonRoot")
    problems = []
    for path, container in containers(obj):
        own = _security(container).get("runAsNonRoot")
        effective = own if own is not None else pod_level  # the container's setting wins
        if effective is not True:
            problems.append(
                f"container {_name(container)!r} ({path}) may run as root: set runAsNonRoot: true "
                "in the pod's or the container's securityContext (and do not set it to false on the container)"
            )
    return problems


def read_only_root_filesystem(obj: KubeObject, settings: PolicySettings) -> list[str]:
    return [
        f"container {_name(container)!r} ({path}) has a writable root filesystem: set "
        "securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it must write"
        for path, container in containers(obj)
        if _security(container).get("readOnlyRootFilesystem") is not True
    ]


def drop_all_capabilities(obj: KubeObject, settings: PolicySettings) -> list[str]:
    problems = []
    for path, container in containers(obj):
        capabilities = mapping(_security(container).get("capabilities"))
        added = list(sequence(capabilities.get("add")))
        if "ALL" not in sequence(capabilities.get("drop")) or added:
            extra = f" and adds {added}" if added else ""
            problems.append(
                f"container {_name(container)!r} ({path}) keeps Linux capabilities{extra}: set "
                'securityContext.capabilities.drop: ["ALL"] and add none'
            )
    return problems


def no_privilege_escalation(obj: KubeObject, settings: PolicySettings) -> list[str]:
    return [
        f"container {_name(container)!r} ({path}) may gain privileges (setuid binaries): set "
        "securityContext.allowPrivilegeEscalation: false"
        for path, container in containers(obj)
        if _security(container).get("privileged") is not True
        and _security(container).get("allowPrivilegeEscalation") is not False
    ]


def _image(container: Mapping[str, Any]) -> str:
    image = container.get("image")
    return image if isinstance(image, str) else ""


def image_pinned(obj: KubeObject, settings: PolicySettings) -> list[str]:
    return [
        f"container {_name(container)!r} ({path}) uses image {_image(container)!r}, which is not pinned: "
        "name a version tag other than latest (e.g. :1.2.3) or a digest (@sha256:...)"
        for path, container in containers(obj)
        if not image_is_pinned(_image(container))
    ]


def allowed_registries(obj: KubeObject, settings: PolicySettings) -> list[str]:
    allowed = settings.allowed_registries
    return [
        f"container {_name(container)!r} ({path}) uses image {_image(container)!r} from a registry not allowed: "
        f"use one of {', '.join(allowed)} (write the registry out: docker.io/library/nginx, not nginx), "
        "or add the registry to platform.policy.allowedRegistries in the blueprint"
        for path, container in containers(obj)
        if not any(_image(container).startswith(f"{registry}/") for registry in allowed)
    ]


def no_cluster_admin_binding(obj: KubeObject, settings: PolicySettings) -> list[str]:
    if obj.kind not in ("RoleBinding", "ClusterRoleBinding"):
        return []
    if mapping(obj.body.get("roleRef")).get("name") != "cluster-admin":
        return []
    return [f"{obj.kind} grants cluster-admin (roleRef.name): bind a Role with only the verbs the subjects need"]


def no_wildcard_rbac(obj: KubeObject, settings: PolicySettings) -> list[str]:
    if obj.kind != "Role" or not in_tenant_namespace(obj):
        return []
    problems = []
    for index, rule in enumerate(sequence(obj.body.get("rules"))):
        rule = mapping(rule)
        wild = [field for field in ("verbs", "resources") if "*" in sequence(rule.get(field))]
        if wild:
            problems.append(
                f"rules[{index}] uses a wildcard in {' and '.join(wild)}: list the verbs and resources explicitly"
            )
    return problems


def no_external_services(obj: KubeObject, settings: PolicySettings) -> list[str]:
    if obj.kind != "Service" or not in_tenant_namespace(obj):
        return []
    service_type = mapping(obj.body.get("spec")).get("type")
    if service_type not in ("LoadBalancer", "NodePort"):
        return []
    return [
        f"spec.type is {service_type}, which exposes a tenant outside the cluster: use ClusterIP "
        "(the platform gateway routes to tenant Services)"
    ]


def required_labels(obj: KubeObject, settings: PolicySettings) -> list[str]:
    label_sets: list[tuple[str, Mapping[str, Any]]] = [("metadata.labels", obj.labels)]
    found = pod_template(obj)
    if found is not None and found[0]:  # a workload: its pods get their labels from the template
        label_sets.append((f"{found[0]}.metadata.labels", mapping(mapping(found[1].get("metadata")).get("labels"))))
    if obj.kind == "CronJob":  # and the Jobs a CronJob creates get theirs from jobTemplate
        job_meta = mapping(mapping(mapping(obj.body.get("spec")).get("jobTemplate")).get("metadata"))
        label_sets.append(("spec.jobTemplate.metadata.labels", mapping(job_meta.get("labels"))))
    problems = []
    for where, labels in label_sets:
        missing = [label for label in REQUIRED_LABELS if label not in labels]
        if missing:
            problems.append(f"{where} lacks {', '.join(missing)}: add the standard app.kubernetes.io labels")
    return problems


def personal_data_governed(obj: KubeObject, settings: PolicySettings) -> list[str]:
    """Personal data kept without a retention period, or without a data subject to erase it by, is the
    worst of the compliance report's findings (ADR 0024): the deploy stops on it."""
    if obj.kind != "PersistentVolumeClaim":
        return []
    problems = []
    annotations = mapping(obj.metadata.get("annotations"))
    for key, value in sorted(annotations.items()):
        if not str(key).startswith(PERSONAL_DATA_ANNOTATION):
            continue
        view, declared = str(key).removeprefix(PERSONAL_DATA_ANNOTATION), parse_personal_data(str(value))
        if "retention" not in declared:
            problems.append(
                f"holds personal data of feature view {view!r} with no retention period ({key}): set "
                "classification.retention on the view in the blueprint"
            )
        if "subject" not in declared:
            problems.append(
                f"holds personal data of feature view {view!r} with no erasure path ({key} names no subject): "
                "mark the entity that is the person subject: true in the blueprint"
            )
    return problems


RESOURCE_RULES: dict[str, ResourceCheck] = {
    "container-resources": container_resources,
    "no-privileged": no_privileged,
    "no-host-namespaces": no_host_namespaces,
    "no-host-path": no_host_path,
    "run-as-non-root": run_as_non_root,
    "read-only-root-filesystem": read_only_root_filesystem,
    "drop-all-capabilities": drop_all_capabilities,
    "no-privilege-escalation": no_privilege_escalation,
    "image-pinned": image_pinned,
    "allowed-registries": allowed_registries,
    "no-cluster-admin-binding": no_cluster_admin_binding,
    "no-wildcard-rbac": no_wildcard_rbac,
    "no-external-services": no_external_services,
    "required-labels": required_labels,
    "personal-data-governed": personal_data_governed,
}
