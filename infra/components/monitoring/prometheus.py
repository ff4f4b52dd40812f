"""Prometheus: finds the platform's pods through the Kubernetes API, loads the shared rules, alerts to
Alertmanager, signs in to each registry's /metrics, and stores its TSDB on a volume.

It gets a ClusterRole to list and watch pods, services and endpoints, and nothing more. Its config and
rules come from `services.monitoring`, the same code standalone uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import NodePorts, Ports, standard_labels
from blueprints.schema import MonitoringSettings
from infra import images
from infra.component import SubComponent
from infra.components.monitoring.workload import INSTANCE, single_replica, yaml_text
from infra.components.registry_access import monitoring_secret
from infra.k8s import claim_metadata, http_probe, metadata, resources
from services.monitoring import alert_rules, prometheus_config
from services.monitoring.config import RULES_FILE

__all__ = ["KSM_PORT", "Prometheus", "PrometheusArgs"]

KSM_PORT = 8080  # kube-state-metrics' metrics port, which Prometheus scrapes
REGISTRY_SECRETS = "/etc/prometheus/registries"  # one folder per registry: its monitoring user's password


@dataclass(frozen=True)
class PrometheusArgs:
    namespace: str
    settings: MonitoringSettings
    # registry instance -> its namespace: Prometheus signs in to each registry's /metrics with the
    # password RegistryAccess puts in `registry-monitoring-<instance>` here (ADR 0017)
    registries: dict[str, str] = field(default_factory=dict)
    mirror: str | None = None  # platform.imageMirror: pull every image from it


class Prometheus(SubComponent):
    """Service account and its read-only RBAC, config, rules, a data volume, the server and its Service."""

    def __init__(self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:Prometheus", name, opts)
        ns, settings = args.namespace, args.settings
        labels = standard_labels("prometheus", INSTANCE, "monitoring")
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=metadata("prometheus", ns, labels),
            automount_service_account_token=True,  # it reads the Kubernetes API for discovery
            opts=self.child(),
        )
        k8s.rbac.v1.ClusterRole(
            f"{name}-role",
            metadata=metadata("mlops-prometheus", None, labels),
            rules=[
                {"apiGroups": [""], "resources": ["pods", "services", "endpoints"], "verbs": ["get", "list", "watch"]}
            ],
            opts=self.child(),
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-binding",
            metadata=metadata("mlops-prometheus", None, labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "mlops-prometheus"},
            subjects=[{"kind": "ServiceAccount", "name": "prometheus", "namespace": ns}],
            opts=self.child(),
        )
        prometheus_yml = yaml_text(
            prometheus_config(
                "kubernetes",
                alertmanagers=[f"alertmanager.{ns}.svc:{Ports.ALERTMANAGER}"],
                rules_dir="/etc/prometheus/rules",
                kube_state_metrics=f"kube-state-metrics.{ns}.svc:{KSM_PORT}",
                pushgateway=f"pushgateway.{ns}.svc:{Ports.PUSHGATEWAY}",
                registry_passwords={
                    namespace: f"{REGISTRY_SECRETS}/{instance}/password"
                    for instance, namespace in args.registries.items()
                },
            )
        )
        rules_yml = yaml_text(alert_rules(settings))
        k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata("prometheus-config", ns, labels),
            data={"prometheus.yml": prometheus_yml},
            opts=self.child(),
        )
        k8s.core.v1.ConfigMap(
            f"{name}-rules",
            metadata=metadata("prometheus-rules", ns, labels),
            data={RULES_FILE: rules_yml},
            opts=self.child(),
        )
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=claim_metadata("prometheus-data", ns, labels),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(settings.storage)}}},
            opts=self.child(),
        )
        single_replica(
            self,
            name,
            ns,
            "prometheus",
            labels,
            images.PROMETHEUS_UID,
            container={
                "name": "prometheus",
                "image": images.deployed(images.PROMETHEUS, args.mirror),
                "args": [
                    "--config.file=/etc/prometheus/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    f"--storage.tsdb.retention.time={settings.retention}",
                    "--web.enable-lifecycle",
                ],
                "ports": [{"name": "http", "containerPort": Ports.PROMETHEUS}],
                "resources": resources(settings.prometheus),
                "readinessProbe": http_probe("/-/ready", "http"),
                "livenessProbe": http_probe("/-/healthy", "http", failure=6),
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
                    {"name": "rules", "mountPath": "/etc/prometheus/rules", "readOnly": True},
                    {"name": "data", "mountPath": "/prometheus"},
                    *(
                        {"name": f"registry-{i}", "mountPath": f"{REGISTRY_SECRETS}/{i}", "readOnly": True}
                        for i in sorted(args.registries)
                    ),
                ],
            },
            volumes=[
                {"name": "config", "configMap": {"name": "prometheus-config"}},
                {"name": "rules", "configMap": {"name": "prometheus-rules"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "prometheus-data"}},
                *(
                    {"name": f"registry-{instance}", "secret": {"secretName": monitoring_secret(instance)}}
                    for instance in sorted(args.registries)
                ),
            ],
            service_account="prometheus",
            port=Ports.PROMETHEUS,
            node_port=NodePorts.PROMETHEUS,
            config=(prometheus_yml, rules_yml),
        )
        self.url = f"http://prometheus.{ns}.svc:{Ports.PROMETHEUS}"
        self.register_outputs({"url": self.url})
