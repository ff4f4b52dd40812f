"""Alertmanager: routes the alerts Prometheus fires; the ones the platform acts on (the drift alert, for
continuous training) go to the webhooks given in `alert_webhooks`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, standard_labels
from blueprints.schema import MonitoringSettings
from infra import images
from infra.component import SubComponent
from infra.components.monitoring.workload import INSTANCE, single_replica, yaml_text
from infra.k8s import http_probe, metadata, resources, scratch_volume
from services.monitoring import alertmanager_config

__all__ = ["Alertmanager", "AlertmanagerArgs"]


@dataclass(frozen=True)
class AlertmanagerArgs:
    namespace: str
    settings: MonitoringSettings
    alert_webhooks: dict[str, str] = field(default_factory=dict)  # alert name -> URL Alertmanager posts to
    mirror: str | None = None  # platform.imageMirror: pull every image from it


class Alertmanager(SubComponent):
    """Its generated config and the server with its Service."""

    def __init__(self, name: str, args: AlertmanagerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:Alertmanager", name, opts)
        ns = args.namespace
        labels = standard_labels("alertmanager", INSTANCE, "monitoring")
        alertmanager_yml = yaml_text(alertmanager_config(args.alert_webhooks))
        k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata("alertmanager-config", ns, labels),
            data={"alertmanager.yml": alertmanager_yml},
            opts=self.child(),
        )
        single_replica(
            self,
            name,
            ns,
            "alertmanager",
            labels,
            images.PROMETHEUS_UID,
            container={
                "name": "alertmanager",
                "image": images.deployed(images.ALERTMANAGER, args.mirror),
                "args": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
                "ports": [{"name": "http", "containerPort": Ports.ALERTMANAGER}],
                "resources": resources(args.settings.alertmanager),
                "readinessProbe": http_probe("/-/ready", "http"),
                "livenessProbe": http_probe("/-/healthy", "http", failure=6),
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/alertmanager", "readOnly": True},
                    {"name": "data", "mountPath": "/alertmanager"},
                ],
            },
            volumes=[{"name": "config", "configMap": {"name": "alertmanager-config"}}, scratch_volume("data", "256Mi")],
            port=Ports.ALERTMANAGER,
            config=(alertmanager_yml,),
        )
        self.register_outputs({})
