"""TrainingTrigger: the continuous-training trigger, in the platform namespace.

One replica of `mlplat trigger serve --launcher kubernetes` (services/training/service.py):
Alertmanager posts the drift alert to it (monitoring.py routes it here), it runs the models' training
schedules, creates one Job per run from the model's template (model_training.py), and sends each new
version through the promotion gate to the challenger alias. One replica, `Recreate`: the trigger is
where "one run per model at a time" is decided (it also asks the API server for Jobs still running, so
a restarted trigger does not start a second one).

It gets what it needs and no more:
- a ServiceAccount whose token is mounted, bound in each tenant namespace that has trained models to a
  Role that may read the Job templates (CronJobs) and create, read and delete Jobs; nothing else,
  nowhere else;
- the training targets as JSON in a ConfigMap (services/training/targets.py; a custom blueprint is not
  in the image);
- a small volume for its audit log (every trigger, run and gate decision, hash-chained).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import SYSTEM_NAMESPACE, Ports, selector_labels, standard_labels
from blueprints.schema import Blueprint, ImageRef
from infra import images
from infra.components.registry_access import credentials_env, user_secret
from infra.k8s import (
    claim_metadata,
    http_probe,
    metadata,
    restricted_container_security,
    restricted_pod_security,
    scrape_annotations,
    scratch_volume,
)
from services.registry.access import GATE
from services.training.targets import targets_to_json, training_targets

__all__ = [
    "TrainingTrigger",
    "TrainingTriggerArgs",
    "NAME",
    "LAUNCHER_RULES",
    "alerts_url",
    "trigger_selector",
]

NAME = "training-trigger"
INSTANCE = "platform"
AUDIT_DIR = "/var/lib/mlplat/audit"
# What the trigger may do in a tenant namespace with trained models: read the Job templates, run Jobs.
LAUNCHER_RULES: list[dict] = [
    {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch", "delete"]},
]


def alerts_url(namespace: str = SYSTEM_NAMESPACE) -> str:
    """Where Alertmanager posts the drift alert."""
    return f"http://{NAME}.{namespace}.svc:{Ports.TRAINING_TRIGGER}/alerts"


def trigger_selector() -> dict[str, str]:
    return selector_labels(NAME, INSTANCE)


@dataclass(frozen=True)
class TrainingTriggerArgs:
    blueprint: Blueprint
    image: ImageRef
    tracking_uri: pulumi.Input[str]
    namespace: str = SYSTEM_NAMESPACE


class TrainingTrigger(pulumi.ComponentResource):
    """The trigger's Deployment and Service, its identity, its RBAC in the tenants, its config and audit."""

    def __init__(self, name: str, args: TrainingTriggerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:TrainingTrigger", name, None, opts)
        ns = args.namespace
        labels = standard_labels(NAME, INSTANCE, NAME, version=args.image.tag)
        child = pulumi.ResourceOptions(parent=self)
        targets = training_targets(args.blueprint)

        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=metadata(NAME, ns, labels),
            automount_service_account_token=True,  # it creates Jobs through the API
            opts=child,
        )
        for tenant_ns in sorted({t.namespace for t in targets}):
            tenant_labels = standard_labels(NAME, tenant_ns, "rbac", tenant=tenant_ns)
            k8s.rbac.v1.Role(
                f"{name}-role-{tenant_ns}",
                metadata=metadata("training-launcher", tenant_ns, tenant_labels),
                rules=LAUNCHER_RULES,
                opts=child,
            )
            k8s.rbac.v1.RoleBinding(
                f"{name}-binding-{tenant_ns}",
                metadata=metadata("training-launcher", tenant_ns, tenant_labels),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "training-launcher"},
                subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": ns}],
                opts=child,
            )
        k8s.core.v1.ConfigMap(
            f"{name}-targets",
            metadata=metadata("training-targets", ns, labels),
            data={"targets.json": targets_to_json(targets)},
            opts=child,
        )
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-audit",
            metadata=claim_metadata("training-audit", ns, labels),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "256Mi"}}},
            opts=child,
        )
        container = {
            "name": NAME,
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": [
                "trigger",
                "serve",
                "--targets",
                "/etc/training/targets.json",
                "--launcher",
                "kubernetes",
                "--host",
                "0.0.0.0",
                "--port",
                str(Ports.TRAINING_TRIGGER),
                "--audit-log",
                f"{AUDIT_DIR}/promotions.jsonl",
            ],
            "env": [
                {"name": "MLFLOW_TRACKING_URI", "value": args.tracking_uri},
                *credentials_env(user_secret(GATE)),  # the gate's user: it moves challenger aliases
                {"name": "HOME", "value": "/tmp"},
            ],
            "ports": [{"name": "http", "containerPort": Ports.TRAINING_TRIGGER}],
            "resources": {
                "requests": {"cpu": "50m", "memory": "192Mi"},
                "limits": {"cpu": "500m", "memory": "512Mi"},
            },
            "securityContext": restricted_container_security(),
            "readinessProbe": http_probe("/healthz", "http"),
            "livenessProbe": http_probe("/healthz", "http", failure=6),
            "volumeMounts": [
                {"name": "targets", "mountPath": "/etc/training", "readOnly": True},
                {"name": "audit", "mountPath": AUDIT_DIR},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        select = trigger_selector()
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(NAME, ns, labels),
            spec={
                "replicas": 1,
                "strategy": {"type": "Recreate"},  # never two triggers: each decides "one run per model"
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {"labels": labels, "annotations": scrape_annotations(Ports.TRAINING_TRIGGER)},
                    "spec": {
                        "serviceAccountName": NAME,
                        "automountServiceAccountToken": True,
                        "securityContext": restricted_pod_security(images.PLATFORM_UID),
                        "containers": [container],
                        "volumes": [
                            {"name": "targets", "configMap": {"name": "training-targets"}},
                            {"name": "audit", "persistentVolumeClaim": {"claimName": "training-audit"}},
                            scratch_volume("tmp", "256Mi"),
                        ],
                    },
                },
            },
            opts=child,
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(NAME, ns, labels),
            spec={
                "selector": select,
                "ports": [{"name": "http", "port": Ports.TRAINING_TRIGGER, "targetPort": "http"}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        self.alerts_url = alerts_url(ns)
        self.register_outputs({"alerts_url": self.alerts_url})
