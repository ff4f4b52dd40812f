"""The platform's shared truths: namespaces, object names, labels and ports.

Infra (the Kubernetes objects), services (the standalone processes), the policy rules and the
tests all import this module, so a label or a port is spelled in exactly one place and the
cluster and standalone cannot drift apart.
"""

from __future__ import annotations

__all__ = [
    "PART_OF",
    "MANAGED_BY",
    "LABEL_TENANT",
    "LABEL_MODEL",
    "LABEL_VARIANT",
    "LABEL_TENANT_NAMESPACE",
    "SYSTEM_NAMESPACE",
    "MONITORING_NAMESPACE",
    "RESERVED_NAMESPACES",
    "REQUIRED_LABELS",
    "Ports",
    "NodePorts",
    "standard_labels",
    "selector_labels",
    "tenant_namespace",
    "model_service_name",
    "PERSONAL_DATA_ANNOTATION",
    "personal_data_annotation",
    "parse_personal_data",
]

PART_OF = "mlops-platform"
MANAGED_BY = "pulumi"

# Platform labels. `platform.mlops/tenant` marks tenant namespaces: NetworkPolicies, admission
# bindings and the policy pack select on it.
LABEL_TENANT = "platform.mlops/tenant"
LABEL_MODEL = "platform.mlops/model"
LABEL_VARIANT = "platform.mlops/variant"
LABEL_TENANT_NAMESPACE = "platform.mlops/tenant-namespace"

SYSTEM_NAMESPACE = "mlops-system"
MONITORING_NAMESPACE = "mlops-monitoring"
RESERVED_NAMESPACES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "local-path-storage",
        SYSTEM_NAMESPACE,
        MONITORING_NAMESPACE,
    }
)

# Every object the platform creates carries these (checked by the infra tests and the policy pack).
REQUIRED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)


class Ports:
    """Container and Service ports, shared by the manifests and the standalone supervisor."""

    MLFLOW = 5000
    POSTGRES = 5432
    MODEL_SERVER = 8080
    MODEL_SERVER_GRPC = 8081  # the Open Inference Protocol over gRPC (`mlplat serve --grpc-port`)
    GATE = 8090
    GATEWAY = 8000
    GATEWAY_GRPC = 8001  # the gateway's gRPC listener: routes by the `mlplat-route: <tenant>/<model>` header
    PROMETHEUS = 9090
    ALERTMANAGER = 9093
    PUSHGATEWAY = 9091
    TRAINING_TRIGGER = 8095
    FEATURE_SERVER = 6566  # Feast's feature server (`feast serve`'s default)
    GRAFANA = 3000
    METRICS_SERVER = 10250
    DNS = 53
    LLM_BACKEND = 8100  # llama.cpp's OpenAI-compatible server (one LLM replica)
    LLM_GATEWAY = 8110  # the LLM gateway (OpenAI's API for every tenant)


class NodePorts:
    """Fixed NodePorts of the platform UIs; infra/kind/cluster.yaml maps them to the same host ports
    on 127.0.0.1, so `http://localhost:30500` is the MLflow UI on a kind cluster."""

    MLFLOW = 30500
    GRAFANA = 30300
    PROMETHEUS = 30090
    GATEWAY = 30080
    GATEWAY_GRPC = 30081


def standard_labels(
    name: str,
    instance: str,
    component: str,
    *,
    version: str | None = None,
    tenant: str | None = None,
    model: str | None = None,
) -> dict[str, str]:
    """The `app.kubernetes.io/*` labels plus the platform's own, for an object's metadata."""
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if version:
        labels["app.kubernetes.io/version"] = version
    if tenant:
        labels[LABEL_TENANT] = tenant
    if model:
        labels[LABEL_MODEL] = model
    return labels


def selector_labels(name: str, instance: str) -> dict[str, str]:
    """The stable subset used in selectors (selectors are immutable, so no version in them)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}


def tenant_namespace(tenant: str) -> str:
    """A tenant owns one namespace, named after it."""
    return tenant


def model_service_name(model: str) -> str:
    """The Deployment and Service of a served model are named after the model."""
    return model


# A volume holding personal data says so, per feature view, in one annotation each:
#     personal-data.platform.mlops/<view>: "purpose=fraud-prevention;retention=400d;subject=customer"
# written by the FeatureStore component from the blueprint's classification (ADR 0024) and read by the
# deploy gate's `personal-data-governed` rule; a part the blueprint leaves out is absent from the value.
PERSONAL_DATA_ANNOTATION = "personal-data.platform.mlops/"


def personal_data_annotation(
    view: str, *, purpose: str | None, retention: str | None, subjects: list[str]
) -> tuple[str, str]:
    """(annotation key, value) declaring one personal feature view."""
    parts = {"purpose": purpose, "retention": retention, "subject": ",".join(subjects) or None}
    return PERSONAL_DATA_ANNOTATION + view, ";".join(f"{k}={v}" for k, v in parts.items() if v)


def parse_personal_data(value: str) -> dict[str, str]:
    """The declaration in one annotation's value: {"purpose": ..., "retention": ..., "subject": ...}."""
    pairs = (part.split("=", 1) for part in value.split(";") if "=" in part)
    return {key.strip(): item.strip() for key, item in pairs if item.strip()}
