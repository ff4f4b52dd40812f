"""kube-state-metrics: the state of the objects the quota and backup alerts read, and nothing else (small
memory, small RBAC)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import standard_labels
from infra import images
from infra.component import SubComponent
from infra.components.monitoring.prometheus import KSM_PORT
from infra.components.monitoring.workload import INSTANCE, single_replica
from infra.k8s import http_probe, metadata

__all__ = ["KubeStateMetrics", "KubeStateMetricsArgs"]


@dataclass(frozen=True)
class KubeStateMetricsArgs:
    namespace: str
    mirror: str | None = None  # platform.imageMirror: pull every image from it


class KubeStateMetrics(SubComponent):
    """Service account, read-only RBAC on quotas, namespaces and CronJobs, the exporter and its Service."""

    def __init__(self, name: str, args: KubeStateMetricsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:KubeStateMetrics", name, opts)
        ns = args.namespace
        labels = standard_labels("kube-state-metrics", INSTANCE, "monitoring")
        # The RBAC objects' Pulumi names predate this component ("<monitoring>-ksm-*"): aliased, not replaced.
        former = name.removesuffix("-kube-state-metrics") + "-ksm"
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=metadata("kube-state-metrics", ns, labels),
            automount_service_account_token=True,  # it lists objects through the API
            opts=self.child(former_name=f"{former}-sa"),
        )
        k8s.rbac.v1.ClusterRole(
            f"{name}-role",
            metadata=metadata("mlops-kube-state-metrics", None, labels),
            rules=[
                {"apiGroups": [""], "resources": ["resourcequotas", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["list", "watch"]},  # backup alert
            ],
            opts=self.child(former_name=f"{former}-role"),
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-binding",
            metadata=metadata("mlops-kube-state-metrics", None, labels),
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "mlops-kube-state-metrics",
            },
            subjects=[{"kind": "ServiceAccount", "name": "kube-state-metrics", "namespace": ns}],
            opts=self.child(former_name=f"{former}-binding"),
        )
        single_replica(
            self,
            name,
            ns,
            "kube-state-metrics",
            labels,
            images.PROMETHEUS_UID,
            container={
                "name": "kube-state-metrics",
                "image": images.deployed(images.KUBE_STATE_METRICS, args.mirror),
                "args": [
                    f"--port={KSM_PORT}",
                    "--telemetry-port=8081",
                    "--resources=resourcequotas,namespaces,cronjobs",
                ],
                "ports": [
                    {"name": "http", "containerPort": KSM_PORT},
                    {"name": "telemetry", "containerPort": 8081},
                ],
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "128Mi"},
                },
                "readinessProbe": http_probe("/readyz", "telemetry"),
                "livenessProbe": http_probe("/livez", "http"),
            },
            volumes=[],
            service_account="kube-state-metrics",
            port=KSM_PORT,
            scrape=False,  # scraped by its own job, which keeps the objects' namespace labels
        )
        self.register_outputs({})
