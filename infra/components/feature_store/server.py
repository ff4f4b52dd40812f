"""Feast's own feature server (`feast serve`, one worker) from the platform image, for clients other than
the model servers (which read the online store directly, ADR 0018). An init container runs `feast apply`
first, so a changed repository rolls the pods and is applied before it is served; its Service admits only
the tenant's own pods (tenant.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports
from blueprints.schema import ImageRef, TenantFeatures
from infra import images
from infra.component import SubComponent
from infra.components.feature_store.shared import (
    REPO_DIR,
    SERVER,
    SERVER_COMPONENT,
    feature_server_selector,
    labels,
    repo_mount,
    repo_volume,
    workload_env,
)
from infra.components.tenant import SERVING_SERVICE_ACCOUNT
from infra.k8s import (
    config_hash,
    http_probe,
    metadata,
    resources,
    restricted_container_security,
    restricted_pod_security,
    scratch_volume,
)

__all__ = ["FeatureServer", "FeatureServerArgs"]


@dataclass(frozen=True)
class FeatureServerArgs:
    tenant: str
    namespace: str
    image: ImageRef
    features: TenantFeatures
    repo: dict[str, str]  # the generated repository's files: a change rolls the pods


class FeatureServer(SubComponent):
    """The Deployment (apply, then serve) and its Service."""

    def __init__(self, name: str, args: FeatureServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:FeatureServer", name, opts)
        ns, select = args.namespace, feature_server_selector(args.tenant)
        server_labels = labels(SERVER, SERVER_COMPONENT, args.tenant, args.image)

        def container(container_name: str, args_: list[str], **extra) -> dict:
            return {
                "name": container_name,
                "image": args.image.ref,
                "command": ["mlplat"],
                "args": args_,
                "env": workload_env(),
                "resources": resources(args.features.server.resources),
                "securityContext": restricted_container_security(),
                "volumeMounts": [repo_mount(), {"name": "tmp", "mountPath": "/tmp"}],
                **extra,
            }

        serve = ["features", "serve", "--repo", REPO_DIR, "--host", "0.0.0.0", "--port", str(Ports.FEATURE_SERVER)]
        k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=metadata(SERVER, ns, server_labels),
            spec={
                "replicas": 1,
                "selector": {"matchLabels": select},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    # a changed repository rolls the pods (the init container applies it first)
                    "metadata": {"labels": server_labels, "annotations": config_hash(*args.repo.values())},
                    "spec": {
                        "serviceAccountName": SERVING_SERVICE_ACCOUNT,
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.PLATFORM_UID),
                        "initContainers": [container("apply", ["features", "apply", "--repo", REPO_DIR])],
                        "containers": [
                            container(
                                "feature-server",
                                serve,
                                ports=[{"name": "http", "containerPort": Ports.FEATURE_SERVER}],
                                readinessProbe=http_probe("/health", "http", period=10),
                                livenessProbe=http_probe("/health", "http", period=20, failure=6, initial_delay=30),
                            )
                        ],
                        "volumes": [repo_volume(), scratch_volume("tmp", "256Mi")],
                    },
                },
            },
            opts=self.child(),
        )
        k8s.core.v1.Service(
            f"{name}-server-service",
            metadata=metadata(SERVER, ns, server_labels),
            spec={"selector": select, "ports": [{"name": "http", "port": Ports.FEATURE_SERVER, "targetPort": "http"}]},
            opts=self.child(),
        )
        self.register_outputs({})
