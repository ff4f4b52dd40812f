"""ModelService: one served model: Deployment, Service, HPA and (when min replicas > 1) a PDB.

The pod runs `mlplat serve models:/<model>@<alias>` from the platform image: the same command a
user runs on a laptop. It answers REST on port 8080 (`http`) and the Open Inference Protocol's gRPC
on 8081 (`grpc`, ADR 0021); the Service exposes both, the readiness probe asks gRPC's health check,
liveness and start-up ask HTTP, so a pod is in rotation only while both answer.
Champion/challenger split and shadow traffic happen inside the server (app-level canary, see the
ADR), so one Deployment serves every variant and no service mesh is needed. The HPA owns the
replica count after creation (`ignore_changes` on spec.replicas), so a later `pulumi up` never
scales a busy model back down.

Pulumi does not wait for the Deployment or its Service to be ready (`pulumi.com/skipAwait`): a model server is ready
only once it serves its champion, and a new platform has none until a model is trained and promoted
(`mlplat demo`), so waiting would fail the first `pulumi up` of every fresh cluster. The kind target
waits for the server to start instead (services/deploy/targets/kind.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, model_service_name, selector_labels, standard_labels
from blueprints.schema import ImageRef
from blueprints.schema import Model as ModelSpec
from infra import images
from infra.components.feature_store import credentials_env as feature_credentials_env
from infra.components.registry_access import SERVING_CREDENTIALS, credentials_env
from infra.components.tenant import SERVING_SERVICE_ACCOUNT
from infra.k8s import (
    SCRATCH,
    config_hash,
    grpc_probe,
    http_probe,
    metadata,
    resources,
    restricted_container_security,
    restricted_pod_security,
    scrape_annotations,
    scratch_volume,
)
from services.model_server.command import serve_args
from services.model_server.server import ONLINE_STORE_ENV

__all__ = ["ModelService", "ModelServiceArgs", "serve_command", "LIVE_PATH", "METRICS_PATH"]

LIVE_PATH = "/v2/health/live"
METRICS_PATH = "/metrics"
PRE_STOP_SECONDS = 5  # how long a stopping pod keeps serving while it leaves the endpoints (below)


FEATURES_DIR = "/etc/mlplat/features"  # the serving spec of a model that reads a feature service


def serve_command(model: ModelSpec) -> list[str]:
    """The `mlplat serve` arguments for a model: the same CLI standalone and laptops use."""
    return serve_args(
        [model],
        "0.0.0.0",
        Ports.MODEL_SERVER,
        features_file=f"{FEATURES_DIR}/serving.json",
        grpc_port=Ports.MODEL_SERVER_GRPC,
    )


@dataclass(frozen=True)
class ModelServiceArgs:
    tenant: str
    namespace: str
    model: ModelSpec
    image: ImageRef
    tracking_uri: pulumi.Input[str]
    # A model that reads a feature service: its serving spec (services/features/spec.py, JSON) and the
    # online store's URL, with the password as `$(FEAST_DB_PASSWORD)` from the tenant's feast-credentials.
    feature_spec: str | None = None
    online_store_url: str | None = None


class ModelService(pulumi.ComponentResource):
    """Everything that serves one model in its tenant's namespace."""

    service_name: str

    def __init__(self, name: str, args: ModelServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:ModelService", name, None, opts)
        model, ns = args.model, args.namespace
        app = model_service_name(model.name)
        labels = standard_labels(
            app, args.tenant, "model-server", version=args.image.tag, tenant=args.tenant, model=model.name
        )
        select = selector_labels(app, args.tenant)
        child = pulumi.ResourceOptions(parent=self)

        container = {
            "name": "model-server",
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": serve_command(model),
            "env": [
                {"name": "MLFLOW_TRACKING_URI", "value": args.tracking_uri},
                *credentials_env(SERVING_CREDENTIALS),  # read-only in the registry (ADR 0017)
                {"name": "MLPLAT_MODEL_CACHE", "value": f"{SCRATCH}/models"},
                {"name": "HOME", "value": "/tmp"},
            ],
            "ports": [
                {"name": "http", "containerPort": Ports.MODEL_SERVER},
                {"name": "grpc", "containerPort": Ports.MODEL_SERVER_GRPC},
            ],
            "resources": resources(model.resources),
            "securityContext": restricted_container_security(),
            # Ready only once the models are loaded, asked over gRPC (its health check reports SERVING
            # exactly when /v2/health/ready is 200), so both ports are probed; live as long as the
            # process answers HTTP.
            "readinessProbe": grpc_probe(Ports.MODEL_SERVER_GRPC, period=5),
            "livenessProbe": http_probe(LIVE_PATH, "http", period=10, failure=6),
            "startupProbe": http_probe(LIVE_PATH, "http", period=5, failure=24),
            # A deleted pod leaves the Service's endpoints a moment after it is told to stop: until every
            # node's kube-proxy has caught up, new connections still reach it. Serving on for 5 s before
            # the SIGTERM means those connections are answered instead of refused (the gateway gave 502s
            # for them on kind, under load). Kubernetes' own sleep action: no shell in the image needed.
            "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
        volumes = [scratch_volume("tmp", "2Gi")]
        if args.feature_spec is not None:
            if not args.online_store_url:
                raise ValueError(f"model {model.name!r} reads a feature service: give its online store's URL")
            # entity keys in, features from the tenant's online store (ADR 0018)
            k8s.core.v1.ConfigMap(
                f"{name}-features",
                metadata=metadata(f"{app}-features", ns, labels),
                data={"serving.json": args.feature_spec},
                opts=child,
            )
            container["env"] += [
                *feature_credentials_env(),
                {"name": ONLINE_STORE_ENV, "value": args.online_store_url},
            ]
            container["volumeMounts"].append({"name": "features", "mountPath": FEATURES_DIR, "readOnly": True})
            volumes.append({"name": "features", "configMap": {"name": f"{app}-features"}})
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(app, ns, labels, {"pulumi.com/skipAwait": "true"}),
            spec={
                "replicas": model.replicas.min,
                "selector": {"matchLabels": select},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            **scrape_annotations(Ports.MODEL_SERVER),
                            # a changed feature spec rolls the pods (it is read at start)
                            **(config_hash(args.feature_spec) if args.feature_spec else {}),
                        },
                    },
                    "spec": {
                        "serviceAccountName": SERVING_SERVICE_ACCOUNT,
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.PLATFORM_UID),
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            # Pulumi waits for a Service to have ready endpoints: not before a champion exists (see above)
            metadata=metadata(app, ns, labels, {"pulumi.com/skipAwait": "true"}),
            spec={
                "selector": select,
                "ports": [
                    {"name": "http", "port": Ports.MODEL_SERVER, "targetPort": "http"},
                    # h2c: gRPC over cleartext HTTP/2, for proxies that read appProtocol
                    {
                        "name": "grpc",
                        "port": Ports.MODEL_SERVER_GRPC,
                        "targetPort": "grpc",
                        "appProtocol": "kubernetes.io/h2c",
                    },
                ],
            },
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=metadata(app, ns, labels),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                "minReplicas": model.replicas.min,
                "maxReplicas": model.replicas.max,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": model.replicas.target_cpu_utilization,
                            },
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        if model.replicas.min > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=metadata(app, ns, labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": select}},
                opts=child,
            )
        self.service_name = app
        self.register_outputs({"service": app, "namespace": ns})
