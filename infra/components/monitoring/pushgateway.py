"""The Pushgateway: batch jobs end before any scrape could see them, so they push their metrics here,
and Prometheus scrapes it with `honor_labels` (the pushed job, tenant and model labels are kept)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, standard_labels
from infra import images
from infra.component import SubComponent
from infra.components.monitoring.workload import INSTANCE, single_replica
from infra.k8s import claim_metadata, http_probe

__all__ = ["Pushgateway", "PushgatewayArgs"]


@dataclass(frozen=True)
class PushgatewayArgs:
    namespace: str
    mirror: str | None = None  # platform.imageMirror: pull every image from it


class Pushgateway(SubComponent):
    """A small volume for its persistence file, the server and its Service."""

    def __init__(self, name: str, args: PushgatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:Pushgateway", name, opts)
        ns = args.namespace
        labels = standard_labels("pushgateway", INSTANCE, "monitoring")
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=claim_metadata("pushgateway-data", ns, labels),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "256Mi"}}},
            opts=self.child(),
        )
        single_replica(
            self,
            name,
            ns,
            "pushgateway",
            labels,
            images.PROMETHEUS_UID,
            container={
                "name": "pushgateway",
                "image": images.deployed(images.PUSHGATEWAY, args.mirror),
                # persisted: each job's last success time must survive a restart, or every job looks late
                "args": ["--persistence.file=/data/metrics", f"--web.listen-address=:{Ports.PUSHGATEWAY}"],
                "ports": [{"name": "http", "containerPort": Ports.PUSHGATEWAY}],
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "128Mi"},
                },
                "readinessProbe": http_probe("/-/ready", "http"),
                "livenessProbe": http_probe("/-/healthy", "http", failure=6),
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            },
            volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "pushgateway-data"}}],
            port=Ports.PUSHGATEWAY,
            scrape=False,  # scraped by its own job, with honor_labels (services/monitoring/config.py)
        )
        self.register_outputs({})
