"""Kubernetes objects as the policy rules see them, whichever gate hands them over.

The deploy pack receives Pulumi resources: a type token (`kubernetes:apps/v1:Deployment`) and the
resource's inputs (camelCase Kubernetes fields), possibly wrapped in pulumi-policy's proxy that
raises when a rule reads a value unknown during preview. `mlplat policy check` reads plain YAML
with `apiVersion` and `kind`. `KubeObject` is the one shape both become, so a rule is written once.

Rules read fields through `mapping()` and `sequence()`, which accept plain dicts and lists as well
as the proxy's Mapping and Sequence types, and turn a wrongly typed field (a string where a list
belongs) into an empty one instead of a crash: a malformed manifest is for the API server's schema
validation to reject, and the rules must never fall over on one.

Also here, because the deploy rules and the admission policies must agree on them:
- where a pod spec lives in each workload kind (`pod_template`), and all its containers;
- which namespaces belong to tenants (`is_tenant_namespace`);
- label selector matching; the image-reference patterns the pinning rule uses in Python and CEL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from blueprints.naming import RESERVED_NAMESPACES

__all__ = [
    "KubeObject",
    "WORKLOAD_KINDS",
    "POD_TEMPLATE_PATHS",
    "DIGEST_PATTERN",
    "TAG_PATTERN",
    "from_pulumi",
    "from_manifest",
    "mapping",
    "sequence",
    "pod_template",
    "containers",
    "is_tenant_namespace",
    "in_tenant_namespace",
    "selector_matches",
    "image_is_pinned",
]

# Where each kind keeps the pod template it runs, as a path of keys. A Pod is its own template.
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_KINDS = tuple(POD_TEMPLATE_PATHS)

# An image pinned by digest ends in `@sha256:<64 hex>`; one pinned by tag has no `@` and ends in
# `:<tag>`, where a tag holds no `/` (so the port in `registry:5000/app` is not mistaken for one).
# Both patterns are used as they are by Python's `re.search` and by CEL's `matches()` (RE2 syntax).
DIGEST_PATTERN = "@sha256:[0-9a-f]{64}$"
TAG_PATTERN = "^[^@]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

# Provider resources that are not Kubernetes objects themselves but create them (each object they
# create is checked on its own).
_NOT_OBJECTS = frozenset({"yaml", "helm.sh", "kustomize"})
_TOKEN = re.compile(r"^kubernetes:(?P<group>[a-z0-9.-]+)/(?P<version>v[0-9a-z]+):(?P<kind>[A-Za-z]+)$")


@dataclass(frozen=True)
class KubeObject:
    """One Kubernetes object: its apiVersion and kind, its body, and where it came from."""

    api_version: str
    kind: str
    body: Mapping[str, Any]
    source: str = ""  # a file and document number, or a Pulumi URN: where a reader finds it

    @property
    def metadata(self) -> Mapping[str, Any]:
        return mapping(self.body.get("metadata"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.metadata.get("generateName") or "")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def labels(self) -> Mapping[str, Any]:
        return mapping(self.metadata.get("labels"))

    def describe(self) -> str:
        """`Deployment/fraud/fraud-scorer`, `Namespace/fraud`, `Pod/web` (no namespace given)."""
        return "/".join(part for part in (self.kind, self.namespace, self.name) if part)


def from_pulumi(resource_type: str, props: Mapping[str, Any], urn: str = "") -> KubeObject | None:
    """A Pulumi resource as a KubeObject; None for anything that is not a Kubernetes object.

    The type token is the authority for apiVersion and kind (`kubernetes:core/v1:Pod` is `v1`,
    `Pod`); providers, components and the `yaml`, `helm.sh` and `kustomize` resources return None.
    """
    match = _TOKEN.match(resource_type)
    if not match or match["group"] in _NOT_OBJECTS:
        return None
    group, version = match["group"], match["version"]
    api_version = version if group == "core" else f"{group}/{version}"
    return KubeObject(api_version, match["kind"], props, urn)


def from_manifest(document: Any, source: str = "") -> KubeObject:
    """A parsed YAML document as a KubeObject; ValueError (naming the fix) when it is not one."""
    if not isinstance(document, Mapping):
        raise ValueError(f"not a Kubernetes object (a {type(document).__name__}, not a mapping)")
    api_version, kind = document.get("apiVersion"), document.get("kind")
    missing = [key for key, value in (("apiVersion", api_version), ("kind", kind)) if not isinstance(value, str)]
    if missing:
        raise ValueError(f"not a Kubernetes object: {' and '.join(missing)} missing; every document needs both")
    if not isinstance(document.get("metadata"), Mapping):
        raise ValueError(f"{kind} has no metadata mapping: give it at least metadata.name")
    return KubeObject(api_version, kind, document, source)


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def sequence(value: Any) -> Sequence[Any]:
    return value if isinstance(value, Sequence) and not isinstance(value, str | bytes) else ()


def pod_template(obj: KubeObject) -> tuple[str, Mapping[str, Any]] | None:
    """(path, template) of the pod an object runs: `spec.template` of a Deployment, the Pod itself."""
    path = POD_TEMPLATE_PATHS.get(obj.kind)
    if path is None:
        return None
    node: Mapping[str, Any] = obj.body
    for key in path:
        node = mapping(node.get(key))
    return ".".join(path), node


def containers(obj: KubeObject) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, container) of every container and init container in the object's pod template."""
    found = pod_template(obj)
    if found is None:
        return
    path, template = found
    spec_path = f"{path}.spec" if path else "spec"
    spec = mapping(template.get("spec"))
    for field in ("initContainers", "containers"):
        for index, container in enumerate(sequence(spec.get(field))):
            yield f"{spec_path}.{field}[{index}]", mapping(container)


def is_tenant_namespace(namespace: str) -> bool:
    """A namespace belongs to a tenant unless the platform or Kubernetes reserves it.

    The blueprint schema refuses tenants named like a reserved namespace, so for the objects the
    program creates this is exact. At admission the bindings select the `platform.mlops/tenant`
    label instead, which the Tenant component sets on every tenant namespace.
    """
    return bool(namespace) and namespace not in RESERVED_NAMESPACES and not namespace.startswith("kube-")


def in_tenant_namespace(obj: KubeObject) -> bool:
    """A namespaced object without a namespace is a team's manifest, applied into its own namespace."""
    return not obj.namespace or is_tenant_namespace(obj.namespace)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Kubernetes label selector semantics (matchLabels and matchExpressions); an empty selector
    matches everything, as it does for a PodDisruptionBudget or a NetworkPolicy."""
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in sequence(selector.get("matchExpressions")):
        expression = mapping(expression)
        key, operator = expression.get("key"), expression.get("operator")
        values = list(sequence(expression.get("values")))
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def image_is_pinned(image: str) -> bool:
    """Pinned by digest, or by a tag other than `latest`."""
    if re.search(DIGEST_PATTERN, image):
        return True
    return bool(re.search(TAG_PATTERN, image)) and not image.endswith(":latest")
